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

#include "support/images.hpp"
#include "support/program.hpp"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = DynamicModel<float>;

namespace {

/// The default net: one 5×5 convolution (16 filters, stride 1) and 16 fully connected filters with a
/// ReLU on top, learned on the images resized to 32×32 with η = 1e-2 for the paper's T = 1200
/// iterations (about 17 s of one core). On the bundled smileys the GRADE error after learning is
/// 0.25–0.43 of the error before (1.000) over three seeds; docs/programs.md has the measurements and
/// the alternatives tried.
const char* const default_layers = "conv:16:5:1:2,relu,fc:16,relu";

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

/// The one-shot reconstruction B = B_{w,δ(I)} of every observed image, and ‖B − I‖/‖I‖ over all of
/// them: the error Prop. 3 says CD descends (cheap: one pass).
struct OneShot {
  Batch<float> B;
  Vector<float> scores;
  double error = 0;
  void update(Model& model, const Batch<float>& observed) {
    model.score_and_gradient(observed, scores, B);
    error = static_cast<double>((as_vector(B) - as_vector(observed)).norm() / as_vector(observed).norm());
  }
};

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet by one-step contrastive divergence and reconstruct the observed "
               "images from its auto-encoding modes (Xie et al. 2016, Exp. 3)"};
  RunOptions run_options;
  RunOptionHelp run_help;
  run_help.snapshot_what = "snapshot and checkpoint";
  std::vector<std::string> inputs;
  std::string layers = default_layers;
  Index iterations = 1200, size = 32, langevin_steps = 1, grade_steps = 1000;
  double learning_rate = 1e-2, step_size = 0.5, grade_step_size = 0.5;
  app.add_option("IMAGES", inputs, "training images, or folders of them; default: the bundled smileys")
      ->check(existing_path());
  add_run_options(app, run_options, run_help);
  app.add_option("--layers", layers, "the ConvNet (parse_layers syntax); all layers learn at once")->capture_default_str();
  app.add_option("--iterations", iterations, "CD learning iterations (the paper: 1200)")->check(positive_integer())
      ->capture_default_str();
  app.add_option("--size", size, "images are cut to a centred square and resized to SIZE x SIZE")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate eta")->check(positive_number())->capture_default_str();
  app.add_option("--step-size", step_size, "Langevin step size epsilon of the CD step (release code: 0.5)")
      ->check(positive_number())->capture_default_str();
  app.add_option("--cd-steps", langevin_steps, "Langevin steps k of CD-k (the paper: 1)")->check(positive_integer())
      ->capture_default_str();
  app.add_option("--grade-step-size", grade_step_size, "step size of the GRADE descent that reconstructs")
      ->check(positive_number())->capture_default_str();
  app.add_option("--grade-steps", grade_steps, "most GRADE steps per reconstruction")->check(positive_integer())
      ->capture_default_str();
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (inputs.empty()) inputs.push_back(bundled_file("objects/smiley", GCONVNET_EXAMPLE_DATA_DIR));
  Run run("cd_reconstruct", run_options, argc, argv);

  // 2. The observed images: size × size, intensities 0–255 minus the per-channel means. --------------
  const std::vector<std::string> files = image_files(inputs);
  const std::vector<Image<float>> images = load_squares(files, size);
  Batch<float> observed = stack_images(images);
  const std::vector<double> means = remove_channel_means(observed);
  std::cout << "observed: " << files.size() << " images from " << inputs[0] << (inputs.size() > 1 ? " ..." : "")
            << ", as " << size << "x" << size << "\n";

  // 3. The model, initialised as in the release code: N(0, 0.01²), biases 0. -------------------------
  Model model(shape_of(images[0]), parse_layers<float>(layers));
  std::mt19937_64 init_engine(run_options.seed);
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
  CdLearner<Model> learner(model, observed, options, run_options.seed);
  run.resume(learner);
  std::cout << "CD-" << langevin_steps << ": " << iterations << " iterations, eps = " << step_size
            << ", eta = " << learning_rate << ", seed " << run_options.seed << "\n";
  OneShot one_shot;
  Learning learning = learning_of(learner, iterations);
  learning.step = [&] {
    const IterationStats stats = learner.step();
    one_shot.update(model, observed);
    return stats;
  };
  learning.log = {"iteration,score_observed,score_synthesized,difference,one_shot_error,seconds,active_observed,"
                  "gradient_norm",
                  [&](const IterationStats& s) {
                    return csv_row(s.iteration, s.score_observed, s.score_synthesized,
                                   s.score_observed - s.score_synthesized, one_shot.error, s.seconds,
                                   s.active_observed, s.gradient_norm);
                  }};
  learning.status = [&](const IterationStats&) {
    std::ostringstream status;
    status << std::fixed << std::setprecision(3) << "|B - I|/|I| " << one_shot.error;
    return status.str();
  };
  learning.snapshot = [&](Index done) {
    io::save_png(two_row_sheet(images, with_channel_means(one_shot.B, means)), run.snapshot_file(done));
  };
  if (const auto stopped = run.learn(learning)) return *stopped;

  // 6. Reconstruction AFTER learning, and the errors. ------------------------------------------------
  const Batch<float> reconstructed = reconstruct(model, observed, grade);
  const std::vector<double> after = relative_errors(reconstructed, observed);
  std::cout << "reconstruction error |I_hat - I|/|I| (GRADE from each observed image, eps = " << grade_step_size
            << "):\n";
  std::string errors = "image,file,before,after\n";
  for (std::size_t n = 0; n < files.size(); ++n) {
    std::cout << "  image " << std::setw(2) << n << "  before " << std::fixed << std::setprecision(4) << before[n]
              << "  after " << after[n] << "  " << std::filesystem::path(files[n]).filename().string() << "\n";
    errors += csv_row(n, files[n], before[n], after[n]) + "\n";
  }
  const double mb = mean(before), ma = mean(after);
  std::cout << "mean  before " << mb << "  after " << ma << "  ratio " << std::setprecision(4) << ma / mb << "\n";
  std::cout << "median  before " << median(before) << "  after " << median(after) << "\n" << std::defaultfloat;

  // 7. The reconstructions and the files. ------------------------------------------------------------
  const Batch<float> shown = with_channel_means(reconstructed, means);
  run.list(save_numbered(shown, run.out(), "reconstruction_"));
  io::save_png(two_row_sheet(images, shown), run.output("contact_sheet.png"));
  write_text_file(run.output("errors.csv"), errors);
  run.save_results(learning, model);
  return run.finish();
} catch (...) {
  return report_exception("cd_reconstruct");
}
