// Layer growing (Sec. 8): stage boundaries, weights kept bit for bit when growing, frozen layers,
// chains reset or kept (and started from N(0, σ²) noise at σ ≠ 1), the learning rate per stage.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/learning/stages.hpp>

#include "learning_helpers.hpp"

using namespace gconvnet;
using namespace learning_test;

namespace {

using Net = EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>;

Net make_net() {
  return Net(Shape{1, 10, 10}, Conv<double>(4, 3).padding(1), ReLU<double>{}, Conv<double>(3, 3).padding(1), ReLU<double>{},
             Conv<double>(2, 3), ReLU<double>{});
}

Batch<double> observed_images(std::mt19937_64& engine) {
  Batch<double> b = make_batch<double>(Shape{1, 10, 10}, 2);
  fill_standard_normal(engine, b);
  as_vector(b) *= 3.0;
  return b;
}

// Parameters of layers [begin, end) as one vector.
Vector<double> layer_parameters(Net& m, Index begin, Index end) {
  std::vector<double> all;
  for (const auto& p : m.parameters())
    if (p.layer >= begin && p.layer < end) all.insert(all.end(), p.data, p.data + p.size());
  return Eigen::Map<Vector<double>>(all.data(), static_cast<Index>(all.size()));
}

bool bit_equal(const Vector<double>& a, const Vector<double>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

LearningOptions fast_options() {
  LearningOptions o;
  o.chains = 3;
  o.langevin = {0.3, 3, 1.0};
  o.optimizer.learning_rate = 0.01;
  return o;
}

}  // namespace

TEST_CASE("stage_depths ends a stage after each conv's nonlinearity and pooling layers", "[stages]") {
  auto net = make_net();
  CHECK(stage_depths(net) == std::vector<Index>{2, 4, 6});
  DynamicModel<float> pooled(Shape{1, 16, 16}, parse_layers<float>("conv:4:3:1:1,relu,maxpool:2,conv:3:3,relu,fc:1"));
  CHECK(stage_depths(pooled) == std::vector<Index>{3, 5, 6});
  auto proto = make_prototype<double>(Shape{1, 5, 5}, 2);
  CHECK(stage_depths(proto) == std::vector<Index>{2});
  CHECK(stage_of_depth(pooled, 5) == 1);
  CHECK(stage_of_depth(pooled, 4) == -1);
}

TEST_CASE("growing keeps the learned weights bit for bit, chains restart, eta scales per stage", "[stages]") {
  std::mt19937_64 engine(4);
  auto net = make_net();
  initialize_normal(net, engine, 0.1);
  const Batch<double> observed = observed_images(engine);
  LearningOptions options = fast_options();
  options.chain_init = LearningOptions::ChainInit::noise;
  MleLearner learner(net, observed, options, 11);
  REQUIRE(learner.num_stages() == 3);
  CHECK(learner.stage() == 0);
  CHECK(net.depth() == 2);
  CHECK(learner.learning_rate() == 0.01);

  const Vector<double> untouched_upper = layer_parameters(net, 2, 6);
  for (int t = 0; t < 5; ++t) learner.step();
  // Stage 0 learns layer 0 only; the inactive layers are not touched (no decay either).
  CHECK(bit_equal(layer_parameters(net, 2, 6), untouched_upper));

  const Vector<double> all_before = flat_parameters(net);
  const Batch<double> chains_before = learner.synthesized();
  learner.set_stage(1);
  CHECK(bit_equal(flat_parameters(net), all_before));  // nothing learned is lost at the moment of growing
  CHECK(net.depth() == 4);
  CHECK(learner.learning_rate() == 0.005);
  CHECK_FALSE(same_batch(learner.synthesized(), chains_before));  // new noise chains
  CHECK(batch_size(learner.synthesized()) == 3);

  const Vector<double> lower = layer_parameters(net, 0, 2);
  const IterationStats s = learner.step();
  CHECK(s.stage == 1);
  CHECK(s.iteration == 5);
  CHECK(s.learning_rate == 0.005);
  CHECK(s.gradient_norm.size() == 2);     // two conv layers active
  CHECK(s.active_observed.size() == 2);   // two ReLUs
  CHECK(s.active_synthesized.size() == 2);
  CHECK_FALSE(bit_equal(layer_parameters(net, 0, 2), lower));  // lower layers keep learning by default

  learner.set_stage(2);
  CHECK(learner.learning_rate() == 0.0025);
  CHECK(net.depth() == 6);
  learner.set_stage(2);  // same stage: nothing happens
  CHECK(learner.stage() == 2);
  CHECK_THROWS_AS(learner.set_stage(3), Error);
  CHECK_THROWS_AS(learner.set_stage(-1), Error);
}

TEST_CASE("frozen lower layers do not move and chains can be kept across stages", "[stages]") {
  std::mt19937_64 engine(5);
  auto net = make_net();
  initialize_normal(net, engine, 0.1);
  const Batch<double> observed = observed_images(engine);
  LearningOptions options = fast_options();
  options.freeze_lower_layers = true;
  options.reset_chains_on_grow = false;
  MleLearner learner(net, observed, options, 12);
  for (int t = 0; t < 4; ++t) learner.step();
  const Batch<double> chains = learner.synthesized();
  learner.set_stage(1);
  CHECK(same_batch(learner.synthesized(), chains));  // kept

  const Vector<double> lower = layer_parameters(net, 0, 2);
  const Vector<double> middle = layer_parameters(net, 2, 4);
  for (int t = 0; t < 6; ++t) learner.step();
  CHECK(bit_equal(layer_parameters(net, 0, 2), lower));  // frozen
  CHECK_FALSE(bit_equal(layer_parameters(net, 2, 4), middle));

  learner.set_stage(2);
  const Vector<double> lower2 = layer_parameters(net, 0, 4);
  for (int t = 0; t < 3; ++t) learner.step();
  CHECK(bit_equal(layer_parameters(net, 0, 4), lower2));
}

TEST_CASE("chains started from noise are N(0, sigma^2) (sigma = 0.7), also when a new stage restarts them",
          "[stages][sigma]") {
  // 64 chains × 100 pixels: n = 6400 draws. The sample mean has s.e. σ/√n, the sample s.d. σ/√(2n)
  // (normal data); k = 4. A learner that drew N(0, 1) (σ ignored) would be off by 0.3 = 54 s.e.
  const double sigma = 0.7;
  std::mt19937_64 engine(6);
  auto net = make_net();
  initialize_normal(net, engine, 0.1);
  LearningOptions options = fast_options();
  options.chains = 64;
  options.langevin.reference_sigma = sigma;
  options.chain_init = LearningOptions::ChainInit::noise;
  MleLearner learner(net, observed_images(engine), options, 13);
  auto check_noise = [&](const Batch<double>& chains) {
    const auto v = as_vector(chains);
    const double n = static_cast<double>(v.size());
    REQUIRE(n == 6400);
    const double mean = v.mean();
    const double sd = std::sqrt((v.array() - mean).square().sum() / (n - 1));
    INFO("mean " << mean << ", s.d. " << sd);
    CHECK(std::abs(mean) < 4 * sigma / std::sqrt(n));
    CHECK(std::abs(sd - sigma) < 4 * sigma / std::sqrt(2 * n));
  };
  check_noise(learner.synthesized());
  learner.step();
  learner.set_stage(1);  // reset_chains_on_grow: new noise
  check_noise(learner.synthesized());
  // Zero initialisation is the mean image whatever σ.
  options.chain_init = LearningOptions::ChainInit::zero;
  MleLearner zero(net, observed_images(engine), options, 13);
  CHECK(as_vector(zero.synthesized()).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("learners refuse bad observed images and options, naming the argument", "[stages]") {
  auto net = make_net();
  Batch<double> wrong = make_batch<double>(Shape{1, 9, 10}, 1);
  wrong.setZero();
  CHECK_THROWS_WITH(MleLearner(net, wrong, LearningOptions{}, 1),
                    Catch::Contains("MleLearner::MleLearner") && Catch::Contains("'observed'"));
  Batch<double> ok = make_batch<double>(Shape{1, 10, 10}, 1);
  ok.setZero();
  LearningOptions bad;
  bad.chains = 0;
  CHECK_THROWS_WITH(MleLearner(net, ok, bad, 1), Catch::Contains("options.chains"));
  bad = LearningOptions{};
  bad.optimizer.learning_rate = -1;
  CHECK_THROWS_WITH(MleLearner(net, ok, bad, 1), Catch::Contains("options.optimizer.learning_rate"));
  bad = LearningOptions{};
  bad.optimizer.momentum = 1;
  CHECK_THROWS_WITH(MleLearner(net, ok, bad, 1), Catch::Contains("options.optimizer.momentum"));
  ok(0, 3, 3, 0) = std::nan("");
  CHECK_THROWS_WITH(MleLearner(net, ok, LearningOptions{}, 1), Catch::Contains("NaN"));
}

TEST_CASE("iteration statistics report the contrast (root mean square) of the observed images and of the chains "
          "after the Langevin steps",
          "[stages][statistics]") {
  std::mt19937_64 engine(8);
  auto net = make_net();
  initialize_normal(net, engine, 0.1);
  const Batch<double> observed = observed_images(engine);  // N(0, 9): contrast near 3
  MleLearner learner(net, observed, fast_options(), 21);
  const Batch<double> before = learner.synthesized();
  const IterationStats& stats = learner.step();
  auto rms = [](const Batch<double>& b) {
    const auto v = as_vector(b);
    return std::sqrt(v.squaredNorm() / static_cast<double>(v.size()));
  };
  CHECK(stats.contrast_observed == Approx(rms(observed)).epsilon(1e-12));
  // The chains as they entered the gradient: after this iteration's Langevin steps, not before them.
  CHECK(stats.contrast_synthesized == Approx(rms(learner.synthesized())).epsilon(1e-12));
  CHECK(stats.contrast_synthesized != Approx(rms(before)).epsilon(1e-6));
  CHECK(stats.contrast_observed > 2.5);
}
