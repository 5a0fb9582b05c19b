// cd_reconstruct — Experiment 3 of the paper (Sec. 8.3, Fig. 8, Proposition 3): contrastive
// divergence learns to reconstruct. One-step CD restarts a Langevin chain AT every observed image,
// takes one step (eq. 6.10) and updates w with the Algorithm 1 rule; with an unchanged activation
// pattern its expected update descends ‖I_obs − B_{w,δ}‖² (Prop. 3). After learning, GRADE (the
// Langevin step without noise, Prop. 2) started from an observed image descends to a nearby local
// mode Î = B_{w,δ(Î)}: that auto-encoding mode is the image's reconstruction.
//
//   cd_reconstruct [IMAGES...] --out DIR [--seed N] [--threads N] [--layers SPEC] [--size N]
//                  [--iterations N] [--step-size EPS] [--learning-rate ETA] [--resume CHECKPOINT]
//
// IMAGES are image files or folders of them (all *.png, *.jpg, *.jpeg inside, sorted by name); they
// default to the smileys bundled in examples/data/objects/smiley. The relative reconstruction error
// ‖Î − I‖/‖I‖ of every image is printed BEFORE learning (the initial weights) and AFTER. Written in DIR:
//   contact_sheet.png            observed images in the first row, their reconstructions below (Fig. 8)
//   reconstruction_00.png ...    the reconstruction Î of every observed image
//   errors.csv                   per image: the file, the error before and after learning
//   snapshots/iter_NNNN.png      observed images and B_{w,δ(I)} (the one-shot reconstruction) during learning
//   log.csv                      one row per learning iteration
//   checkpoint.safetensors       everything needed to continue (--resume)
//   weights.safetensors          the learned parameters alone
// Ctrl-C (or SIGTERM) stops after the current iteration, writes the checkpoint and exits with 128+signal.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/cd_learner.hpp>
#include <gconvnet/sampling/grade.hpp>

#include <CLI/CLI.hpp>

#include "support/program.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
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

/// The default net: one 5×5 convolution (16 filters, stride 1) and 16 fully connected filters with a
/// ReLU on top, learned on the images resized to 32×32 with η = 1e-2 for the paper's T = 1200
/// iterations (about 17 s of one core). Measured on the bundled smileys (GRADE error after learning,
/// mean over the images; before learning it is 1.000): 0.25, 0.30 and 0.43 for seeds 2016, 1 and 2.
/// Half of the images come back within 0.03–0.07; the others' GRADE descent drifts to a neighbouring
/// mode (another smiley or a blend), although the one-shot B_{w,δ(I)} of every image is within about
/// 0.05. Measured alternatives: the Exp. 2 net with 7×7 stride-2 filters (at 64², fc:1 or fc:10) gives
/// one-shot errors of 0.1–0.3 but GRADE errors of 0.58–0.89, a stationary net without the fc layer
/// (the structure of Exp. 1) 0.94–1.38; η = 2e-2 is noisy at 32² and diverges at 64², where even
/// η = 5e-3 diverges after about 600 iterations and η = 2.5e-3 reaches 0.57 in 1200 (4 times the cost).
const char* const default_layers = "conv:16:5:1:2,relu,fc:16,relu";

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
    if (found.empty()) throw Error("cd_reconstruct: the folder '" + in + "' holds no .png/.jpg image");
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

/// Observed images in the first row, the matching images of `below` in the second (Fig. 8); 0–255.
Image<float> pair_sheet(const Batch<float>& observed, const Batch<float>& below) {
  std::vector<Image<float>> cells;
  for (Index n = 0; n < batch_size(observed); ++n) cells.push_back(image_of(observed, n));
  for (Index n = 0; n < batch_size(below); ++n) cells.push_back(image_of(below, n));
  io::GridOptions grid;
  grid.columns = batch_size(observed);
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
    out_ << "iteration,score_observed,score_synthesized,difference,one_shot_error,seconds,active_observed,"
            "gradient_norm\n";
    for (const auto& line : kept) out_ << line << "\n";
    out_.flush();
  }
  void write(const IterationStats& s, double one_shot) {
    out_ << s.iteration << "," << s.score_observed << "," << s.score_synthesized << ","
         << s.score_observed - s.score_synthesized << "," << one_shot << "," << s.seconds << ","
         << join(s.active_observed) << "," << join(s.gradient_norm) << "\n";
    out_.flush();
  }

private:
  std::ofstream out_;
};

// ---------------------------------------------------------------------------------------------------
// Reconstruction.

/// ‖a_n − b_n‖/‖b_n‖ for every image n.
std::vector<double> relative_errors(const Batch<float>& a, const Batch<float>& b) {
  std::vector<double> e;
  const auto ca = as_columns(a), cb = as_columns(b);
  for (Index n = 0; n < batch_size(a); ++n)
    e.push_back(static_cast<double>((ca.col(n) - cb.col(n)).norm() / std::max(cb.col(n).norm(), 1e-30f)));
  return e;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// GRADE from every observed image to its local mode Î (the reconstruction, Prop. 2).
Batch<float> reconstruct(Model& model, const Batch<float>& observed, const GradeOptions& options) {
  Batch<float> x = observed;
  grade_descent(model, x, options);
  return x;
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet by one-step contrastive divergence and reconstruct the observed "
               "images from its auto-encoding modes (Xie et al. 2016, Exp. 3)"};
  std::vector<std::string> inputs;
  std::string out_dir, layers = default_layers, resume;
  std::uint64_t seed = 2016;
  int threads = 0;
  Index iterations = 1200, size = 32, langevin_steps = 1, snapshot_every = 100, grade_steps = 1000;
  double learning_rate = 1e-2, step_size = 0.5, grade_step_size = 0.5;
  app.add_option("IMAGES", inputs, "training images, or folders of them; default: the bundled smileys")
      ->check(CLI::ExistingPath);
  app.add_option("--out", out_dir, "output directory (created)")->required();
  app.add_option("--seed", seed, "random seed (weights' initialisation, Langevin noise)")->capture_default_str();
  app.add_option("--threads", threads, "threads for OpenMP and Eigen (0: their default)")->check(CLI::NonNegativeNumber);
  app.add_option("--layers", layers, "the ConvNet (parse_layers syntax); all layers learn at once")->capture_default_str();
  app.add_option("--iterations", iterations, "CD learning iterations (the paper: 1200)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--size", size, "images are cut to a centred square and resized to SIZE x SIZE")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate eta")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--step-size", step_size, "Langevin step size epsilon of the CD step (release code: 0.5)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--cd-steps", langevin_steps, "Langevin steps k of CD-k (the paper: 1)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--grade-step-size", grade_step_size, "step size of the GRADE descent that reconstructs")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--grade-steps", grade_steps, "most GRADE steps per reconstruction")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--snapshot-every", snapshot_every, "snapshot and checkpoint every N iterations")
      ->check(CLI::PositiveNumber)->capture_default_str();
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

  // 2. The observed images: size × size, intensities 0–255 minus the per-channel means. --------------
  const std::vector<std::string> files = image_files(inputs);
  std::vector<Image<float>> images;
  for (const auto& f : files) images.push_back(square(io::load_image<float>(f), size));
  Batch<float> observed = make_batch<float>(shape_of(images[0]), static_cast<Index>(images.size()));
  for (std::size_t n = 0; n < images.size(); ++n)
    std::copy(images[n].data(), images[n].data() + images[n].size(), observed.data() + n * images[n].size());
  const std::vector<double> means = channel_means(observed);
  Batch<float> observed_intensities = observed;
  subtract_channel_means(observed, means);
  auto intensities = [&](const Batch<float>& b) {
    Batch<float> out_b = b;
    add_channel_means(out_b, means);
    return out_b;
  };
  std::cout << "observed: " << files.size() << " images from " << inputs[0] << (inputs.size() > 1 ? " ..." : "")
            << ", as " << size << "x" << size << "\n";

  // 3. The model, initialised as in the release code: N(0, 0.01²), biases 0. -------------------------
  Model model(shape_of(images[0]), parse_layers<float>(layers));
  std::mt19937_64 init_engine(seed);
  initialize_normal(model, init_engine, 0.01, 0.0);
  std::cout << model.summary();

  // 4. Reconstruction BEFORE learning: GRADE from each observed image with the initial weights. ------
  GradeOptions grade;
  grade.step_size = grade_step_size;
  grade.max_steps = grade_steps;
  grade.tolerance = 1e-6;
  const std::vector<double> before = relative_errors(reconstruct(model, observed, grade), observed);

  // 5. One-step CD (all layers at once, Sec. 8.3): chains restart at the observed images every
  //    iteration, k Langevin steps, then w ← w + η (H_obs − H_syn) with the release code's update. ---
  LearningOptions options;
  options.langevin = {step_size, langevin_steps, 1.0};
  options.optimizer.learning_rate = learning_rate;
  CdLearner<Model> learner(model, observed, options, seed);
  if (!resume.empty()) {
    io::load_checkpoint(learner, resume);
    std::cout << "resumed from " << resume << " at iteration " << learner.iteration() << "\n";
  }
  std::cout << "CD-" << langevin_steps << ": " << iterations << " iterations, eps = " << step_size
            << ", eta = " << learning_rate << ", seed " << seed << "\n";

  const fs::path checkpoint_path = out / "checkpoint.safetensors";
  checkpoint_file = checkpoint_path.string();
  CsvLog log(out / "log.csv", learner.iteration());
  Progress progress({1.0}, iterations);
  Vector<float> scores;
  Batch<float> one_shot;
  // ‖B_{w,δ(I)} − I‖/‖I‖ over all images: the error Prop. 3 says CD descends (cheap: one pass).
  auto one_shot_error = [&] {
    model.score_and_gradient(observed, scores, one_shot);
    return static_cast<double>((as_vector(one_shot) - as_vector(observed)).norm() / as_vector(observed).norm());
  };
  catch_stop_signals();
  while (learner.iteration() < iterations) {
    IterationStats stats = learner.step();
    const double err = one_shot_error();
    log.write(stats, err);
    const Index done = learner.iteration();
    std::ostringstream status;
    status << std::fixed << std::setprecision(3) << "|B - I|/|I| " << err;
    progress.update(done, iterations, 0, stats.seconds, status.str());
    if (done % snapshot_every == 0 || done == iterations) {
      std::ostringstream name;
      name << "iter_" << std::setw(4) << std::setfill('0') << done << ".png";
      io::save_png(pair_sheet(observed_intensities, intensities(one_shot)), (out / "snapshots" / name.str()).string());
      io::save_checkpoint(learner, checkpoint_path.string());
    }
    if (stop_requested()) {
      progress.interrupt_line();
      io::save_checkpoint(learner, checkpoint_path.string());
      std::cerr << "cd_reconstruct: interrupted (" << stop_signal_name() << ") after iteration " << done << " of "
                << iterations << "; checkpoint written to " << checkpoint_path.string()
                << "\ncontinue with: " << resume_command(argc, argv, checkpoint_path) << "\n";
      return stop_exit_code();
    }
  }

  // 6. Reconstruction AFTER learning, and the errors. ------------------------------------------------
  const Batch<float> reconstructed = reconstruct(model, observed, grade);
  const std::vector<double> after = relative_errors(reconstructed, observed);
  std::cout << "reconstruction error |I_hat - I|/|I| (GRADE from each observed image, eps = " << grade_step_size
            << "):\n";
  std::ofstream errors(out / "errors.csv");
  errors << "image,file,before,after\n";
  for (std::size_t n = 0; n < files.size(); ++n) {
    std::cout << "  image " << std::setw(2) << n << "  before " << std::fixed << std::setprecision(4) << before[n]
              << "  after " << after[n] << "  " << fs::path(files[n]).filename().string() << "\n";
    errors << n << "," << files[n] << "," << before[n] << "," << after[n] << "\n";
  }
  const double mb = mean(before), ma = mean(after);
  std::cout << "mean  before " << mb << "  after " << ma << "  ratio " << std::setprecision(4) << ma / mb << "\n";
  std::cout << "median  before " << median(before) << "  after " << median(after) << "\n" << std::defaultfloat;

  std::vector<std::string> written;
  const Batch<float> shown = intensities(reconstructed);
  for (Index n = 0; n < batch_size(shown); ++n) {
    std::ostringstream name;
    name << "reconstruction_" << std::setw(2) << std::setfill('0') << n << ".png";
    written.push_back((out / name.str()).string());
    io::save_png(image_of(shown, n), written.back());
  }
  written.push_back((out / "contact_sheet.png").string());
  io::save_png(pair_sheet(observed_intensities, shown), written.back());
  written.push_back((out / "errors.csv").string());
  io::save_checkpoint(learner, checkpoint_path.string());
  written.push_back(checkpoint_path.string());
  written.push_back((out / "weights.safetensors").string());
  io::save_weights(model, written.back());
  written.push_back((out / "log.csv").string());

  // 7. Where everything went. ------------------------------------------------------------------------
  std::cout << "wrote:\n";
  for (const auto& p : written) std::cout << "  " << p << "\n";
  std::cout << "  " << (out / "snapshots").string() << "/\n";
  return 0;
} catch (...) {
  return report_exception("cd_reconstruct", checkpoint_file);
}
