// synthesize_texture — Experiment 1 of the paper (Sec. 10, Fig. 6): learn a generative ConvNet
//   p(I; w) = exp(f(I; w)) q(I) / Z(w)                                          (eq. 3.4)
// from ONE texture photograph by maximum likelihood (Algorithm 1), growing the network one layer at a
// time (Sec. 8), then read new textures off the model's persistent Langevin chains (eq. 6.10).
//
//   synthesize_texture [IMAGE] --out DIR [--seed N] [--threads N] [--config fast|paper] [--layers SPEC]
//                      [--iterations N[,N...]] [--keep-chains] [--chains N] [--size N] [--out-size N]
//                      [--tileable] [--resume CHECKPOINT]
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
//   tileable/synthesized_00.png ... with --tileable: textures that repeat without a seam (the learned filters
//   tileable/tiled_00.png ...       on a torus, see synthesize_tileable), and each repeated 2x2; the seam
//                                ratio of each (and of the plain outputs) is printed
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

#include "support/canvas.hpp"
#include "support/images.hpp"
#include "support/learning_curves.hpp"
#include "support/program.hpp"
#include "support/texture_recipe.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = TextureModel;

namespace {

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

/// --tileable: textures that repeat without a seam. The model learned with zero padding (the photograph
/// is not periodic: learning on a torus would teach the model its wrap-around seam) runs with circular
/// padding on a torus of the largest size <= the learned one whose side is a multiple of the strides'
/// product (126 for 128 at stride 3), `steps` Langevin steps from the centres of the learned chains
/// (docs/quality.md: starting from their interiors tiled, without the frame, measured worse).
/// Writes tileable/synthesized_NN.png and tileable/tiled_NN.png (2x2) and prints the seam ratio
/// (seam_ratio) of each tile and, for comparison, of the plain outputs. Returns false when a stop signal
/// came first.  throws: Error when the canvas is smaller than the strides' product.
bool synthesize_tileable(Run& run, const Model& model, const std::string& layers, const Batch<float>& learned,
                         const std::vector<double>& means, const LangevinOptions& sampler, Index steps,
                         std::uint64_t seed) {
  const Index multiple = stride_product(model), size = learned.dimension(1), side = size / multiple * multiple;
  if (side < multiple)
    throw Error("--tileable: the " + std::to_string(size) + "x" + std::to_string(size) +
                " canvas is smaller than the product of the strides, " + std::to_string(multiple));
  const Model torus = model_on_canvas(model, layers, Shape{learned.dimension(0), side, side}, true);
  Batch<float> chains = tiled_chains(learned, torus.input_shape());
  std::cout << "tileable: " << batch_size(chains) << " tiles of " << side << "x" << side;
  if (side != size) std::cout << " (" << size << " rounded down to a multiple of " << multiple << ", the strides' product)";
  std::cout << ", " << steps << " Langevin steps on the torus from the learned chains\n";
  std::mt19937_64 engine(seed);
  if (!sample(torus, chains, sampler, steps, engine, "tileable")) return false;
  const Batch<float> tiles = with_channel_means(chains, means), plain = with_channel_means(learned, means);
  std::filesystem::create_directories(run.file("tileable"));
  run.list(save_numbered(tiles, run.file("tileable"), "synthesized_"));
  std::vector<Image<float>> previews;
  std::cout << "seam ratio (wrap-around seam / interior neighbours), tileable:";
  for (const Image<float>& tile : images_of(tiles)) {
    std::cout << " " << seam_ratio(tile);
    previews.push_back(tiled_2x2(tile));
  }
  run.list(save_numbered(stack_images(previews), run.file("tileable"), "tiled_"));
  std::cout << "; plain:";
  for (Index n = 0; n < batch_size(plain); ++n) std::cout << " " << seam_ratio(image_of(plain, n));
  std::cout << "\n";
  return true;
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet from one texture image and synthesize new ones (Xie et al. 2016, Exp. 1)"};
  RunOptions run_options;
  RecipeChoice choice;
  std::string image_path, out_init = "tile";
  Index out_size = 0, out_steps = 100, tileable_steps = 200;
  bool tileable = false;
  app.add_option("IMAGE", image_path, "the observed texture (PNG/JPEG); default: the bundled gravel")->check(existing_file());
  add_run_options(app, run_options);
  add_recipe_options(app, choice);
  app.add_option("--out-size", out_size, "also synthesize at OUT_SIZE x OUT_SIZE with the learned filters")->check(positive_integer());
  app.add_option("--out-init", out_init, "start of the --out-size chains: zero (the mean image) or tile (the "
                 "learned chains side by side)")->check(one_of({"zero", "tile"}))->capture_default_str();
  app.add_option("--out-steps", out_steps, "Langevin steps for --out-size")->check(positive_integer())->capture_default_str();
  app.add_flag("--tileable", tileable, "also synthesize textures that tile without a seam (the learned filters on "
               "a torus) and print their seam ratio");
  app.add_option("--tileable-steps", tileable_steps, "Langevin steps on the torus for --tileable")
      ->check(positive_integer())->capture_default_str();
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;

  const TextureRecipe config = chosen_recipe(choice);
  const std::string& config_name = choice.config;
  if (image_path.empty()) image_path = bundled_file(config.image, GCONVNET_EXAMPLE_DATA_DIR);
  const std::uint64_t seed = run_options.seed;
  Run run("synthesize_texture", run_options, argc, argv);

  // 2. The observed image I_obs: intensities 0–255 minus per-channel means (its own, or the release's). -
  const Image<float> observed = load_texture(image_path, config.size);
  Batch<float> observed_batch = as_batch(observed);
  const std::vector<double> means = config.means == "release" ? release_means() : channel_means(observed_batch);
  subtract_channel_means(observed_batch, means);

  // 3. The model: a ConvNet whose score f(I; w) is the sum of its top responses (eq. 3.5). -------------
  Model model = texture_model(shape_of(observed), config, seed);  // release code: N(0, 0.01²), biases 0
  std::cout << model.summary();

  // 4. Algorithm 1 with layer growing: L Langevin steps on the chains, then w ← w + η (H_obs − H_syn). -
  MleLearner<Model> learner(model, observed_batch, texture_learning_options(config), seed);
  run.resume(learner);
  std::cout << describe_recipe(config_name, config, learner.num_stages(), seed) << "\n";
  Learning learning = texture_learning(learner, config);  // the stages one after another
  learning.snapshot = [&](Index done) {
    io::save_png(io::contact_sheet(observed, with_channel_means(learner.synthesized(), means)), run.snapshot_file(done));
    io::save_png(learning_curves(run.file("log.csv")), run.file("learning_curves.png").string());
  };
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

  // 7. --tileable: the same filters on a torus. -------------------------------------------------------
  if (tileable &&
      !synthesize_tileable(run, model, config.layers, learner.synthesized(), means, config.langevin, tileable_steps,
                           seed + 2)) {
    std::cerr << "synthesize_texture: interrupted during --tileable; the learned model is saved in "
              << run.checkpoint_file() << "\n";
    return stop_exit_code();
  }
  return run.finish();
} catch (...) {
  // A NumericalError (the run diverged): one line, exit 3, naming the last good checkpoint.
  return report_exception("synthesize_texture");
}
