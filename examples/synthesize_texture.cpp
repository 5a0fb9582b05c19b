// synthesize_texture — Experiment 1 of the paper (Sec. 10, Fig. 6): learn a generative ConvNet
//   p(I; w) = exp(f(I; w)) q(I) / Z(w)                                          (eq. 3.4)
// from ONE texture photograph by maximum likelihood (Algorithm 1), growing the network one layer at a
// time (Sec. 8), then read new textures off the model's persistent Langevin chains (eq. 6.10).
//
//   synthesize_texture [IMAGE] --out DIR [--seed N] [--threads N] [--config fast|paper] [--layers SPEC]
//                      [--iterations N] [--chains N] [--size N] [--out-size N] [--resume CHECKPOINT]
//
// IMAGE defaults to the gravel texture bundled in examples/data/. Written in DIR:
//   synthesized_00.png ...       one texture per chain
//   contact_sheet.png            the observed image first, then the synthesized ones (as Fig. 6)
//   snapshots/iter_NNNN.png      contact sheets during learning
//   log.csv                      one row per learning iteration
//   learning_curves.png          the relative gap f(obs) − f(syn), per-layer activation mismatch and the
//                                chains' contrast, per iteration (drawn from log.csv, also at each snapshot)
//   checkpoint.safetensors       everything needed to continue (--resume): weights, chains, optimizer, engine
//   weights.safetensors          the learned parameters alone
//   large/synthesized_00.png ... with --out-size N: the learned filters run on an N×N canvas, starting
//                                from the learned chains side by side (--out-init tile) or zero
// Ctrl-C (or SIGTERM) stops after the current iteration, writes the checkpoint and exits with 128+signal;
// --resume continues bit for bit as if never stopped (same --threads). After a SIGKILL, --resume goes on
// from the last periodic checkpoint (--snapshot-every), and the next start removes the killed run's
// temporary files. A run that diverges (NaN or Inf, e.g. from too large a --step-size or --learning-rate)
// exits with status 3 and one line naming the iteration, the layer and the last good checkpoint, which
// it never overwrites.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/growth.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/learning/stages.hpp>
#include <gconvnet/sampling/langevin.hpp>

#include <CLI/CLI.hpp>

#include "support/images.hpp"
#include "support/learning_curves.hpp"
#include "support/program.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = DynamicModel<float>;

namespace {

// ---------------------------------------------------------------------------------------------------
// The two named settings.

/// Everything --config chooses; each field can be overridden on the command line.
struct Config {
  std::string layers;        // the ConvNet, bottom-up (parse_layers syntax)
  Index size = 0;            // the observed image is resized to size × size
  Index chains = 0;          // M̃ persistent Langevin chains
  Index iterations = 0;      // learning iterations per layer stage
  LangevinOptions langevin;  // ε, L, σ
  double learning_rate = 0;  // η of the first stage (halved at each new stage)
  std::string image;         // the bundled default texture
  std::string means;         // subtracted from the intensities: "observed" (the image's own) or "release"
};

/// The per-channel means the authors' release subtracts (ImageNet's, R G B), whatever the image.
const std::vector<double> release_means{123.68, 116.779, 103.939};

/// The authors' release setting (DESIGN.md §3): 224², 100/64/30 filters, 16 chains, L = 10, ε = 0.3,
/// 700 iterations per layer, η = 5e-4 halved per stage, gradients divided by map size and capped at 20,
/// the release's fixed channel means. tools/check_paper_config.py checks it against a port of the release.
Config paper_config() {
  return {"conv:100:15:3:2,relu,conv:64:5:1:2,relu,conv:30:3:1:2,relu", 224, 16, 700, {0.3, 10, 1.0}, 5e-4,
          "gravel_224.png", "release"};
}

/// The default, chosen by measurement for quality per minute on two cores (docs/quality.md: a mean
/// OVERALL of 0.64 over six 128² textures in about 40 s each): the release recipe at 128² with a slimmer
/// net (64 and 32 filters in the first two layers), 3 chains, and fewer, larger Langevin steps (ε = 0.6,
/// L = 4). The release net with ε = 0.3, L = 10 scores higher but its chains reproduce the photograph in
/// place (docs/quality.md, "The default setting").
Config fast_config() {
  return {"conv:64:15:3:2,relu,conv:32:5:1:2,relu,conv:30:3:1:2,relu", 128, 3, 260, {0.6, 4, 1.0}, 5e-4,
          "gravel_128.png", "observed"};
}

// ---------------------------------------------------------------------------------------------------
// Steps of the program.

/// Layer growing (Sec. 8): stage s covers iterations s·N to (s+1)·N − 1; entering it adds a layer,
/// restarts the chains and halves η. A resumed run never goes back to an earlier stage.
void grow_when_due(MleLearner<Model>& learner, Index per_stage) {
  const Index stage = std::min(learner.iteration() / per_stage, learner.num_stages() - 1);
  if (stage > learner.stage()) learner.set_stage(stage);
}

/// The multiply-adds of a pass at each stage's depth (the progress display's ETA).
std::vector<double> stage_costs(const Shape& input, const std::string& layers) {
  Model probe(input, parse_layers<float>(layers));
  std::vector<double> cost;
  for (Index d : stage_depths(probe)) {
    probe.set_depth(d);
    cost.push_back(static_cast<double>(probe.macs()));
  }
  return cost;
}

/// --out-size: the learned filters on an out_size² canvas (the model is convolutional), `steps`
/// Langevin steps from zero or from the learned chains tiled side by side (from zero the chains drift
/// into frames and gratings: docs/quality.md). Nothing when a stop signal came first.
std::optional<Batch<float>> synthesize_large(const Model& model, const Batch<float>& learned, const std::string& layers,
                                             const LangevinOptions& sampler, Index out_size, bool tile, Index steps,
                                             std::uint64_t seed) {
  Model large(Shape{learned.dimension(0), out_size, out_size}, parse_layers<float>(layers));
  copy_parameters(model, large);
  const Index M = batch_size(learned), s = learned.dimension(1), across = (out_size + s - 1) / s;
  Batch<float> chains = make_batch<float>(large.input_shape(), M);
  chains.setZero();
  if (tile)  // chain n, tile t holds learned chain (n + t) mod M: no two neighbours alike
    for (Index n = 0; n < M; ++n)
      for (Index x = 0; x < out_size; ++x)
        for (Index y = 0; y < out_size; ++y)
          for (Index c = 0; c < chains.dimension(0); ++c)
            chains(c, y, x, n) = learned(c, y % s, x % s, (n + (y / s) * across + x / s) % M);
  std::cout << "synthesizing " << M << " images of " << out_size << "x" << out_size << " (" << steps
            << " Langevin steps from " << (tile ? "the learned chains, tiled" : "zero") << ")\n";
  std::mt19937_64 engine(seed);
  LangevinWorkspace<float> ws;
  const auto start = std::chrono::steady_clock::now();
  for (Index done = 0; done < steps && !stop_requested();) {
    LangevinOptions chunk = sampler;
    chunk.steps = std::min<Index>(10, steps - done);
    langevin(large, chains, chunk, engine, ws);
    done += chunk.steps;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == steps || done % std::max<Index>(10, steps / 10 / 10 * 10) == 0)
      std::cerr << "large: step " << done << "/" << steps << "  ETA "
                << clock_time(elapsed / static_cast<double>(done) * static_cast<double>(steps - done)) << "\n";
  }
  if (stop_requested()) return std::nullopt;
  return chains;
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet from one texture image and synthesize new ones (Xie et al. 2016, Exp. 1)"};
  RunOptions run_options;
  std::string image_path, config_name = "fast", layers, out_init = "tile", means_name;
  Index iterations = 0, chains = 0, size = 0, out_size = 0, out_steps = 100, langevin_steps = 0;
  double learning_rate = 0, step_size = 0;
  app.add_option("IMAGE", image_path, "the observed texture (PNG/JPEG); default: the bundled gravel")->check(existing_file());
  add_run_options(app, run_options);
  app.add_option("--config", config_name, "named setting: fast (minutes) or paper (the release code)")
      ->check(one_of({"fast", "paper"}))->capture_default_str();
  app.add_option("--layers", layers, "the ConvNet, e.g. conv:100:15:3:2,relu,conv:64:5:1:2,relu (overrides --config)");
  app.add_option("--iterations", iterations, "learning iterations per layer stage (fast 260, paper 700)")->check(positive_integer());
  app.add_option("--chains", chains, "number of synthesized images, i.e. persistent Langevin chains (fast 3, paper 16)")->check(positive_integer());
  app.add_option("--size", size, "resize the observed image to SIZE x SIZE (fast 128, paper 224)")->check(positive_integer());
  app.add_option("--out-size", out_size, "also synthesize at OUT_SIZE x OUT_SIZE with the learned filters")->check(positive_integer());
  app.add_option("--out-init", out_init, "start of the --out-size chains: zero (the mean image) or tile (the "
                 "learned chains side by side)")->check(one_of({"zero", "tile"}))->capture_default_str();
  app.add_option("--out-steps", out_steps, "Langevin steps for --out-size")->check(positive_integer())->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate of the first stage, halved per stage (5e-4)")->check(positive_number());
  app.add_option("--step-size", step_size, "Langevin step size epsilon (fast 0.6, paper 0.3)")->check(positive_number());
  app.add_option("--langevin-steps", langevin_steps, "Langevin steps L per learning iteration (fast 4, paper 10)")->check(positive_integer());
  app.add_option("--means", means_name, "channel means subtracted from the intensities: observed (the image's "
                 "own) or release (the release code's fixed ImageNet means; fast observed, paper release)")
      ->check(one_of({"observed", "release"}));
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;

  Config config = config_name == "paper" ? paper_config() : fast_config();
  if (!layers.empty()) config.layers = layers;
  if (iterations > 0) config.iterations = iterations;
  if (chains > 0) config.chains = chains;
  if (size > 0) config.size = size;
  if (learning_rate > 0) config.learning_rate = learning_rate;
  if (step_size > 0) config.langevin.step_size = step_size;
  if (langevin_steps > 0) config.langevin.steps = langevin_steps;
  if (!means_name.empty()) config.means = means_name;
  if (image_path.empty()) image_path = bundled_file(config.image, GCONVNET_EXAMPLE_DATA_DIR);
  const std::uint64_t seed = run_options.seed;
  Run run("synthesize_texture", run_options, argc, argv);

  // 2. The observed image I_obs: intensities 0–255 minus per-channel means (its own, or the release's). -
  const Image<float> loaded = io::load_image<float>(image_path);
  const Image<float> observed = square_image(loaded, config.size);
  std::cout << "observed: " << image_path << " (" << loaded.dimension(2) << "x" << loaded.dimension(1) << ")";
  if (std::min(loaded.dimension(1), loaded.dimension(2)) != config.size)
    std::cout << ", resized to " << config.size << "x" << config.size;
  std::cout << "\n";
  Batch<float> observed_batch = as_batch(observed);
  const std::vector<double> means = config.means == "release" ? release_means : channel_means(observed_batch);
  subtract_channel_means(observed_batch, means);

  // 3. The model: a ConvNet whose score f(I; w) is the sum of its top responses (eq. 3.5). -------------
  Model model(shape_of(observed), parse_layers<float>(config.layers));
  std::mt19937_64 init_engine(seed);
  initialize_normal(model, init_engine, 0.01, 0.0);  // release code: N(0, 0.01²), biases 0
  std::cout << model.summary();

  // 4. Algorithm 1 with layer growing: L Langevin steps on the chains, then w ← w + η (H_obs − H_syn). -
  LearningOptions options;
  options.chains = config.chains;
  options.langevin = config.langevin;
  options.optimizer.learning_rate = config.learning_rate;
  MleLearner<Model> learner(model, observed_batch, options, seed);
  run.resume(learner);
  std::cout << "config " << config_name << ": " << config.chains << " chains, " << learner.num_stages()
            << " stages x " << config.iterations << " iterations, L = " << config.langevin.steps
            << ", eps = " << config.langevin.step_size << ", eta = " << config.learning_rate << ", seed " << seed
            << "\n";
  Learning learning = learning_of(learner, learner.num_stages() * config.iterations);
  learning.step = [&] {
    grow_when_due(learner, config.iterations);
    return learner.step();
  };
  learning.stage_finished = [&] { return learner.iteration() % config.iterations == 0; };
  learning.snapshot = [&](Index done) {
    io::save_png(io::contact_sheet(observed, with_channel_means(learner.synthesized(), means)), run.snapshot_file(done));
    io::save_png(learning_curves(run.file("log.csv")), run.file("learning_curves.png").string());
  };
  learning.stage_cost = stage_costs(shape_of(observed), config.layers);
  learning.stage_length = config.iterations;
  if (const auto stopped = run.learn(learning)) return *stopped;

  // 5. The synthesized textures: the chains plus the channel means, clipped to 0–255. ----------------
  const Batch<float> synthesized = with_channel_means(learner.synthesized(), means);
  run.list(save_numbered(synthesized, run.out(), "synthesized_"));
  io::save_png(io::contact_sheet(observed, synthesized), run.output("contact_sheet.png"));
  run.save_results(learning, model);
  io::save_png(learning_curves(run.file("log.csv")), run.output("learning_curves.png"));

  // 6. --out-size: the same filters on a larger canvas. -----------------------------------------------
  if (out_size > 0) {
    const auto large = synthesize_large(model, learner.synthesized(), config.layers, config.langevin, out_size,
                                        out_init == "tile", out_steps, seed + 1);
    if (!large) {
      std::cerr << "synthesize_texture: interrupted during --out-size; the learned model is saved in "
                << run.checkpoint_file() << "\n";
      return stop_exit_code();
    }
    std::filesystem::create_directories(run.file("large"));
    const Batch<float> big = with_channel_means(*large, means);
    run.list(save_numbered(big, run.file("large"), "synthesized_"));
    io::save_png(io::contact_sheet(observed, big), run.output("large/contact_sheet.png"));
  }
  return run.finish();
} catch (...) {
  // A NumericalError (the run diverged): one line, exit 3, naming the last good checkpoint.
  return report_exception("synthesize_texture");
}
