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
//   stages.csv                   the first iteration of every stage begun (--resume numbers iterations by it)
//   weights.safetensors          the learned parameters alone
// Ctrl-C (or SIGTERM) stops after the current iteration, writes the checkpoint and exits with 128+signal.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/io/safetensors.hpp>
#include <gconvnet/learning/growth.hpp>
#include <gconvnet/learning/mle_learner.hpp>

#include <CLI/CLI.hpp>

#include "support/images.hpp"
#include "support/program.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = DynamicModel<float>;

namespace {

/// The paper's object net (Sec. 8.2: 100 7×7 filters with stride 2; 64 5×5; 20 3×3; one fully
/// connected filter over the whole map), in parse_layers syntax.
const char* const paper_layers = "conv:100:7:2:3,relu,conv:64:5:1:2,relu,conv:20:3:1:1,relu,fc:1";

/// The default net for 64×64 images: the paper's four layers with 32 and 32 filters in the first two
/// (19% of the paper net's multiply-adds). With the defaults below (layers grown under the top filter,
/// 100 iterations per stage, 4 chains, L = 15 steps of ε = 0.45, η = 5e-3 halved per stage) it learns
/// the bundled smileys in about 30 s of one core; the measurements that chose it are in docs/programs.md.
const char* const default_layers = "conv:32:7:2:3,relu,conv:32:5:1:2,relu,conv:20:3:1:1,relu,fc:1";

// ---------------------------------------------------------------------------------------------------
// The stages as one learner.

/// How the stages are learned: every stage `iterations` long, at η = learning_rate · grow_factor^stage.
struct Schedule {
  std::vector<std::vector<AnyLayer<float>>> layers;  // the net of every stage (grow_under_top)
  Index iterations = 0;
  double learning_rate = 0, grow_factor = 1;
};

/// What this object represents: the learning of all stages, each a model with a learner of its own,
/// seen as one learner (global iteration, step, checkpoint) by the program's learning loop. Stage s
/// starts a fresh model whose lower layers carry the previous stage's weights; every layer learns.
/// It writes `stages_file` (the first global iteration of every stage begun) so that --resume numbers
/// the iterations of finished stages as they ran, whatever --iterations it is given.
class GrowingLearner {
public:
  GrowingLearner(Schedule schedule, const Batch<float>& observed, LearningOptions options, std::uint64_t seed,
                 std::filesystem::path stages_file)
      : schedule_(std::move(schedule)), observed_(observed), options_(options), seed_(seed),
        stages_file_(std::move(stages_file)), first_{0} {
    options_.learning_rate_factor_on_grow = 1.0;  // each stage's learner learns all its layers at its η
    start_stage(0, nullptr);
  }

  Index num_stages() const { return static_cast<Index>(schedule_.layers.size()); }
  Index stage() const { return static_cast<Index>(first_.size()) - 1; }
  /// Iterations done, across stages.
  Index iteration() const { return first_.back() + learner_->iteration(); }
  /// The iteration the last stage ends at: this stage runs --iterations (or as far as it got already).
  Index total() const {
    return first_.back() + std::max(learner_->iteration(), schedule_.iterations) +
           (num_stages() - 1 - stage()) * schedule_.iterations;
  }
  bool stage_finished() const { return learner_->iteration() >= schedule_.iterations; }
  Model& model() { return *model_; }
  const Batch<float>& synthesized() const { return learner_->synthesized(); }
  /// The multiply-adds of a pass at every stage (the progress display's ETA).
  std::vector<double> stage_costs() const {
    std::vector<double> cost;
    for (Index s = 0; s < num_stages(); ++s) cost.push_back(static_cast<double>(make_model(s)->macs()));
    return cost;
  }

  /// One iteration; after the last of a stage the next stage starts (grow: one more layer).
  IterationStats step() {
    if (stage_finished()) {
      first_.push_back(iteration());  // stage() is now the next stage
      start_stage(stage(), model_.get());
    }
    if (stages_written_ != stage()) write_stages();
    IterationStats stats = learner_->step();
    stats.iteration = iteration() - 1;
    stats.stage = stage();
    return stats;
  }

  void save_checkpoint(const std::string& path) const { learner_->save_checkpoint(path); }

  /// Continues from a checkpoint of any stage (its architecture names the stage).
  /// throws: Error when it fits no stage of this net, or as MleLearner::load_checkpoint.
  void load_checkpoint(const std::string& path) {
    const std::string arch = io::SafetensorsReader::read(path, "synthesize_objects").metadata("architecture");
    Index found = -1;
    for (Index s = 0; s < num_stages() && found < 0; ++s)
      if (io::architecture(*make_model(s)) == arch) found = s;
    if (found < 0)
      throw Error("the checkpoint '" + path + "' is for another net (" + arch +
                  "); give the same --layers, --size and --schedule as the run that wrote it");
    first_ = read_stages(std::filesystem::path(path).parent_path() / stages_file_.filename(), found);
    start_stage(found, nullptr);
    learner_->load_checkpoint(path);
  }

private:
  std::unique_ptr<Model> make_model(Index s) const {
    return std::make_unique<Model>(shape_of(observed_), schedule_.layers[static_cast<std::size_t>(s)]);
  }

  void start_stage(Index s, Model* previous) {
    auto next = make_model(s);
    std::mt19937_64 init_engine(seed_ + 7919 * static_cast<std::uint64_t>(s));
    initialize_normal(*next, init_engine, 0.01, 0.0);  // release code: N(0, 0.01²), biases 0
    if (previous) copy_parameters(*previous, *next, top_layer(*previous));  // the layers below the top carry over
    learner_.reset();
    model_ = std::move(next);
    options_.optimizer.learning_rate = schedule_.learning_rate * std::pow(schedule_.grow_factor, static_cast<double>(s));
    learner_ = std::make_unique<MleLearner<Model>>(*model_, observed_, options_, seed_ + static_cast<std::uint64_t>(s));
    learner_->set_stage(learner_->num_stages() - 1);
  }

  void write_stages() {
    std::string text = "stage,first_iteration\n";
    for (std::size_t s = 0; s < first_.size(); ++s) text += csv_row(s, first_[s]) + "\n";
    write_text_file(stages_file_, text);
    stages_written_ = stage();
  }

  /// The first iteration of stages 0..stage from a stages file; where it lacks one (a run before this
  /// file existed), stage s is taken to start at s · --iterations.
  std::vector<Index> read_stages(const std::filesystem::path& file, Index stage) const {
    std::vector<Index> first(static_cast<std::size_t>(stage + 1), -1);
    std::ifstream in(file);
    Index s = 0, at = 0;
    char comma = 0;
    std::string line;
    while (std::getline(in, line))
      if (std::istringstream(line) >> s >> comma >> at && comma == ',' && s >= 0 && s <= stage)
        first[static_cast<std::size_t>(s)] = at;
    for (Index k = 0; k <= stage; ++k)
      if (first[static_cast<std::size_t>(k)] < 0) {
        std::cerr << "synthesize_objects: " << file.string() << " does not say where stage " << k + 1
                  << " began; counting " << schedule_.iterations << " iterations per finished stage\n";
        for (Index j = 0; j <= stage; ++j) first[static_cast<std::size_t>(j)] = j * schedule_.iterations;
        break;
      }
    return first;
  }

  Schedule schedule_;
  const Batch<float>& observed_;
  LearningOptions options_;
  std::uint64_t seed_;
  std::filesystem::path stages_file_;
  std::vector<Index> first_;  // the first global iteration of every stage begun; the last is this stage's
  Index stages_written_ = -1;
  std::unique_ptr<Model> model_;
  std::unique_ptr<MleLearner<Model>> learner_;
};

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Learn a generative ConvNet from aligned images of one object category and synthesize new "
               "ones (Xie et al. 2016, Exp. 2)"};
  RunOptions run_options;
  run_options.snapshot_every = 50;
  std::vector<std::string> inputs;
  std::string layers = default_layers, schedule = "grow", chain_init = "zero";
  Index iterations = 100, chains = 4, size = 64, langevin_steps = 15;
  double learning_rate = 5e-3, step_size = 0.45, grow_factor = 0.5;
  app.add_option("IMAGES", inputs, "aligned training images, or folders of them; default: the bundled smileys")
      ->check(existing_path());
  add_run_options(app, run_options);
  app.add_option("--layers", layers, std::string("the ConvNet, ending in one fully connected filter (fc:1); the "
                 "paper's: ") + paper_layers)->capture_default_str();
  app.add_option("--schedule", schedule, "grow: add one conv layer per stage under the top filter (Sec. 8); "
                 "all: learn every layer at once")->check(one_of({"grow", "all"}))->capture_default_str();
  app.add_option("--iterations", iterations, "learning iterations per stage (on --resume: of this stage and the "
                 "next; finished stages keep theirs)")->check(positive_integer())->capture_default_str();
  app.add_option("--chains", chains, "number of synthesized images, i.e. persistent Langevin chains")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--size", size, "training images are cut to a centred square and resized to SIZE x SIZE")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--learning-rate", learning_rate, "learning rate of the first stage")->check(positive_number())
      ->capture_default_str();
  app.add_option("--grow-factor", grow_factor, "the learning rate is multiplied by this at each new stage")
      ->check(positive_number())->capture_default_str();
  app.add_option("--step-size", step_size, "Langevin step size epsilon")->check(positive_number())->capture_default_str();
  app.add_option("--langevin-steps", langevin_steps, "Langevin steps per learning iteration")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--chain-init", chain_init, "start of the chains: zero (the mean image) or noise")
      ->check(one_of({"zero", "noise"}))->capture_default_str();
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (inputs.empty()) inputs.push_back(bundled_file("objects/smiley", GCONVNET_EXAMPLE_DATA_DIR));
  Run run("synthesize_objects", run_options, argc, argv);

  // 2. The observed images: aligned, size × size, intensities 0–255 minus the per-channel means. ------
  const std::vector<Image<float>> training = load_squares(image_files(inputs), size);
  Batch<float> observed = stack_images(training);
  const std::vector<double> means = remove_channel_means(observed);
  std::cout << "observed: " << training.size() << " images from " << inputs[0] << (inputs.size() > 1 ? " ..." : "")
            << ", as " << size << "x" << size << "\n";

  // 3. The models: one per stage, each ending in the fully connected filter (f = its response). -------
  // With --schedule grow, stage k holds the first k+1 conv blocks under the top filter (Sec. 8.2).
  const auto all_layers = parse_layers<float>(layers);
  auto stage_layers = schedule == "grow" ? grow_under_top(all_layers) : std::vector<std::vector<AnyLayer<float>>>{all_layers};
  LearningOptions options;
  options.chains = chains;
  options.langevin = {step_size, langevin_steps, 1.0};
  options.chain_init = chain_init == "zero" ? LearningOptions::ChainInit::zero : LearningOptions::ChainInit::noise;
  GrowingLearner learner({std::move(stage_layers), iterations, learning_rate, grow_factor}, observed,
                         options, run_options.seed, run.file("stages.csv"));
  run.resume(learner);
  std::cout << learner.model().summary();
  std::cout << learner.num_stages() << " stage" << (learner.num_stages() > 1 ? "s" : "") << " x " << iterations
            << " iterations, " << chains << " chains, L = " << langevin_steps << ", eps = " << step_size
            << ", eta = " << learning_rate << ", seed " << run_options.seed << "\n";

  // 4. Algorithm 1: L Langevin steps on the chains, then w ← w + η (H_obs − H_syn), stage by stage. ---
  Learning learning = learning_of(learner, learner.total());
  learning.stage_finished = [&] { return learner.stage_finished(); };
  learning.snapshot = [&](Index done) {
    io::save_png(two_row_sheet(training, with_channel_means(learner.synthesized(), means)), run.snapshot_file(done));
  };
  learning.stage_cost = learner.stage_costs();
  learning.stage_lengths = {iterations};
  if (const auto stopped = run.learn(learning)) return *stopped;

  // 5. The synthesized objects: the chains plus the channel means, clipped to 0–255. -----------------
  const Batch<float> synthesized = with_channel_means(learner.synthesized(), means);
  run.list(save_numbered(synthesized, run.out(), "synthesized_"));
  io::save_png(two_row_sheet(training, synthesized), run.output("contact_sheet.png"));
  run.save_results(learning, learner.model());
  run.list(run.file("stages.csv").string());
  return run.finish();
} catch (...) {
  return report_exception("synthesize_objects");
}
