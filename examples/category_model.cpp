// category_model — Sections 2–3 of the paper (Def. 1–2, Prop. 1): the discriminative ConvNet
//   p(c | I; w) = exp(f_c(I; w) + b_c) / Σ_c' exp(f_c'(I; w) + b_c')                      (eq. 2.3)
// and the generative ConvNets p_c(I; w) = exp(f_c(I; w)) q(I) / Z_c(w)                    (eq. 3.1)
// are two views of one model. On two or more categories of aligned images, the last images of each
// kept aside:
//   (a) learns every p_c by maximum likelihood (Algorithm 1), estimates log Z_c by annealed importance
//       sampling (AIS) and classifies the held-out images by Prop. 1(a): softmax_c(f_c + b_c) with
//       b_c = log ρ_c − log Z_c is the Bayes posterior;
//   (b) trains the discriminative ConvNet with Gaussian white noise q as a base category (f ≡ 0, b ≡ 0)
//       and synthesizes every category from it by Langevin dynamics: by Prop. 1(b) its exp(f_c) q is p_c,
//       with log Z_c = log(ρ_c/ρ_base) − b_c (model/category_model.hpp derives the sign);
//   and prints both held-out accuracies and every category's held-out log-likelihood under both.
//
//   category_model [CATEGORIES...] --out DIR [--held-out N] [--size N] [--layers SPEC] [--sigma S]
//                  [--mle-iterations N] [--discriminative-iterations N] [--chains N] [--seed N]
//                  [--threads N] [--stop-after N] [--resume CHECKPOINT]
//
// CATEGORIES are folders, one per category, named by the folder (its *.png, *.jpg, *.jpeg sorted by
// name); default: the bundled smileys and faces (examples/data/objects/smiley and face). The last
// --held-out images of every folder are kept aside. Written in DIR:
//   contact_sheet.png         per category a row: training images, (a)'s samples, (b)'s samples
//   results.csv               per model and category: log Z by AIS (and implied by b_c for (b)), its
//                             standard error and run time, held-out and training log-likelihoods
//   held_out.csv              per held-out image: its category and both classifiers' posteriors
//   weights_<category>.safetensors  (a)'s model of every category; weights.safetensors: (b)'s model
//   snapshots/iter_NNNN.png   during (a): a category's training images and its chains
//   log.csv, checkpoint.safetensors  one row per iteration; everything needed to continue (--resume)
// Learning runs in phases — (a) one category after another, then (b) — counted as one sequence of
// iterations; Ctrl-C (or SIGTERM) stops after the current iteration (or, after learning, after the
// current AIS estimate), writes the checkpoint and exits with 128+signal; --resume continues bit for bit.
//
// The intensity scale. The images are the 0–255 intensities minus the channel means of all training
// images, divided by their pixel standard deviation s (55.06 on the bundled images), so that
// q = N(0, σ²) is white noise of the data's energy at σ = 1. At σ = 1 on raw intensities (as the
// release code learns textures) the white-noise base would be told from any image by its energy alone,
// the classifier's f_c would need no structure, and exp(f_c) q would put its mass next to 0. --sigma sets
// σ in units of s for both parts; its default is chosen in docs/programs.md. Log-likelihoods are
// reported as densities of the 0–255 intensities (scaled back: log p − D log s, D = pixels × channels),
// in nats per image and in bits per dimension (−log₂ p / D, lower is better).
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/category_checkpoint.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/io/safetensors.hpp>
#include <gconvnet/learning/discriminative_learner.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/model/category_model.hpp>
#include <gconvnet/sampling/annealed_importance.hpp>
#include <gconvnet/sampling/langevin.hpp>

#include <CLI/CLI.hpp>

#include "support/images.hpp"
#include "support/program.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = DynamicModel<float>;
using Categories = CategoryModel<Model>;

namespace {

/// The shared ConvNet: (a)'s model of a category is this with one fully connected filter on top
/// (fc:1), (b)'s classifier is this with one linear head per category over its top units.
const char* const default_layers = "conv:16:5:2:2,relu,conv:16:3:2:1,relu,fc:16,relu";

// ---------------------------------------------------------------------------------------------------
// The data.

/// One category: its files, split into training and held-out images, and their batches.
struct Category {
  std::string name;
  std::vector<std::string> training_files, held_out_files;
  std::vector<Image<float>> training_images;  // 0–255, for the pictures
  Batch<float> training, held_out;             // the model's scale (see Scale)
};

/// The intensity scale of the file comment: x = (I − channel means) / s.
struct Scale {
  std::vector<double> means;
  double s = 1;
  Batch<float> to_model(Batch<float> images) const {
    subtract_channel_means(images, means);
    as_vector(images) /= static_cast<float>(s);
    return images;
  }
  Batch<float> to_intensities(const Batch<float>& x) const {
    Batch<float> out = x;
    as_vector(out) *= static_cast<float>(s);
    return with_channel_means(out, means);
  }
};

/// The categories in `folders`, the last `held_out` images of each kept aside, and the scale fitted
/// to all training images. throws: Error when a folder has fewer than held_out + 1 images.
std::vector<Category> load_categories(const std::vector<std::string>& folders, Index held_out, Index size,
                                      Index channels, Scale& scale) {
  std::vector<Category> categories;
  std::vector<Image<float>> all;
  for (const auto& folder : folders) {
    Category c;
    c.name = std::filesystem::path(folder).filename().string();
    if (c.name.empty()) c.name = std::filesystem::path(folder).parent_path().filename().string();
    const auto files = image_files({folder});
    if (static_cast<Index>(files.size()) <= held_out)
      throw Error("the category '" + folder + "' has " + std::to_string(files.size()) + " images; --held-out " +
                  std::to_string(held_out) + " needs at least " + std::to_string(held_out + 1));
    const auto split = files.end() - held_out;
    c.training_files.assign(files.begin(), split);
    c.held_out_files.assign(split, files.end());
    c.training_images = load_squares(c.training_files, size, channels);
    all.insert(all.end(), c.training_images.begin(), c.training_images.end());
    categories.push_back(std::move(c));
  }
  Batch<float> pooled = stack_images(all);
  scale.means = remove_channel_means(pooled);
  scale.s = std::sqrt(static_cast<double>(as_vector(pooled).squaredNorm()) / static_cast<double>(pooled.size()));
  for (auto& c : categories) {
    c.training = scale.to_model(stack_images(c.training_images));
    c.held_out = scale.to_model(stack_images(load_squares(c.held_out_files, size, channels)));
  }
  return categories;
}

std::string file_names(const std::vector<std::string>& files) {
  std::string s;
  for (const auto& f : files) s += (s.empty() ? "" : " ") + std::filesystem::path(f).filename().string();
  return s;
}

// ---------------------------------------------------------------------------------------------------
// The phases as one learner: (a)'s MleLearner of every category, then (b)'s DiscriminativeLearner.

/// One learner of PhasedLearner, behind functions.
struct Phase {
  std::string name;                              // e.g. "mle_smiley" (no ';')
  Index iterations = 0;                          // its length
  std::function<Index()> iteration;              // its iterations done
  std::function<IterationStats()> step;          // one iteration (PhasedLearner numbers it)
  std::function<void(const std::string&)> save;  // its checkpoint to a file
  std::function<void(const std::string&)> load;  // and back
};

/// Copies every tensor of `from` whose name starts with `prefix` into `to`, named with `prefix`
/// removed and `add` put in front; returns how many. throws: Error for a dtype other than F32 or F64.
std::size_t copy_tensors(const io::SafetensorsReader& from, const std::string& prefix, const std::string& add,
                         io::SafetensorsWriter& to) {
  std::size_t copied = 0;
  for (const auto& name : from.names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    const auto& e = from.entry(name);
    std::size_t n = 1;
    for (Index d : e.shape) n *= static_cast<std::size_t>(d);
    auto copy = [&](auto zero) {
      std::vector<decltype(zero)> v(n);
      from.copy_to(name, e.shape, v.data());
      to.add(add + name.substr(prefix.size()), e.shape, v.data());
    };
    if (e.dtype == "F32") copy(0.0f);
    else if (e.dtype == "F64") copy(0.0);
    else from.fail("has tensor '", name, "' of dtype ", e.dtype, ", expected F32 or F64");
    ++copied;
  }
  return copied;
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path + "'");
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// What this object represents: phases learned one after another, seen by the skeleton's learning
/// loop as one learner (iteration, step, save_checkpoint, load_checkpoint). The checkpoint is a bundle:
/// one safetensors file holding every begun phase's own checkpoint under "phase<P>/" (a finished
/// phase's last one, the current phase's latest) and the bundle's metadata (format, the phases' names,
/// the first iteration of every begun phase, the global iteration), written atomically, so that the phases
/// on disk always belong together. The learners write and read their checkpoints as files: each goes
/// through a scratch file next to the bundle, removed at once (and at the start, should a kill leave it).
class PhasedLearner {
public:
  PhasedLearner(std::vector<Phase> phases, std::string format, std::filesystem::path scratch)
      : phases_(std::move(phases)), format_(std::move(format)), scratch_(std::move(scratch)), first_{0},
        finished_(phases_.size()) {
    std::error_code ec;
    std::filesystem::remove(scratch_, ec);
  }

  Index num_phases() const { return static_cast<Index>(phases_.size()); }
  /// The current phase.
  Index phase() const { return static_cast<Index>(first_.size()) - 1; }
  /// Iterations done, across phases.
  Index iteration() const { return first_.back() + current().iteration(); }
  /// The iteration the last phase ends at (a finished phase keeps the length it ran).
  Index total() const {
    Index t = first_.back() + std::max(current().iteration(), current().iterations);
    for (Index p = phase() + 1; p < num_phases(); ++p) t += phases_[static_cast<std::size_t>(p)].iterations;
    return t;
  }
  /// True after the current phase's last iteration.
  bool phase_finished() const { return current().iteration() >= current().iterations; }

  /// One iteration of the current phase, or of the next once the current one has finished.
  IterationStats step() {
    if (phase_finished() && phase() + 1 < num_phases()) first_.push_back(iteration());
    IterationStats stats = current().step();
    stats.iteration = iteration() - 1;
    stats.stage = phase();
    return stats;
  }

  /// The bundle of every begun phase's checkpoint to `path` (atomically).
  /// throws: Error when a file cannot be written.
  void save_checkpoint(const std::string& path) {
    io::SafetensorsWriter w;
    for (Index p = 0; p <= phase(); ++p) {
      auto& kept = finished_[static_cast<std::size_t>(p)];
      const std::vector<unsigned char> part = kept.empty() ? saved(phases_[static_cast<std::size_t>(p)]) : kept;
      if (p < phase() && kept.empty()) kept = part;  // a finished phase does not change
      const auto r = io::SafetensorsReader::from_memory(part.data(), part.size(), "phase " + std::to_string(p));
      copy_tensors(r, "", prefix(p), w);
      for (const auto& [key, value] : r.metadata())
        if (key != io::safetensors_checksum_key) w.set_metadata(prefix(p) + key, value);
    }
    std::string firsts;
    for (Index f : first_) firsts += (firsts.empty() ? "" : " ") + std::to_string(f);
    w.set_metadata("format", format_);
    w.set_metadata("phases", names());
    w.set_metadata("first_iterations", firsts);
    w.set_metadata("iteration", std::to_string(iteration()));  // for tools that read a checkpoint's progress
    w.write(path);
  }

  /// Restores what save_checkpoint wrote: every begun phase's learner from its checkpoint.
  /// throws: Error naming the file when it is not such a bundle, is for other phases, or a phase's
  ///         learner refuses its part.
  void load_checkpoint(const std::string& path) {
    const auto r = io::SafetensorsReader::read(path, "load_checkpoint");
    if (r.metadata("format") != format_) r.fail("has format '", r.metadata("format"), "', expected ", format_);
    if (r.metadata("phases") != names())
      r.fail("was written for the phases ", r.metadata("phases"), "; this run has ", names(),
             " (give the same categories as the run that wrote it)");
    std::vector<Index> first;
    std::istringstream in(r.metadata("first_iterations"));
    for (Index f = 0; in >> f;) first.push_back(f);
    if (first.empty() || static_cast<Index>(first.size()) > num_phases() || first[0] != 0 || !in.eof())
      r.fail("has metadata 'first_iterations' = '", r.metadata("first_iterations"), "', expected 1 to ",
             num_phases(), " numbers from 0");
    for (std::size_t p = 0; p < first.size(); ++p) {
      const std::string own = prefix(static_cast<Index>(p));
      io::SafetensorsWriter part;
      if (copy_tensors(r, own, "", part) == 0) r.fail("holds no checkpoint of phase ", p);
      for (const auto& [key, value] : r.metadata())
        if (key.rfind(own, 0) == 0) part.set_metadata(key.substr(own.size()), value);
      part.write(scratch_.string());
      phases_[p].load(scratch_.string());
      std::filesystem::remove(scratch_);
    }
    first_ = first;
    for (auto& f : finished_) f.clear();
  }

private:
  const Phase& current() const { return phases_[static_cast<std::size_t>(phase())]; }
  static std::string prefix(Index p) { return "phase" + std::to_string(p) + "/"; }
  std::string names() const {
    std::string s;
    for (const auto& p : phases_) s += (s.empty() ? "" : "; ") + p.name;
    return s;
  }
  /// The bytes of phase `p`'s checkpoint (through the scratch file).
  std::vector<unsigned char> saved(const Phase& p) const {
    p.save(scratch_.string());
    auto bytes = read_bytes(scratch_.string());
    std::filesystem::remove(scratch_);
    return bytes;
  }

  std::vector<Phase> phases_;
  std::string format_;
  std::filesystem::path scratch_;
  std::vector<Index> first_;                          // the first global iteration of every begun phase
  std::vector<std::vector<unsigned char>> finished_;  // the last checkpoint of finished phases, once made
};

// ---------------------------------------------------------------------------------------------------
// Evaluation.

/// CPU seconds of this process so far.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

/// An AIS estimate with its run time and the range of the runs' own estimates log Ẑ_r.
struct Partition {
  LogPartitionEstimate estimate;
  double low = 0, high = 0, cpu = 0, wall = 0;
};

template <class M>
Partition log_partition(M& model, const LogPartitionOptions& options, std::mt19937_64& engine) {
  Partition p;
  LogPartitionWorkspace<float> ws;
  const double cpu = cpu_seconds();
  const auto wall = std::chrono::steady_clock::now();
  p.estimate = estimate_log_partition(model, options, engine, ws);
  p.cpu = cpu_seconds() - cpu;
  p.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  p.low = ws.run_log_z.minCoeff();
  p.high = ws.run_log_z.maxCoeff();
  return p;
}

/// Mean log-likelihood of `images` under p = exp(f) q / Z (log Z given), as a density of the 0–255
/// intensities: nats per image and bits per dimension (−log₂ p / D).
struct LogLikelihood {
  double nats = 0, bits_per_dim = 0;
};
template <class M>
LogLikelihood mean_log_likelihood(M& model, const Batch<float>& images, double log_z, double sigma, double s) {
  const double D = static_cast<double>(shape_of(images).size());
  LogLikelihood l;
  l.nats = log_likelihood(model, images, log_z, sigma).mean() - D * std::log(s);
  l.bits_per_dim = -l.nats / (D * std::log(2.0));
  return l;
}

/// "log Z 123.45 s.e. 0.52 (runs 122.9 to 124.0) ESS 30.1/32 acceptance 0.71 AIS 12.3 s CPU (20.1 s wall)".
std::string describe(const Partition& p) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << "log Z " << p.estimate.log_z << " s.e. " << p.estimate.standard_error
     << std::setprecision(1) << " (runs " << p.low << " to " << p.high << ") ESS "
     << p.estimate.effective_sample_size << "/" << p.estimate.chains << " acceptance " << std::setprecision(2)
     << p.estimate.acceptance_rate << " AIS " << std::setprecision(1) << p.cpu << " s CPU (" << p.wall << " s wall)";
  if (p.estimate.effective_sample_size < 2)
    os << " [one chain carries the weight: log Z is likely too low, the s.e. too small; see the runs' range]";
  return os.str();
}

std::string describe(const LogLikelihood& held_out, const LogLikelihood& training) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << "held-out log-likelihood " << held_out.nats << " nats, bits/dim "
     << std::setprecision(3) << held_out.bits_per_dim << " (training " << training.bits_per_dim << ")";
  return os.str();
}

/// Ends the program after learning when Ctrl-C or SIGTERM arrived during the evaluation.
std::optional<int> stopped_in_evaluation(const Run& run, int argc, char** argv) {
  if (!stop_requested()) return std::nullopt;
  std::cerr << "category_model: interrupted (" << stop_signal_name()
            << ") during the evaluation; learning is complete in " << run.checkpoint_file()
            << "\ncontinue with: " << resume_command(argc, argv, run.checkpoint_file()) << "\n";
  return stop_exit_code();
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn one generative ConvNet per category by MLE and a discriminative ConvNet with a white-noise "
               "base category; classify held-out images both ways (Prop. 1(a), (b)), estimate log Z by AIS, "
               "synthesize from both (Xie et al. 2016, Sec. 2-3)"};
  RunOptions run_options;
  RunOptionHelp run_help;
  std::vector<std::string> folders;
  std::string layers = default_layers;
  Index held_out = 3, size = 32, mle_iterations = 600, chains = 8, langevin_steps = 20;
  Index discriminative_iterations = 300, temperatures = 4000, ais_chains = 8, ais_runs = 4, sample_steps = 200;
  double sigma = 0.4, learning_rate = 1e-3, step_size = 0.1, discriminative_learning_rate = 1e-3;
  double ais_step_size = 0.3, sample_step_size = 0.3;
  std::string ais_schedule = "sigmoid";
  bool colour = true;
  app.add_option("CATEGORIES", folders, "one folder of aligned images per category; default: the bundled smileys "
                 "and faces")->check(existing_path());
  add_run_options(app, run_options, run_help);
  app.add_option("--held-out", held_out, "the last N images (by name) of every category are kept aside")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--size", size, "images are cut to a centred square and resized to SIZE x SIZE")
      ->check(positive_integer())->capture_default_str();
  app.add_flag("--colour,!--grey", colour, "learn the RGB images, or their grey values")->capture_default_str();
  app.add_option("--layers", layers, "the shared ConvNet: (a) adds fc:1 on top, (b) one head per category")
      ->capture_default_str();
  app.add_option("--sigma", sigma, "sigma of q = N(0, sigma^2), in units of the data's pixel standard deviation")
      ->check(positive_number())->capture_default_str();
  app.add_option("--mle-iterations", mle_iterations, "(a): learning iterations per category")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--chains", chains, "(a): persistent Langevin chains per category; (b): samples per category")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--langevin-steps", langevin_steps, "(a): Langevin steps per learning iteration")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--step-size", step_size, "(a): Langevin step size epsilon, in units of sigma")
      ->check(positive_number())->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "(a): learning rate (Adam)")->check(positive_number())
      ->capture_default_str();
  app.add_option("--discriminative-iterations", discriminative_iterations, "(b): learning iterations")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--discriminative-learning-rate", discriminative_learning_rate, "(b): learning rate (Adam)")
      ->check(positive_number())->capture_default_str();
  app.add_option("--ais-temperatures", temperatures, "AIS: annealing steps from q to p")->check(positive_integer())
      ->capture_default_str();
  app.add_option("--ais-chains", ais_chains, "AIS: chains per run")->check(positive_integer())->capture_default_str();
  app.add_option("--ais-runs", ais_runs, "AIS: independent runs (their spread gives the standard error), >= 2")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--ais-schedule", ais_schedule, "AIS: spacing of beta from 0 to 1 (geometric: from 1e-6)")
      ->check(one_of({"geometric", "sigmoid", "linear"}))->capture_default_str();
  app.add_option("--ais-step-size", ais_step_size, "AIS: MALA step size, in units of sigma")
      ->check(positive_number())->capture_default_str();
  app.add_option("--sample-steps", sample_steps, "(b): Langevin steps from white noise to a sample")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--sample-step-size", sample_step_size, "(b): Langevin step size, in units of sigma")
      ->check(positive_number())->capture_default_str();
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (folders.empty())
    for (const char* c : {"objects/smiley", "objects/face"}) folders.push_back(bundled_file(c, GCONVNET_EXAMPLE_DATA_DIR));
  if (folders.size() < 2) throw Error("give two or more category folders, got " + std::to_string(folders.size()));
  if (ais_runs < 2) throw Error("--ais-runs must be at least 2 (their spread gives the standard error), got 1");
  Run run("category_model", run_options, argc, argv);

  // 2. The categories: training and held-out images, minus the channel means, in units of s. ----------
  Scale scale;
  std::vector<Category> categories = load_categories(folders, held_out, size, colour ? 3 : 1, scale);
  const Index C = static_cast<Index>(categories.size());
  Index N = 0;
  for (const auto& c : categories) N += batch_size(c.training);
  std::cout << "intensities minus the channel means, divided by s = " << std::setprecision(4) << scale.s
            << "; sigma = " << sigma << " s\n";
  for (const auto& c : categories)
    std::cout << c.name << ": " << c.training_files.size() << " training images, held out: "
              << file_names(c.held_out_files) << "\n";

  // 3. The learners: (a) one model and MleLearner per category, (b) one classifier, as phases. ---------
  const Shape shape = shape_of(categories[0].training);
  std::mt19937_64 init_engine(run_options.seed);
  std::vector<std::unique_ptr<Model>> generative;
  std::vector<std::unique_ptr<MleLearner<Model>>> mle;
  LearningOptions options;
  options.chains = chains;
  options.langevin.step_size = step_size * sigma;
  options.langevin.steps = langevin_steps;
  options.langevin.reference_sigma = sigma;
  options.optimizer = discriminative_optimizer_options();  // Adam without the release code's texture preprocessing
  options.optimizer.learning_rate = learning_rate;
  options.learning_rate_factor_on_grow = 1.0;
  std::vector<Phase> phases;
  for (Index c = 0; c < C; ++c) {
    generative.push_back(std::make_unique<Model>(shape, parse_layers<float>(layers + ",fc:1")));
    initialize_normal(*generative.back(), init_engine, 0.01, 0.0);
    mle.push_back(std::make_unique<MleLearner<Model>>(*generative.back(), categories[static_cast<std::size_t>(c)].training,
                                                      options, run_options.seed + static_cast<std::uint64_t>(c)));
    MleLearner<Model>& learner = *mle.back();
    learner.set_stage(learner.num_stages() - 1);  // all layers at once
    phases.push_back({"mle_" + categories[static_cast<std::size_t>(c)].name, mle_iterations,
                      [&learner] { return learner.iteration(); }, [&learner] { return learner.step(); },
                      [&learner](const std::string& p) { learner.save_checkpoint(p); },
                      [&learner](const std::string& p) { learner.load_checkpoint(p); }});
  }
  Categories classifier(Model(shape, parse_layers<float>(layers)), C);
  initialize_normal(classifier, init_engine, 0.01, 0.0);
  std::vector<Index> labels;
  std::vector<Image<float>> labelled;
  for (Index c = 0; c < C; ++c) {
    const auto& cat = categories[static_cast<std::size_t>(c)];
    for (Index n = 0; n < batch_size(cat.training); ++n) {
      labelled.push_back(image_of(cat.training, n));
      labels.push_back(c);
    }
  }
  DiscriminativeOptions discriminative_options;
  discriminative_options.reference_sigma = sigma;
  discriminative_options.optimizer.learning_rate = discriminative_learning_rate;
  DiscriminativeLearner<Model> discriminative(classifier, stack_images(labelled), labels, discriminative_options,
                                              run_options.seed + static_cast<std::uint64_t>(C));
  DiscriminativeStats last;  // of the last discriminative iteration, for log.csv and the progress line
  phases.push_back({"discriminative", discriminative_iterations, [&] { return discriminative.iteration(); },
                    [&] {
                      last = discriminative.step();
                      IterationStats s;
                      s.learning_rate = last.learning_rate;
                      s.seconds = last.seconds;
                      s.gradient_norm = {last.gradient_norm};
                      return s;
                    },
                    [&](const std::string& p) { io::save_discriminative_checkpoint(discriminative, p); },
                    [&](const std::string& p) { io::load_discriminative_checkpoint(discriminative, p); }});
  PhasedLearner learner(std::move(phases), "gconvnet.category_model.checkpoint.v1",
                        run.file("checkpoint_phase.safetensors"));
  run.resume(learner);
  std::cout << "(a) per category: " << generative[0]->summary() << "(b): " << classifier.summary();
  std::cout << "(a) " << mle_iterations << " iterations per category, " << chains << " chains, L = " << langevin_steps
            << ", eps = " << step_size << " sigma, eta = " << learning_rate << "; (b) " << discriminative_iterations
            << " iterations, eta = " << discriminative_learning_rate << ", " << N
            << " white-noise images per iteration; seed " << run_options.seed << "\n";

  // 4. Learning: (a) Algorithm 1 per category, then (b) softmax cross-entropy with the noise base. ------
  Learning learning = learning_of(learner, learner.total());
  learning.stage_finished = [&] { return learner.phase_finished(); };
  learning.snapshot = [&](Index done) {
    if (learner.phase() >= C) return;
    const auto& cat = categories[static_cast<std::size_t>(learner.phase())];
    io::save_png(two_row_sheet(cat.training_images,
                               scale.to_intensities(mle[static_cast<std::size_t>(learner.phase())]->synthesized())),
                 run.snapshot_file(done));
  };
  learning.log = {"iteration,phase,score_observed,score_synthesized,log_likelihood,accuracy,base_accuracy,"
                  "learning_rate,seconds",
                  [&](const IterationStats& s) {
                    if (s.stage < C)
                      return csv_row(s.iteration, s.stage, s.score_observed, s.score_synthesized, "", "", "",
                                     s.learning_rate, s.seconds);
                    return csv_row(s.iteration, s.stage, "", "", last.log_likelihood, last.accuracy, last.base_accuracy,
                                   s.learning_rate, s.seconds);
                  }};
  learning.status = [&](const IterationStats& s) {
    if (s.stage < C) return categories[static_cast<std::size_t>(s.stage)].name + "  " + score_status(s);
    std::ostringstream os;
    os << std::fixed << std::setprecision(3) << "discriminative  L " << last.log_likelihood << "  accuracy "
       << last.accuracy << "  noise " << last.base_accuracy;
    return os.str();
  };
  learning.stage_cost.clear();
  for (Index c = 0; c < C; ++c)
    learning.stage_cost.push_back(static_cast<double>(generative[static_cast<std::size_t>(c)]->macs()) *
                                  static_cast<double>(chains * (langevin_steps + 1) +
                                                      batch_size(categories[static_cast<std::size_t>(c)].training)));
  learning.stage_cost.push_back(static_cast<double>(classifier.category(0).macs()) * 2.0 * static_cast<double>(N));
  learning.stage_lengths = {mle_iterations};
  if (const auto stopped = run.learn(learning)) return *stopped;

  // 5. Evaluation. ------------------------------------------------------------------------------------
  std::mt19937_64 engine(run_options.seed + 1000003);
  LogPartitionOptions ais;
  ais.temperatures = temperatures;
  ais.chains = ais_chains;
  ais.runs = ais_runs;
  ais.step_size = ais_step_size * sigma;
  ais.schedule = ais_schedule == "geometric" ? LogPartitionOptions::Schedule::geometric
                 : ais_schedule == "linear"  ? LogPartitionOptions::Schedule::linear
                                             : LogPartitionOptions::Schedule::sigmoid;
  ais.geometric_start = 1e-6;
  ais.reference_sigma = sigma;
  Batch<float> held_out_images;
  std::vector<Index> truth;
  {
    std::vector<Image<float>> all;
    for (Index c = 0; c < C; ++c)
      for (Index n = 0; n < batch_size(categories[static_cast<std::size_t>(c)].held_out); ++n) {
        all.push_back(image_of(categories[static_cast<std::size_t>(c)].held_out, n));
        truth.push_back(c);
      }
    held_out_images = stack_images(all);
  }
  const Index H = batch_size(held_out_images);
  std::string results = "model,category,log_z,standard_error,effective_sample_size,chains,acceptance,log_z_implied,"
                        "held_out_nats,held_out_bits_per_dim,training_bits_per_dim\n";
  auto accuracy_line = [&](const char* which, const Matrix<double>& posterior) {
    Index right = 0;
    for (Index n = 0; n < H; ++n) {
      Index best = 0;
      posterior.col(n).head(C).maxCoeff(&best);
      right += best == truth[static_cast<std::size_t>(n)] ? 1 : 0;
    }
    std::cout << which << " held-out accuracy " << std::fixed << std::setprecision(3)
              << static_cast<double>(right) / static_cast<double>(H) << " (" << right << " of " << H << ")\n"
              << std::defaultfloat;
  };

  // (a) log Z_c of every MLE model by AIS; scores f_c of the held-out images; Prop. 1(a).
  std::cout << "(a) generative models learned by MLE, log Z by AIS (T = " << temperatures << ", " << ais_runs << " x "
            << ais_chains << " chains):\n";
  Vector<double> log_z(C), log_prior(C);
  Matrix<double> scores(C, H);
  for (Index c = 0; c < C; ++c) {
    const auto& cat = categories[static_cast<std::size_t>(c)];
    Model& model = *generative[static_cast<std::size_t>(c)];
    const Partition z = log_partition(model, ais, engine);
    if (const auto stopped = stopped_in_evaluation(run, argc, argv)) return *stopped;
    log_z(c) = z.estimate.log_z;
    log_prior(c) = std::log(static_cast<double>(batch_size(cat.training)) / static_cast<double>(N));
    scores.row(c) = model.score(held_out_images).cast<double>().transpose();
    const auto test = mean_log_likelihood(model, cat.held_out, log_z(c), sigma, scale.s);
    const auto train = mean_log_likelihood(model, cat.training, log_z(c), sigma, scale.s);
    std::cout << "(a) " << cat.name << ": " << describe(z) << "; " << describe(test, train) << "\n";
    results += csv_row("a", cat.name, log_z(c), z.estimate.standard_error, z.estimate.effective_sample_size,
                       z.estimate.chains, z.estimate.acceptance_rate, "", test.nats, test.bits_per_dim,
                       train.bits_per_dim) + "\n";
  }
  const Matrix<double> posterior_a = category_posterior(scores, bayes_biases(log_prior, log_z), false);
  accuracy_line("(a)", posterior_a);

  // (b) the classifier: accuracy, log Z_c implied by b_c (Prop. 1(b)) and by AIS, samples by Langevin.
  const Matrix<double> posterior_b = classifier.posterior(held_out_images, true);
  const Vector<double> implied = implied_log_partition(classifier.biases().cast<double>(),
                                                       discriminative.log_prior_ratios());
  std::cout << "(b) discriminative ConvNet with the white-noise base; log Z implied by b_c (Prop. 1(b)) and by AIS:\n";
  std::vector<Batch<float>> samples;
  LangevinOptions sampling;
  sampling.step_size = sample_step_size * sigma;
  sampling.steps = sample_steps;
  sampling.reference_sigma = sigma;
  for (Index c = 0; c < C; ++c) {
    const auto& cat = categories[static_cast<std::size_t>(c)];
    auto& model = classifier.category(c);
    const Partition z = log_partition(model, ais, engine);
    if (const auto stopped = stopped_in_evaluation(run, argc, argv)) return *stopped;
    const auto test = mean_log_likelihood(model, cat.held_out, z.estimate.log_z, sigma, scale.s);
    const auto train = mean_log_likelihood(model, cat.training, z.estimate.log_z, sigma, scale.s);
    std::cout << "(b) " << cat.name << ": implied log Z " << std::fixed << std::setprecision(2) << implied(c) << ", "
              << describe(z) << "; " << describe(test, train) << "\n" << std::defaultfloat;
    results += csv_row("b", cat.name, z.estimate.log_z, z.estimate.standard_error, z.estimate.effective_sample_size,
                       z.estimate.chains, z.estimate.acceptance_rate, implied(c), test.nats,
                       test.bits_per_dim, train.bits_per_dim) + "\n";
    Batch<float> x = make_batch<float>(shape, chains);
    fill_standard_normal(engine, x);
    as_vector(x) *= static_cast<float>(sigma);
    langevin(model, x, sampling, engine);
    samples.push_back(x);
  }
  accuracy_line("(b)", posterior_b);
  Batch<float> noise = make_batch<float>(shape, 64);  // the logits the classifier learned, on the three kinds of image
  fill_standard_normal(engine, noise);
  as_vector(noise) *= static_cast<float>(sigma);
  for (Index c = 0; c < C; ++c) {
    const auto& cat = categories[static_cast<std::size_t>(c)];
    auto logit = [&](const Batch<float>& x) { return classifier.scores(x).row(c).mean() + classifier.biases()(c); };
    std::cout << "(b) " << cat.name << ": mean f_c + b_c on its training images " << logit(cat.training)
              << ", held-out images " << logit(cat.held_out) << ", white noise " << logit(noise) << "\n";
  }
  double base = 0;
  for (Index n = 0; n < H; ++n) base += posterior_b(C, n) / static_cast<double>(H);
  std::cout << "(b) mean posterior of the white-noise base on the held-out images " << base << "\n";

  // 6. The files: tables, contact sheet, weights. -----------------------------------------------------
  std::string table = "file,category";
  for (const auto& cat : categories) table += ",a_" + cat.name;
  for (const auto& cat : categories) table += ",b_" + cat.name;
  table += ",b_base\n";
  Index n = 0;
  for (const auto& cat : categories)
    for (const auto& file : cat.held_out_files) {
      table += csv_row(std::filesystem::path(file).filename().string(), cat.name);
      for (Index k = 0; k < C; ++k) table += csv_row("", posterior_a(k, n));
      for (Index k = 0; k <= C; ++k) table += csv_row("", posterior_b(k, n));
      table += "\n";
      ++n;
    }
  write_text_file(run.output("results.csv"), results);
  write_text_file(run.output("held_out.csv"), table);

  // Per category a row: training images, (a)'s chains, (b)'s samples; pixels enlarged to about 64.
  const Index shown = 4, factor = std::max<Index>(1, 64 / size);
  std::vector<Image<float>> cells;
  for (Index c = 0; c < C; ++c) {
    const auto& cat = categories[static_cast<std::size_t>(c)];
    for (Index i = 0; i < shown; ++i) {
      Image<float> blank(shape.channels, size, size);
      blank.setConstant(255.0f);
      const auto& images = cat.training_images;
      cells.push_back(enlarge(i < static_cast<Index>(images.size()) ? images[static_cast<std::size_t>(i)] : blank, factor));
    }
    for (const auto* batch : {&mle[static_cast<std::size_t>(c)]->synthesized(), &samples[static_cast<std::size_t>(c)]}) {
      const Batch<float> pictures = scale.to_intensities(*batch);
      for (Index n = 0; n < batch_size(pictures); ++n) cells.push_back(enlarge(image_of(pictures, n), factor));
    }
  }
  io::GridOptions grid;
  grid.columns = shown + 2 * chains;
  io::save_png(io::image_grid(cells, grid), run.output("contact_sheet.png"));
  for (Index c = 0; c < C; ++c)
    io::save_weights(*generative[static_cast<std::size_t>(c)],
                     run.output("weights_" + categories[static_cast<std::size_t>(c)].name + ".safetensors"));
  run.save_results(learning, classifier);
  return run.finish();
} catch (...) {
  return report_exception("category_model");
}
