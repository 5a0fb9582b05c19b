// prototype_dictionary — the prototype model of Sec. 5 learned from image patches:
//   p(I; w) = exp(Σ_k max(0, ⟨w_k, I⟩ + b_k)) q(I) / Z(w),   q(I) = N(0, σ² = 1)     (eq. 5.1, 5.2)
// K filters w_k, each as large as the patch, learned by maximum likelihood (Algorithm 1: persistent
// Langevin chains, eq. 5.6) from small patches cut at random positions from one image. At the MLE the
// model matches, for every filter k, the two moments of eq. 5.8:
//   the frequency        E[δ_k]      with which filter k is on, δ_k = 1(⟨w_k, I⟩ + b_k > 0) (eq. 5.3),
//   the δ-weighted mean  E[δ_k I]    the average of the patches on which it is on.
// The filters are also basis functions: a local mode of the model is Σ_k δ_k w_k (eq. 5.7).
//
//   prototype_dictionary [IMAGE] --out DIR [--seed N] [--threads N] [--filters K] [--patch-size P]
//                        [--patches N] [--iterations T] [--step-size EPS] [--learning-rate ETA]
//                        [--channels 1|3] [--contrast S] [--resume CHECKPOINT]
//
// IMAGE defaults to the gravel texture bundled in examples/data/.
//
// Preprocessing. Each patch has its own mean subtracted (per channel), so that no filter is spent on
// brightness, and then all patches are divided by ONE number, chosen so that their RMS intensity is S
// (--contrast, default 3) in units of the reference σ = 1. One number for all keeps the relative
// contrast of flat and busy patches, which is part of what the model must learn (per-patch
// normalisation would remove it); S sets the patches against the white noise of q: the model can only
// add variance to q (its pieces are N(Σ δ_k w_k, 1), eq. 5.5), so the patches must stand out of σ = 1
// where they have structure. With S = 3 a patch has 9 times the energy of the noise.
//
// Learning. Plain SGD ascent on eq. 5.8 (no weight decay, the same η for biases, no gradient cap, so
// that its fixed point is eq. 5.8 exactly): η for the first two thirds of the iterations, η/10 for the
// last third, where the persistent chains then follow the slowly changing model more closely.
//
// The moment mismatch, printed at initialisation (small random filters, N(0, 0.01²), biases 0) and
// after learning:
//   D = sqrt( (1/K) Σ_k [ (E_obs δ_k − E_syn δ_k)² + (1/P) ‖E_obs[δ_k I] − E_syn[δ_k I]‖² ] )
// where P = channels × patch-size², E_obs averages over the observed patches and E_syn over
// evaluation chains: --eval-chains chains run --eval-steps Langevin steps with the weights held fixed
// (at initialisation from zero; after learning from the learner's chains). D is the root mean square
// over filters of the log-likelihood gradient of eq. 5.8 (the bias entry, and the RMS per pixel of the
// weight entries), in units of the preprocessed intensities; it is 0 at an exact MLE with exact
// expectations. Its Monte Carlo noise level (the D that the sampling error of E_syn alone would give,
// from the per-sample variances) is printed with it, and then the ratio D(after) / D(initialisation).
//
// Written in DIR:
//   filters.png              the filters, most often on (on observed patches) first; each rescaled
//                            on its own: 0 is grey, +max|w_k| white, −max|w_k| black
//   observed.png             observed patches, synthesized.png synthesized ones (the same intensity map)
//   piece_means.png          for each synthesized patch, the mean Σ_k δ_k w_k of its Gaussian piece
//                            (eq. 5.5): the patch without the white noise of q
//   overview.png             the filters above; observed, synthesized and piece means below
//   moments.csv              per filter: both moments, observed and synthesized, before and after learning
//   log.csv                  one row per learning iteration
//   checkpoint.safetensors   everything needed to continue (--resume); weights.safetensors the filters alone
// Ctrl-C (or SIGTERM) stops after the current iteration, writes the checkpoint and exits with 128+signal.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/sampling/langevin.hpp>

#include <CLI/CLI.hpp>

#include "support/images.hpp"
#include "support/program.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using S = float;
using Prototype = EnergyModel<Conv<S>, ReLU<S>>;  // f(I) = Σ_k max(0, ⟨w_k, I⟩ + b_k)   (eq. 5.1)

namespace {

// ---------------------------------------------------------------------------------------------------
// The observed patches.

/// `count` patches of size × size cut at uniformly random positions of `image`, each minus its own
/// mean (per channel), then all divided by one number so that their RMS intensity is `contrast`.
/// Returns the patches and that number (in 0–255 units per unit of the result).
std::pair<Batch<S>, double> cut_patches(const Image<S>& image, Index size, Index count, double contrast,
                                        std::mt19937_64& engine) {
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  if (H < size || W < size)
    throw Error("the image is " + std::to_string(W) + "x" + std::to_string(H) + ", smaller than --patch-size " +
                std::to_string(size));
  std::uniform_int_distribution<Index> row(0, H - size), col(0, W - size);
  Batch<S> patches = make_batch<S>(Shape{C, size, size}, count);
  for (Index n = 0; n < count; ++n) {
    const Index r0 = row(engine), c0 = col(engine);
    for (Index c = 0; c < C; ++c) {
      double mean = 0;
      for (Index x = 0; x < size; ++x)
        for (Index y = 0; y < size; ++y) mean += image(c, r0 + y, c0 + x);
      mean /= static_cast<double>(size * size);
      for (Index x = 0; x < size; ++x)
        for (Index y = 0; y < size; ++y) patches(c, y, x, n) = static_cast<S>(image(c, r0 + y, c0 + x) - mean);
    }
  }
  const double rms =
      std::sqrt(as_vector(patches).template cast<double>().squaredNorm() / static_cast<double>(patches.size()));
  if (!(rms > 1e-3)) throw Error("every patch of the image is flat: there is nothing to learn");
  as_vector(patches) *= static_cast<S>(contrast / rms);
  return {patches, rms / contrast};
}

// ---------------------------------------------------------------------------------------------------
// The moments of eq. 5.8 and the mismatch D (see the top of this file).

/// Per filter k over n patches: the frequency E[δ_k], the δ-weighted mean patch E[δ_k I] (pixels × K)
/// and the second moment E[δ_k I²] per pixel (for the Monte Carlo error).
struct Moments {
  Vector<double> frequency;
  Matrix<double> mean_patch;
  Matrix<double> second;
  double n = 0;
};

Moments moments(Prototype& model, const Batch<S>& patches) {
  const ActivationPattern<S> p = model.bottom_up(patches);
  const Matrix<double> gate = as_columns(p.layers[1].gate).template cast<double>();  // K × n: δ (eq. 5.3)
  const Matrix<double> x = as_columns(patches).template cast<double>();               // pixels × n
  const double n = static_cast<double>(batch_size(patches));
  return {gate.rowwise().sum() / n, x * gate.transpose() / n, x.cwiseAbs2() * gate.transpose() / n, n};
}

struct Mismatch {
  Vector<double> frequency_difference;  // per filter: E_obs δ_k − E_syn δ_k
  Vector<double> mean_patch_rms;        // per filter: ‖E_obs[δ_k I] − E_syn[δ_k I]‖ / sqrt(P)
  double total = 0;                     // D
  double frequency_part = 0;            // the RMS over filters of frequency_difference
  double mean_patch_part = 0;           // the RMS over filters of mean_patch_rms
  double noise = 0;                     // sqrt(E[D²]) when the moments agree and E_syn has sampling error only
};

Mismatch mismatch(const Moments& obs, const Moments& syn) {
  const double P = static_cast<double>(obs.mean_patch.rows()), K = static_cast<double>(obs.frequency.size());
  Mismatch m;
  m.frequency_difference = obs.frequency - syn.frequency;
  m.mean_patch_rms = ((obs.mean_patch - syn.mean_patch).colwise().squaredNorm().transpose() / P).cwiseSqrt();
  m.frequency_part = std::sqrt(m.frequency_difference.squaredNorm() / K);
  m.mean_patch_part = std::sqrt(m.mean_patch_rms.squaredNorm() / K);
  m.total = std::sqrt((m.frequency_difference.squaredNorm() + m.mean_patch_rms.squaredNorm()) / K);
  // Var of the estimated moments: Var(δ_k)/n and Var(δ_k I_x)/n (the observed side is exact: E_obs
  // is defined as the average over the observed patches).
  const double variance = (syn.frequency.array() * (1 - syn.frequency.array())).sum() +
                          (syn.second - syn.mean_patch.cwiseAbs2()).sum() / P;
  m.noise = std::sqrt(variance / syn.n / K);
  return m;
}

/// Evaluation chains: `count` chains started from `start` (repeated as needed) or from zero, then
/// `steps` Langevin steps (eq. 5.6) with the model's weights held fixed.
Batch<S> evaluation_chains(Prototype& model, Index count, const Batch<S>* start, LangevinOptions options, Index steps,
                           std::uint64_t seed) {
  Batch<S> chains = make_batch<S>(model.input_shape(), count);
  chains.setZero();
  if (start != nullptr) {
    const auto from = as_columns(*start);
    auto to = as_columns(chains);
    for (Index n = 0; n < count; ++n) to.col(n) = from.col(n % from.cols());
  }
  std::mt19937_64 engine(seed);
  LangevinWorkspace<S> workspace;
  options.steps = steps;
  langevin(model, chains, options, engine, workspace);
  return chains;
}

// ---------------------------------------------------------------------------------------------------
// Pictures.

io::GridOptions grid_options(Index columns) {
  io::GridOptions grid;
  grid.columns = columns;
  grid.gap = 2;
  return grid;
}

/// The filters in the given order, each rescaled on its own: 0 → 127.5 (grey), ±max|w_k| → 255 / 0.
Image<S> filter_grid(Prototype& model, const std::vector<Index>& order, Index factor, Index columns) {
  const Batch<S>& w = model.layer<0>().weights();  // (K, C, h, w)
  const Index C = w.dimension(1), h = w.dimension(2), wd = w.dimension(3);
  std::vector<Image<S>> tiles;
  for (Index k : order) {
    Image<S> f(C, h, wd);
    double largest = 1e-12;
    for (Index x = 0; x < wd; ++x)
      for (Index y = 0; y < h; ++y)
        for (Index c = 0; c < C; ++c) {
          f(c, y, x) = w(k, c, y, x);
          largest = std::max(largest, std::abs(static_cast<double>(f(c, y, x))));
        }
    tiles.push_back(enlarge(f, factor, 127.5, 127.5 / largest));
  }
  return io::image_grid(tiles, grid_options(std::min<Index>(columns, static_cast<Index>(tiles.size()))));
}

/// The first `count` patches of a batch; intensity v ↦ 127.5 + v·127.5/(3·contrast) (±3 RMS span
/// 0–255), the same map for observed and synthesized patches.
Image<S> patch_grid(const Batch<S>& patches, Index count, Index factor, double contrast, Index columns) {
  std::vector<Image<S>> tiles;
  for (Index n = 0; n < std::min(count, batch_size(patches)); ++n)
    tiles.push_back(enlarge(image_of(patches, n), factor, 127.5, 127.5 / (3 * contrast)));
  return io::image_grid(tiles, grid_options(std::min<Index>(columns, static_cast<Index>(tiles.size()))));
}

/// Images one below the other, each centred, `gap` pixels of white between and around them.
Image<S> stack_rows(const std::vector<Image<S>>& rows, Index gap) {
  Index height = gap, width = 0;
  for (const auto& r : rows) {
    height += r.dimension(1) + gap;
    width = std::max(width, r.dimension(2) + 2 * gap);
  }
  Image<S> out(rows.front().dimension(0), height, width);
  out.setConstant(255);
  Index top = gap;
  for (const auto& r : rows) {
    const Index left = (width - r.dimension(2)) / 2;
    for (Index x = 0; x < r.dimension(2); ++x)
      for (Index y = 0; y < r.dimension(1); ++y)
        for (Index c = 0; c < r.dimension(0); ++c) out(c, top + y, left + x) = r(c, y, x);
    top += r.dimension(1) + gap;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Learning: plain SGD on eq. 5.8, η for the first two thirds of the iterations, η/10 after.

/// The learner's options at learning rate `eta`: no weight decay, the same η for biases, no gradient
/// cap, so that the fixed point is eq. 5.8 exactly.
LearningOptions learning_options(double eta, Index chains, const LangevinOptions& langevin) {
  LearningOptions options;
  options.chains = chains;
  options.langevin = langevin;
  options.optimizer.learning_rate = eta;
  options.optimizer.weight_decay = 0;
  options.optimizer.bias_learning_rate_multiplier = 1;
  options.optimizer.gradient_cap = 0;
  return options;
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{
      "Learn the prototype model of Sec. 5 (K filters as large as the patch, ReLU, white-noise reference) from "
      "image patches by maximum likelihood, and check the moment matching of eq. 5.8 (Xie et al. 2016).\n"
      "Moment mismatch D = sqrt( (1/K) sum_k [ (E_obs d_k - E_syn d_k)^2 + |E_obs[d_k I] - E_syn[d_k I]|^2 / P ] ), "
      "d_k = 1(<w_k, I> + b_k > 0), P pixels per patch, E_obs over the observed patches, E_syn over evaluation "
      "chains; printed at initialisation and after learning with its Monte Carlo noise level and the ratio "
      "after / initialisation."};
  RunOptions run_options;
  run_options.snapshot_every = 500;
  RunOptionHelp run_help;
  run_help.seeded = "patch positions, initial filters, Langevin noise";
  run_help.snapshot_flag = "--checkpoint-every";
  run_help.snapshot_what = "write the checkpoint";
  std::string image_path;
  Index filters = 16, patch_size = 12, patches = 4096, iterations = 3000, chains = 512, langevin_steps = 10;
  Index channels = 1, eval_chains = 4096, eval_steps = 1000;
  double step_size = 0.3, learning_rate = 0.05, contrast = 3.0;
  app.add_option("IMAGE", image_path, "the image to cut patches from (PNG/JPEG); default: the bundled gravel")
      ->check(existing_file());
  add_run_options(app, run_options, run_help);
  app.add_option("--filters", filters, "K, the number of filters")->check(positive_integer())->capture_default_str();
  app.add_option("--patch-size", patch_size, "patches (and filters) are P x P pixels")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--patches", patches, "number of observed patches")->check(positive_integer())->capture_default_str();
  app.add_option("--channels", channels, "1: grey (colour converted to luminance), 3: colour")
      ->check(one_of({"1", "3"}))->capture_default_str();
  app.add_option("--contrast", contrast, "RMS intensity of the preprocessed patches, in units of the reference sigma = 1")
      ->check(positive_number())->capture_default_str();
  app.add_option("--iterations", iterations, "learning iterations (the last third at learning rate / 10)")
      ->check(non_negative_integer())->capture_default_str();
  app.add_option("--chains", chains, "persistent Langevin chains of the learner")->check(positive_integer())->capture_default_str();
  app.add_option("--step-size", step_size, "Langevin step size epsilon (eq. 5.6)")->check(positive_number())->capture_default_str();
  app.add_option("--langevin-steps", langevin_steps, "Langevin steps per learning iteration")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "SGD learning rate eta: w <- w + eta (H_obs - H_syn) (eq. 5.8)")
      ->check(positive_number())->capture_default_str();
  app.add_option("--eval-chains", eval_chains, "evaluation chains for the moments")->check(positive_integer())->capture_default_str();
  app.add_option("--eval-steps", eval_steps, "Langevin steps of the evaluation chains (weights fixed)")
      ->check(positive_integer())->capture_default_str();
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (image_path.empty()) image_path = bundled_file("gravel_128.png", GCONVNET_EXAMPLE_DATA_DIR);
  const std::uint64_t seed = run_options.seed;
  Run run("prototype_dictionary", run_options, argc, argv, {});

  // 2. The observed patches: cut at random positions, each minus its mean, one global contrast. -----
  io::LoadImageOptions load;
  load.channels = channels;
  const Image<S> image = io::load_image<S>(image_path, load);
  std::mt19937_64 engine(seed);
  const auto [observed, divisor] = cut_patches(image, patch_size, patches, contrast, engine);
  std::cout << "observed: " << patches << " patches of " << channels << "x" << patch_size << "x" << patch_size
            << " from " << image_path << " (" << image.dimension(2) << "x" << image.dimension(1)
            << "), each minus its mean, divided by " << std::setprecision(4) << divisor << " (RMS " << contrast
            << ")\n";

  // 3. The prototype model: K filters as large as the patch, then ReLU (eq. 5.1); small random filters.
  Prototype model(shape_of(observed), Conv<S>::fully_connected(filters), ReLU<S>{});
  initialize_normal(model, engine, 0.01, 0.0);
  const Index P = channels * patch_size * patch_size;
  const LangevinOptions langevin{step_size, langevin_steps, 1.0};

  // 4. The moments at initialisation: the observed patches against the initial model's own samples. -
  const Moments obs_init = moments(model, observed);
  const Moments syn_init = moments(model, evaluation_chains(model, eval_chains, nullptr, langevin, eval_steps, seed + 1));
  const Mismatch before = mismatch(obs_init, syn_init);

  // 5. Algorithm 1: L Langevin steps on the persistent chains, then w ← w + η (H_obs − H_syn) (eq. 5.8),
  //    η for the first two thirds of the iterations and η/10 after.
  const Index slow_from = iterations - iterations / 3;
  MleLearner<Prototype> learner(model, observed, learning_options(learning_rate, chains, langevin), seed + 2);
  run.resume(learner);  // a checkpoint taken after slow_from holds η/10 already
  if (learner.iteration() >= slow_from) learner.set_learning_rate(learning_rate / 10);
  std::cout << "model: K = " << filters << " filters of " << P << " pixels; " << chains << " chains, L = "
            << langevin_steps << ", eps = " << step_size << ", eta = " << learning_rate << " (then "
            << learning_rate / 10 << " from iteration " << slow_from << "), " << iterations << " iterations, seed "
            << seed << "\n";
  Learning learning = learning_of(learner, iterations);
  learning.step = [&]() -> const IterationStats& {
    if (learner.iteration() == slow_from) learner.set_learning_rate(learning_rate / 10);
    return learner.step();
  };
  learning.log = {"iteration,learning_rate,score_observed,score_synthesized,on_observed,on_synthesized,gradient_norm,"
                  "seconds",
                  [](const IterationStats& s) {
                    return csv_row(s.iteration, s.learning_rate, s.score_observed, s.score_synthesized,
                                   s.active_observed.at(0), s.active_synthesized.at(0), s.gradient_norm.at(0), s.seconds);
                  }};
  learning.status = [](const IterationStats& s) {
    std::ostringstream status;
    status << std::fixed << std::setprecision(3) << "on: obs " << s.active_observed.at(0) << " syn "
           << s.active_synthesized.at(0) << "  |H_obs-H_syn| " << s.gradient_norm.at(0);
    return status.str();
  };
  learning.print_every = 250;
  if (const auto stopped = run.learn(learning)) return *stopped;

  // 6. The moments after learning: evaluation chains continue the learner's chains with the learned
  //    weights held fixed.
  const Moments obs_after = moments(model, observed);
  const Batch<S> synthesized =
      evaluation_chains(model, eval_chains, &learner.synthesized(), langevin, eval_steps, seed + 3);
  const Moments syn_after = moments(model, synthesized);
  const Mismatch after = mismatch(obs_after, syn_after);

  // The filters in order of their frequency on the observed patches, most often on first.
  std::vector<Index> order(static_cast<std::size_t>(filters));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](Index a, Index b) { return obs_after.frequency(a) > obs_after.frequency(b); });

  std::cout << "\nper filter (eq. 5.8), observed vs synthesized: the frequency E[d_k], and the RMS per pixel of "
               "E_obs[d_k I] - E_syn[d_k I]\n"
            << "  rank filter |  initial: freq obs  freq syn  mean RMS |  learned: freq obs  freq syn  mean RMS "
               "|  |w_k|     b_k\n";
  std::string table = "rank,filter,initial_frequency_observed,initial_frequency_synthesized,initial_mean_patch_rms,"
                      "frequency_observed,frequency_synthesized,mean_patch_rms,weight_norm,bias\n";
  const auto& conv = model.layer<0>();
  for (std::size_t r = 0; r < order.size(); ++r) {
    const Index k = order[r];
    double norm = 0;
    for (Index i = 0; i < P; ++i) norm += std::pow(static_cast<double>(conv.weights().data()[k + i * filters]), 2);
    norm = std::sqrt(norm);
    std::cout << std::fixed << std::setprecision(4) << "  " << std::setw(4) << r << " " << std::setw(6) << k
              << " |             " << obs_init.frequency(k) << "    " << syn_init.frequency(k) << "    "
              << before.mean_patch_rms(k) << " |            " << obs_after.frequency(k) << "    "
              << syn_after.frequency(k) << "    " << after.mean_patch_rms(k) << " | " << std::setprecision(2)
              << std::setw(6) << norm << " " << std::setw(7) << conv.bias()(k) << "\n";
    table += csv_row(r, k, obs_init.frequency(k), syn_init.frequency(k), before.mean_patch_rms(k),
                     obs_after.frequency(k), syn_after.frequency(k), after.mean_patch_rms(k), norm, conv.bias()(k)) +
             "\n";
  }
  auto report = [&](const char* when, const Mismatch& m) {
    std::cout << "moment mismatch D " << when << m.total << "  (frequency part " << m.frequency_part
              << ", mean-patch part " << m.mean_patch_part << "; Monte Carlo noise level " << m.noise << ")\n";
  };
  std::cout << std::defaultfloat << std::setprecision(4) << "\n";
  report("at initialisation: ", before);
  report("after learning:    ", after);
  std::cout << "moment mismatch ratio (after / initialisation): " << after.total / before.total << "\n";

  // 7. Pictures and files. ---------------------------------------------------------------------------
  const Index factor = std::max<Index>(1, 36 / patch_size);
  const Image<S> filter_picture = filter_grid(model, order, factor, 8);
  const Image<S> observed_picture = patch_grid(observed, 16, factor, contrast, 4);
  const Image<S> synthesized_picture = patch_grid(synthesized, 16, factor, contrast, 4);
  // The mean Σ_k δ_k w_k of the Gaussian piece each synthesized patch lies in (eq. 5.5): the
  // synthesized patch without the white noise of q, built from the filters as basis functions.
  const Batch<S> piece_means = model.top_down(model.bottom_up(synthesized)).B;
  const Image<S> piece_mean_picture = patch_grid(piece_means, 16, factor, contrast, 4);
  io::save_png(filter_picture, run.output("filters.png"));
  io::save_png(observed_picture, run.output("observed.png"));
  io::save_png(synthesized_picture, run.output("synthesized.png"));
  io::save_png(piece_mean_picture, run.output("piece_means.png"));
  io::GridOptions three_columns = grid_options(3);
  three_columns.gap = 8;
  three_columns.background = 255;
  const Image<S> patch_pictures =
      io::image_grid<S>({observed_picture, synthesized_picture, piece_mean_picture}, three_columns);
  io::save_png(stack_rows({filter_picture, patch_pictures}, 8), run.output("overview.png"));
  write_text_file(run.output("moments.csv"), table);
  run.save_results(learning, model);
  return run.finish();
} catch (...) {
  return report_exception("prototype_dictionary");
}
