// synthesize_objects — Experiment 2 of the paper (Sec. 8.2, Fig. 7): learn a generative ConvNet
//   p(I; w) = exp(f(I; w)) q(I) / Z(w)                                          (eq. 3.4)
// from about ten ALIGNED images of one object category, with a single fully connected filter on top
// (a non-stationary FRAME model, eq. 4.2, over learned convolutional features), by maximum likelihood
// (Algorithm 1), then read new objects off the model's persistent Langevin chains (eq. 6.10).
//
//   synthesize_objects [IMAGES...] --out DIR [--seed N] [--threads N] [--layers SPEC] [--size N]
//                      [--iterations N] [--chains N] [--schedule grow|all] [--stop-after N]
//                      [--resume CHECKPOINT]
//
// IMAGES are image files or folders of them (all *.png, *.jpg, *.jpeg inside, sorted by name); they
// default to the smileys bundled in examples/data/objects/smiley. Written in DIR:
//   synthesized_00.png ...       one object per chain
//   contact_sheet.png            the training images in the first row, the synthesized ones below (Fig. 7)
//   snapshots/iter_NNNN.png      contact sheets during learning
//   log.csv                      one row per learning iteration
//   checkpoint.safetensors       everything needed to continue (--resume): weights, chains, optimizer, engine
//   weights.safetensors          the learned parameters alone
// Ctrl-C (or SIGTERM) stops after the current iteration, writes the checkpoint and exits with 128+signal.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/io/safetensors.hpp>
#include <gconvnet/learning/growth.hpp>
#include <gconvnet/learning/mle_learner.hpp>

#include <CLI/CLI.hpp>

#include "support/program.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
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

/// The checkpoint this run writes, named by the error report when the run diverges.
std::string checkpoint_file;

// ---------------------------------------------------------------------------------------------------
// The default setting.

/// The paper's object net (Sec. 8.2: 100 7×7 filters with stride 2; 64 5×5; 20 3×3; one fully
/// connected filter over the whole map), in parse_layers syntax.
const char* const paper_layers = "conv:100:7:2:3,relu,conv:64:5:1:2,relu,conv:20:3:1:1,relu,fc:1";

/// The default net for 64×64 images: the paper's four layers with 32 and 32 filters in the first two
/// (19% of the paper net's 191 M multiply-adds per pass at 64², which is 5.2 times as many). With the
/// defaults below (layers grown 1→2→3 under the top filter, 100 iterations per stage, 4 chains,
/// L = 15 steps of ε = 0.45, η = 5e-3 halved per stage) it learns the bundled smileys in about 30 s of
/// one core (3.7 min wall with two threads on the shared, loaded machine); seed 2016 gives yellow faces
/// with eyes and smiling mouths, one with teeth, new combinations rather than copies; seeds 1 and 2 the
/// same kind of faces, one of them more blurred and washed out. Measured on the same images (one core): L = 30 steps of ε = 0.3 (the same
/// pull toward the piece's mean per iteration) looks the same for 1.7 times the time (94 s with 6
/// chains); all layers at once for 300 iterations gives noisier faces at η = 5e-3 (114 s), blotchy ones
/// at η = 2e-3, and a flat yellow square at the release texture rate η = 5e-4 (the weights had not yet
/// grown large enough). The face and animal sets learn less well: blurred heads with hair and skin
/// colours; unrecognisable blobs in animal colours.
const char* const default_layers = "conv:32:7:2:3,relu,conv:32:5:1:2,relu,conv:20:3:1:1,relu,fc:1";

// ---------------------------------------------------------------------------------------------------
// Files, images and the log.

/// The image files named on the command line: files as given, folders by their images sorted by name.
std::vector<std::string> image_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (!fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(in)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) found.push_back(e.path().string());
    }
    if (found.empty()) throw Error("synthesize_objects: the folder '" + in + "' holds no .png/.jpg image");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

/// The centred largest square of an image, resized to size × size.
Image<float> square(const Image<float>& im, Index size) {
  const Index h = im.dimension(1), w = im.dimension(2), side = std::min(h, w);
  Image<float> sq = im;
  if (h != w) {
    const Eigen::array<Index, 3> offsets{0, (h - side) / 2, (w - side) / 2}, extents{im.dimension(0), side, side};
    sq = im.slice(offsets, extents);
  }
  return side == size ? sq : io::resize_image(sq, size, size);
}

/// The training images in the first row, the synthesized ones below, `columns` per row (Fig. 7).
Image<float> object_sheet(const std::vector<Image<float>>& training, const Batch<float>& synthesized) {
  std::vector<Image<float>> cells = training;
  for (Index n = 0; n < batch_size(synthesized); ++n) cells.push_back(image_of(synthesized, n));
  io::GridOptions grid;
  grid.columns = static_cast<Index>(training.size());
  return io::image_grid(cells, grid);
}

std::string join(const std::vector<double>& v) {
  std::ostringstream os;
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

/// The learning log: one CSV row per iteration. On --resume, rows at or after the checkpoint's
/// iteration (written by the interrupted run after its last checkpoint) are dropped first.
class CsvLog {
public:
  CsvLog(const fs::path& path, Index resume_from) {
    std::vector<std::string> kept;
    if (resume_from > 0) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line))
        if (line.rfind("iteration,", 0) != 0 && !line.empty() && std::stoll(line.substr(0, line.find(','))) < resume_from)
          kept.push_back(line);
    }
    out_.open(path, std::ios::trunc);
    if (!out_) throw Error("cannot write '" + path.string() + "'");
    out_ << "iteration,stage,score_observed,score_synthesized,difference,learning_rate,seconds,"
            "active_observed,active_synthesized,gradient_norm\n";
    for (const auto& line : kept) out_ << line << "\n";
    out_.flush();
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

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet from aligned images of one object category and synthesize new "
               "ones (Xie et al. 2016, Exp. 2)"};
  std::vector<std::string> inputs;
  std::string out_dir, layers = default_layers, resume, schedule = "grow", chain_init = "zero";
  std::uint64_t seed = 2016;
  int threads = 0;
  Index iterations = 100, chains = 4, size = 64, langevin_steps = 15, snapshot_every = 50, stop_after = 0;
  double learning_rate = 5e-3, step_size = 0.45, grow_factor = 0.5;
  app.add_option("IMAGES", inputs, "aligned training images, or folders of them; default: the bundled smileys")
      ->check(CLI::ExistingPath);
  app.add_option("--out", out_dir, "output directory (created)")->required();
  app.add_option("--seed", seed, "random seed (weights' initialisation, Langevin noise)")->capture_default_str();
  app.add_option("--threads", threads, "threads for OpenMP and Eigen (0: their default)")->check(CLI::NonNegativeNumber);
  app.add_option("--layers", layers, std::string("the ConvNet, ending in one fully connected filter (fc:1); the "
                 "paper's: ") + paper_layers)->capture_default_str();
  app.add_option("--schedule", schedule, "grow: add one conv layer per stage under the top filter (Sec. 8); "
                 "all: learn every layer at once")->check(CLI::IsMember({"grow", "all"}))->capture_default_str();
  app.add_option("--iterations", iterations, "learning iterations per stage (on --resume: of every stage, "
                 "finished ones included)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--chains", chains, "number of synthesized images, i.e. persistent Langevin chains")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--size", size, "training images are cut to a centred square and resized to SIZE x SIZE")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate of the first stage")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--grow-factor", grow_factor, "the learning rate is multiplied by this at each new stage")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--step-size", step_size, "Langevin step size epsilon")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--langevin-steps", langevin_steps, "Langevin steps per learning iteration")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--chain-init", chain_init, "start of the chains: zero (the mean image) or noise")
      ->check(CLI::IsMember({"zero", "noise"}))->capture_default_str();
  app.add_option("--snapshot-every", snapshot_every, "contact sheet and checkpoint every N iterations")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--stop-after", stop_after, "stop after iteration N as Ctrl-C would (checkpoint written; exit "
                 "status 0): learn in chunks with --resume")->check(CLI::PositiveNumber);
  app.add_option("--resume", resume, "continue from a checkpoint written by an earlier run")->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  if (inputs.empty()) inputs.push_back(bundled_file("objects/smiley", GCONVNET_EXAMPLE_DATA_DIR));
  const fs::path out(out_dir);
  fs::create_directories(out / "snapshots");
  if (threads > 0) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    Eigen::setNbThreads(threads);
  }

  // 2. The observed images: aligned, size × size, intensities 0–255 minus the per-channel means. ------
  const std::vector<std::string> files = image_files(inputs);
  std::vector<Image<float>> training;
  for (const auto& f : files) training.push_back(square(io::load_image<float>(f), size));
  Batch<float> observed = make_batch<float>(shape_of(training[0]), static_cast<Index>(training.size()));
  for (std::size_t n = 0; n < training.size(); ++n)
    std::copy(training[n].data(), training[n].data() + training[n].size(), observed.data() + n * training[n].size());
  const std::vector<double> means = channel_means(observed);
  subtract_channel_means(observed, means);
  std::cout << "observed: " << training.size() << " images from " << inputs[0] << (inputs.size() > 1 ? " ..." : "")
            << ", as " << size << "x" << size << "\n";

  // 3. The models: one per stage, each ending in the fully connected filter (f = its response). -------
  // With --schedule grow, stage k holds the first k+1 conv blocks under the top filter (Sec. 8.2).
  using Layers = std::vector<AnyLayer<float>>;
  const std::vector<Layers> stage_layers = schedule == "grow" ? grow_under_top(parse_layers<float>(layers))
                                                              : std::vector<Layers>{parse_layers<float>(layers)};
  const Index stages = static_cast<Index>(stage_layers.size()), total = stages * iterations;
  auto make_model = [&](Index s) { return std::make_unique<Model>(shape_of(training[0]), stage_layers[s]); };
  std::vector<double> stage_cost;
  for (Index s = 0; s < stages; ++s) stage_cost.push_back(static_cast<double>(make_model(s)->macs()));

  LearningOptions options;
  options.chains = chains;
  options.langevin = {step_size, langevin_steps, 1.0};
  options.chain_init = chain_init == "zero" ? LearningOptions::ChainInit::zero : LearningOptions::ChainInit::noise;
  options.learning_rate_factor_on_grow = 1.0;  // each stage's learner learns all its layers at the stage's η

  std::unique_ptr<Model> model;
  std::unique_ptr<MleLearner<Model>> learner;
  Index stage = 0;
  // Stage s: a fresh model whose lower layers carry the previous stage's weights; every layer learns.
  auto start_stage = [&](Index s, Model* previous) {
    auto next = make_model(s);
    std::mt19937_64 init_engine(seed + 7919 * static_cast<std::uint64_t>(s));
    initialize_normal(*next, init_engine, 0.01, 0.0);  // release code: N(0, 0.01²), biases 0
    if (previous) copy_parameters(*previous, *next, top_layer(*previous));  // the layers below the top
    learner.reset();
    model = std::move(next);
    options.optimizer.learning_rate = learning_rate * std::pow(grow_factor, static_cast<double>(s));
    learner = std::make_unique<MleLearner<Model>>(*model, observed, options, seed + static_cast<std::uint64_t>(s));
    learner->set_stage(learner->num_stages() - 1);
    stage = s;
  };
  if (!resume.empty()) {  // the checkpoint's architecture names its stage
    const std::string arch = io::SafetensorsReader::read(resume, "synthesize_objects").metadata("architecture");
    Index found = -1;
    for (Index s = 0; s < stages && found < 0; ++s)
      if (io::architecture(*make_model(s)) == arch) found = s;
    if (found < 0)
      throw Error("synthesize_objects: the checkpoint '" + resume + "' is for another net (" + arch +
                  "); give the same --layers, --size and --schedule as the run that wrote it");
    start_stage(found, nullptr);
    io::load_checkpoint(*learner, resume);
    std::cout << "resumed from " << resume << " at stage " << found + 1 << ", iteration "
              << found * iterations + learner->iteration() << "\n";
  } else {
    start_stage(0, nullptr);
  }
  std::cout << model->summary();
  std::cout << stages << " stage" << (stages > 1 ? "s" : "") << " x " << iterations << " iterations, " << chains
            << " chains, L = " << langevin_steps << ", eps = " << step_size << ", eta = " << learning_rate
            << ", seed " << seed << "\n";

  // 4. Algorithm 1: L Langevin steps on the chains, then w ← w + η (H_obs − H_syn), stage by stage. ---
  const fs::path checkpoint_path = out / "checkpoint.safetensors";
  checkpoint_file = checkpoint_path.string();
  auto global_iteration = [&] { return stage * iterations + learner->iteration(); };
  auto intensities = [&](const Batch<float>& chains_now) {
    Batch<float> b = chains_now;
    add_channel_means(b, means);
    return b;
  };
  CsvLog log(out / "log.csv", global_iteration());
  Progress progress(stage_cost, iterations);
  auto snapshot = [&](Index iteration) {
    std::ostringstream name;
    name << "iter_" << std::setw(4) << std::setfill('0') << iteration << ".png";
    io::save_png(object_sheet(training, intensities(learner->synthesized())), (out / "snapshots" / name.str()).string());
    io::save_checkpoint(*learner, checkpoint_path.string());
  };

  catch_stop_signals();
  while (global_iteration() < total) {
    if (learner->iteration() >= iterations) start_stage(stage + 1, model.get());  // grow: one more layer
    IterationStats stats = learner->step();
    stats.iteration = global_iteration() - 1;
    stats.stage = stage;
    log.write(stats);
    const Index done = global_iteration();
    std::ostringstream status;
    status << std::fixed << std::setprecision(1) << "f(obs) " << stats.score_observed << "  f(syn) "
           << stats.score_synthesized;
    progress.update(done, total, stage, stats.seconds, status.str());
    if (done % snapshot_every == 0 || done % iterations == 0) snapshot(done);
    if (stop_requested() || done == stop_after) {
      progress.interrupt_line();
      io::save_checkpoint(*learner, checkpoint_path.string());
      std::cerr << "synthesize_objects: " << (stop_requested() ? "interrupted (" : "stopped (") 
                << (stop_requested() ? stop_signal_name() : "--stop-after") << ") after iteration " << done
                << " of " << total << "; checkpoint written to " << checkpoint_path.string()
                << "\ncontinue with: " << resume_command(argc, argv, checkpoint_path) << "\n";
      return stop_requested() ? stop_exit_code() : 0;
    }
  }

  // 5. The synthesized objects: the chains plus the channel means, clipped to 0–255. -----------------
  const Batch<float> synthesized = intensities(learner->synthesized());
  std::vector<std::string> written;
  for (Index n = 0; n < batch_size(synthesized); ++n) {
    std::ostringstream name;
    name << "synthesized_" << std::setw(2) << std::setfill('0') << n << ".png";
    written.push_back((out / name.str()).string());
    io::save_png(image_of(synthesized, n), written.back());
  }
  written.push_back((out / "contact_sheet.png").string());
  io::save_png(object_sheet(training, synthesized), written.back());
  io::save_checkpoint(*learner, checkpoint_path.string());
  written.push_back(checkpoint_path.string());
  written.push_back((out / "weights.safetensors").string());
  io::save_weights(*model, written.back());
  written.push_back((out / "log.csv").string());

  // 6. Where everything went. ------------------------------------------------------------------------
  std::cout << "wrote:\n";
  for (const auto& p : written) std::cout << "  " << p << "\n";
  std::cout << "  " << (out / "snapshots").string() << "/\n";
  return 0;
} catch (...) {
  return report_exception("synthesize_objects", checkpoint_file);
}
