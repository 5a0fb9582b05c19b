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
#include <gconvnet/io/atomic_file.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/learning/stages.hpp>
#include <gconvnet/sampling/langevin.hpp>

#include <CLI/CLI.hpp>

#include "support/program.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fs = std::filesystem;
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
};

/// The authors' release setting (DESIGN.md §3): 224², 100/64/30 filters, 16 chains, L = 10, ε = 0.3,
/// 700 iterations per layer, η = 5e-4 halved per stage, gradients divided by map size and capped at 20.
Config paper_config() {
  return {"conv:100:15:3:2,relu,conv:64:5:1:2,relu,conv:30:3:1:2,relu", 224, 16, 700, {0.3, 10, 1.0}, 5e-4,
          "gravel_224.png"};
}

/// The default, chosen by measurement for quality per minute on two cores. tools/texture_score.py gives
/// it a mean OVERALL of 0.61 over the six 128² test textures (0.52 to 0.74, no copying) in about 40 s of
/// wall time each (2 threads, idle machine). Measured alternatives on the same machine:
///   - the release net (100/64/30 filters), 4 chains, ε = 0.3, L = 10: gravel 0.48 (chains not mixed
///     after 260 iterations: one scores 0.75, another 0.25), 3.2× the work;
///   - the release net, 4 chains, ε = 0.6, L = 4: gravel 0.68, 3.2× the work;
///   - this net with 520 iterations per stage: gravel −0.30 (the chains' contrast grows until clipped),
///     grass 0.57: longer is not better with the release optimizer;
///   - this net with 4 chains: the same mean (wood 0.51, rock 0.51, stonewall 0.71, gravel 0.57).
/// It is the release recipe (padding 2, per-map-size normalised and capped SGD, η = 5e-4 halved per
/// stage, σ = 1, chains from zero, layers grown 1→2→3) at 128² with a slimmer net (64 and 32 filters in
/// the first two layers, 42% of the release's multiply-adds per pass), 3 chains, and fewer, larger
/// Langevin steps (ε = 0.6, L = 4: per iteration a chain moves 55% of the way to the mean of its current
/// piece, against 37% with ε = 0.3, L = 10, for 40% of the gradient evaluations).
Config fast_config() {
  return {"conv:64:15:3:2,relu,conv:32:5:1:2,relu,conv:30:3:1:2,relu", 128, 3, 260, {0.6, 4, 1.0}, 5e-4,
          "gravel_128.png"};
}

// ---------------------------------------------------------------------------------------------------
// Small helpers of the program (files, paths, the progress display).

/// The centred largest square of an image (textures are learned on square canvases).
Image<float> centre_square(const Image<float>& im) {
  const Index h = im.dimension(1), w = im.dimension(2), side = std::min(h, w);
  if (h == w) return im;
  const Eigen::array<Index, 3> offsets{0, (h - side) / 2, (w - side) / 2}, extents{im.dimension(0), side, side};
  return im.slice(offsets, extents);
}

/// The chains as 0–255 images: synthesized + channel means (save_png clips).
Batch<float> to_intensities(const Batch<float>& chains, const std::vector<double>& means) {
  Batch<float> out = chains;
  add_channel_means(out, means);
  return out;
}

/// Writes synthesized_00.png ... into `dir`; returns the paths.
std::vector<std::string> save_each(const Batch<float>& images, const fs::path& dir) {
  std::vector<std::string> paths;
  for (Index n = 0; n < batch_size(images); ++n) {
    std::ostringstream name;
    name << "synthesized_" << std::setw(2) << std::setfill('0') << n << ".png";
    paths.push_back((dir / name.str()).string());
    io::save_png(image_of(images, n), paths.back());
  }
  return paths;
}

std::string join(const std::vector<double>& v) {
  std::ostringstream os;
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

/// The learning log: one CSV row per iteration. On --resume, rows at or after the checkpoint's
/// iteration (written by the interrupted run after its last checkpoint, perhaps a partial last line
/// of a killed run) are dropped first; the log is rewritten atomically, so a kill during the rewrite
/// leaves the old log, never a truncated one.
class CsvLog {
public:
  CsvLog(const fs::path& path, Index resume_from) {
    const std::string header = "iteration,stage,score_observed,score_synthesized,difference,learning_rate,seconds,"
                               "active_observed,active_synthesized,gradient_norm";
    std::string text = header + "\n";
    if (resume_from > 0) {
      std::ifstream in(path);
      const auto fields = std::count(header.begin(), header.end(), ',');
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line.rfind("iteration,", 0) == 0 || std::count(line.begin(), line.end(), ',') != fields)
          continue;
        Index iteration = -1;
        std::istringstream(line.substr(0, line.find(','))) >> iteration;
        if (iteration >= 0 && iteration < resume_from) text += line + "\n";
      }
    }
    io::write_file_atomically(path.string(), text.data(), text.size());
    out_.open(path, std::ios::app);
    if (!out_) throw Error("cannot write '" + path.string() + "'");
  }
  void write(const IterationStats& s) {
    out_ << s.iteration << "," << s.stage << "," << s.score_observed << "," << s.score_synthesized << ","
         << s.score_observed - s.score_synthesized << "," << s.learning_rate << "," << s.seconds << ","
         << join(s.active_observed) << "," << join(s.active_synthesized) << "," << join(s.gradient_norm) << "\n";
    out_.flush();
  }

private:
  std::ofstream out_;
};

/// The newest checkpoint of a good state on disk: the one resumed from, then each one written. A run
/// that diverges never writes one (the learner undoes the failing iteration and throws), so this
/// stays the last good state for the report.
std::string last_good_checkpoint;

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet from one texture image and synthesize new ones (Xie et al. 2016, Exp. 1)"};
  std::string image_path, out_dir, config_name = "fast", layers, resume, out_init = "tile";
  std::uint64_t seed = 2016;
  int threads = 0;
  Index iterations = 0, chains = 0, size = 0, out_size = 0, out_steps = 100, snapshot_every = 100;
  double learning_rate = 0, step_size = 0;
  Index langevin_steps = 0;
  app.add_option("IMAGE", image_path, "the observed texture (PNG/JPEG); default: the bundled gravel")->check(CLI::ExistingFile);
  app.add_option("--out", out_dir, "output directory (created)")->required();
  app.add_option("--seed", seed, "random seed (weights' initialisation, Langevin noise)")->capture_default_str();
  app.add_option("--threads", threads, "threads for OpenMP and Eigen (0: their default)")->check(CLI::NonNegativeNumber);
  app.add_option("--config", config_name, "named setting: fast (minutes) or paper (the release code)")
      ->check(CLI::IsMember({"fast", "paper"}))->capture_default_str();
  app.add_option("--layers", layers, "the ConvNet, e.g. conv:100:15:3:2,relu,conv:64:5:1:2,relu (overrides --config)");
  app.add_option("--iterations", iterations, "learning iterations per layer stage (fast 260, paper 700)")->check(CLI::PositiveNumber);
  app.add_option("--chains", chains, "number of synthesized images, i.e. persistent Langevin chains (fast 3, paper 16)")->check(CLI::PositiveNumber);
  app.add_option("--size", size, "resize the observed image to SIZE x SIZE (fast 128, paper 224)")->check(CLI::PositiveNumber);
  app.add_option("--out-size", out_size, "also synthesize at OUT_SIZE x OUT_SIZE with the learned filters")->check(CLI::PositiveNumber);
  app.add_option("--out-init", out_init, "start of the --out-size chains: zero (the mean image) or tile (the "
                 "learned chains side by side)")->check(CLI::IsMember({"zero", "tile"}))->capture_default_str();
  app.add_option("--out-steps", out_steps, "Langevin steps for --out-size")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate of the first stage, halved per stage (5e-4)")->check(CLI::PositiveNumber);
  app.add_option("--step-size", step_size, "Langevin step size epsilon (fast 0.6, paper 0.3)")->check(CLI::PositiveNumber);
  app.add_option("--langevin-steps", langevin_steps, "Langevin steps L per learning iteration (fast 4, paper 10)")->check(CLI::PositiveNumber);
  app.add_option("--snapshot-every", snapshot_every, "contact sheet and checkpoint every N iterations")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--resume", resume, "continue from a checkpoint written by an earlier run")->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  Config config = config_name == "paper" ? paper_config() : fast_config();
  if (!layers.empty()) config.layers = layers;
  if (iterations > 0) config.iterations = iterations;
  if (chains > 0) config.chains = chains;
  if (size > 0) config.size = size;
  if (learning_rate > 0) config.learning_rate = learning_rate;
  if (step_size > 0) config.langevin.step_size = step_size;
  if (langevin_steps > 0) config.langevin.steps = langevin_steps;
  if (image_path.empty()) image_path = bundled_file(config.image, GCONVNET_EXAMPLE_DATA_DIR);
  // Ctrl-C / SIGTERM from here on: the learning loop below finishes its iteration, writes the
  // checkpoint and exits with 128 + signal.
  catch_stop_signals();
  const fs::path out(out_dir);
  fs::create_directories(out / "snapshots");
  // A run killed outright (SIGKILL) may have left "FILE.tmp-XXXXXX" of an atomic write behind.
  const int stale = remove_stale_temp_files(out) + remove_stale_temp_files(out / "snapshots") +
                    remove_stale_temp_files(out / "large");
  if (stale > 0) std::cerr << "synthesize_texture: removed " << stale << " temporary file(s) of a killed run\n";

  if (threads > 0) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    Eigen::setNbThreads(threads);
  }

  // 2. The observed image I_obs: intensities 0–255 minus the per-channel means (the release code). ---
  Image<float> observed = io::load_image<float>(image_path);
  std::cout << "observed: " << image_path << " (" << observed.dimension(2) << "x" << observed.dimension(1) << ")";
  observed = centre_square(observed);
  if (observed.dimension(1) != config.size) {
    observed = io::resize_image(observed, config.size, config.size);
    std::cout << ", resized to " << config.size << "x" << config.size;
  }
  std::cout << "\n";
  const std::vector<double> means = channel_means(observed);
  Batch<float> observed_batch = as_batch(observed);
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
  if (!resume.empty()) {
    io::load_checkpoint(learner, resume);
    last_good_checkpoint = resume;
    std::cout << "resumed from " << resume << " at iteration " << learner.iteration() << ", stage "
              << learner.stage() + 1 << "\n";
  }
  const Index stages = learner.num_stages(), total = stages * config.iterations;
  std::cout << "config " << config_name << ": " << config.chains << " chains, " << stages << " stages x "
            << config.iterations << " iterations, L = " << config.langevin.steps
            << ", eps = " << config.langevin.step_size << ", eta = " << config.learning_rate << ", seed " << seed
            << "\n";

  // The multiply-adds of each stage, for the ETA.
  std::vector<double> stage_cost;
  {
    Model probe(shape_of(observed), parse_layers<float>(config.layers));
    for (Index d : stage_depths(probe)) {
      probe.set_depth(d);
      stage_cost.push_back(static_cast<double>(probe.macs()));
    }
  }

  const fs::path checkpoint_path = out / "checkpoint.safetensors";
  CsvLog log(out / "log.csv", learner.iteration());
  Progress progress(stage_cost, config.iterations);
  auto snapshot = [&](Index iteration) {
    std::ostringstream name;
    name << "iter_" << std::setw(4) << std::setfill('0') << iteration << ".png";
    io::save_png(io::contact_sheet(observed, to_intensities(learner.synthesized(), means)),
                 (out / "snapshots" / name.str()).string());
    io::save_checkpoint(learner, checkpoint_path.string());
    last_good_checkpoint = checkpoint_path.string();
  };

  while (learner.iteration() < total) {
    const Index stage = learner.iteration() / config.iterations;
    if (stage != learner.stage()) learner.set_stage(stage);  // grow: one more layer, chains restart, η halves
    const IterationStats stats = learner.step();
    log.write(stats);
    const Index done = learner.iteration();
    std::ostringstream status;
    status << std::fixed << std::setprecision(1) << "f(obs) " << stats.score_observed << "  f(syn) "
           << stats.score_synthesized << "  diff " << stats.score_observed - stats.score_synthesized;
    progress.update(done, total, stats.stage, stats.seconds, status.str());
    if (done % snapshot_every == 0 || done % config.iterations == 0) snapshot(done);
    if (stop_requested()) {
      progress.interrupt_line();
      io::save_checkpoint(learner, checkpoint_path.string());
      last_good_checkpoint = checkpoint_path.string();
      std::cerr << "synthesize_texture: interrupted (" << stop_signal_name()
                << ") after iteration " << done << " of " << total << "; checkpoint written to "
                << checkpoint_path.string() << "\ncontinue with: " << resume_command(argc, argv, checkpoint_path) << "\n";
      return stop_exit_code();
    }
  }

  // 5. The synthesized textures: the chains plus the channel means, clipped to 0–255. ----------------
  const Batch<float> synthesized = to_intensities(learner.synthesized(), means);
  std::vector<std::string> written = save_each(synthesized, out);
  written.push_back((out / "contact_sheet.png").string());
  io::save_png(io::contact_sheet(observed, synthesized), written.back());
  io::save_checkpoint(learner, checkpoint_path.string());
  last_good_checkpoint = checkpoint_path.string();
  written.push_back(checkpoint_path.string());
  written.push_back((out / "weights.safetensors").string());
  io::save_weights(model, written.back());
  written.push_back((out / "log.csv").string());

  // 6. --out-size: the same filters on a larger canvas (the model is convolutional). Langevin from zero
  //    with the final weights alone drifts into frames and gratings (the learned chains were kept on
  //    track by the updates): measured on gravel, 0.33 overall from zero against 0.54 from the learned
  //    chains tiled side by side (--out-init tile, the default), each after 100 steps at 256².
  if (out_size > 0) {
    Model large(Shape{observed.dimension(0), out_size, out_size}, parse_layers<float>(config.layers));
    auto from = model.parameters();
    auto to = large.parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].vector() = from[i].vector();
    Batch<float> chains_large = make_batch<float>(large.input_shape(), config.chains);
    chains_large.setZero();
    if (out_init == "tile") {  // chain n, tile t holds learned chain (n + t) mod M: no two neighbours alike
      const Batch<float>& learned = learner.synthesized();
      const Index M = batch_size(learned), s = learned.dimension(1), across = (out_size + s - 1) / s;
      for (Index n = 0; n < config.chains; ++n)
        for (Index x = 0; x < out_size; ++x)
          for (Index y = 0; y < out_size; ++y)
            for (Index c = 0; c < chains_large.dimension(0); ++c)
              chains_large(c, y, x, n) = learned(c, y % s, x % s, (n + (y / s) * across + x / s) % M);
    }
    std::mt19937_64 engine(seed + 1);
    LangevinWorkspace<float> ws;
    const Index steps = out_steps;
    std::cout << "synthesizing " << config.chains << " images of " << out_size << "x" << out_size << " ("
              << steps << " Langevin steps from " << (out_init == "tile" ? "the learned chains, tiled" : "zero")
              << ")\n";
    const auto start = std::chrono::steady_clock::now();
    for (Index done = 0; done < steps && !stop_requested();) {
      LangevinOptions chunk = config.langevin;
      chunk.steps = std::min<Index>(10, steps - done);
      langevin(large, chains_large, chunk, engine, ws);
      done += chunk.steps;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (done == steps || done % std::max<Index>(10, steps / 10 / 10 * 10) == 0)
        std::cerr << "large: step " << done << "/" << steps << "  ETA "
                  << clock_time(elapsed / static_cast<double>(done) * static_cast<double>(steps - done)) << "\n";
    }
    if (stop_requested()) {
      std::cerr << "synthesize_texture: interrupted during --out-size; the learned model is saved in "
                << checkpoint_path.string() << "\n";
      return stop_exit_code();
    }
    fs::create_directories(out / "large");
    const Batch<float> big = to_intensities(chains_large, means);
    for (const auto& p : save_each(big, out / "large")) written.push_back(p);
    written.push_back((out / "large" / "contact_sheet.png").string());
    io::save_png(io::contact_sheet(observed, big), written.back());
  }

  // 7. Where everything went. ------------------------------------------------------------------------
  std::cout << "wrote:\n";
  for (const auto& p : written) std::cout << "  " << p << "\n";
  std::cout << "  " << (out / "snapshots").string() << "/\n";
  return 0;
} catch (...) {
  // A NumericalError (the run diverged): one line, exit 3, naming the last good checkpoint.
  return report_exception("synthesize_texture", last_good_checkpoint);
}
