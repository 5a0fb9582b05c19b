// first_texture — learn a generative ConvNet from one texture image, then synthesize new textures.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <string>

int main(int argc, char** argv) {  // first_texture IMAGE OUT_PREFIX [SIZE [ITERATIONS_PER_LAYER]]
  using namespace gconvnet;
  if (argc < 3) return 1;
  const Index size = argc > 3 ? std::stol(argv[3]) : 128, iterations = argc > 4 ? std::stol(argv[4]) : 260;
  Batch<float> observed = as_batch(io::resize_image(io::load_image<float>(argv[1]), size, size));
  const std::vector<double> means = channel_means(observed);  // learned: intensities minus their means
  subtract_channel_means(observed, means);

  // p(I; w) ∝ exp(f(I; w)) q(I), f a three-layer ConvNet, learned by Algorithm 1 one layer at a time.
  DynamicModel<float> model(shape_of(observed), parse_layers<float>("conv:64:15:3:2,relu,conv:32:5:1:2,relu,"
                                                                    "conv:30:3:1:2,relu"));
  std::mt19937_64 engine(2016);
  initialize_normal(model, engine, 0.01, 0.0);
  LearningOptions options{3, {0.6, 4, 1.0}};  // 3 chains; per iteration 4 Langevin steps of size 0.6, sigma 1
  MleLearner learner(model, observed, options, 2016);
  for (Index t = 0; t < learner.num_stages() * iterations; ++t) {
    learner.set_stage(t / iterations);  // a new stage adds a layer, restarts the chains, halves eta
    learner.step();                     // Langevin on the chains, then w += eta (H_obs - H_syn)
  }
  Batch<float> synthesized = learner.synthesized();  // the chains: samples of the learned model
  add_channel_means(synthesized, means);
  for (Index n = 0; n < batch_size(synthesized); ++n)  // OUT_PREFIX0.png, OUT_PREFIX1.png, OUT_PREFIX2.png
    io::save_png(image_of(synthesized, n), argv[2] + std::to_string(n) + ".png");
}
