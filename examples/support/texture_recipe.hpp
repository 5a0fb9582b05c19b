// examples/support/texture_recipe.hpp — how the texture programs (synthesize_texture, complete_texture)
// learn a texture model from one photograph: the named settings (--config fast|paper and the options
// that override them), the model, the learner's options and the learning loop with layer growing
// (Sec. 8). Both programs take it from here, so that a change of the default reaches both.
#pragma once

#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/learning/stages.hpp>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "images.hpp"
#include "program.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace gconvnet::examples {

using TextureModel = DynamicModel<float>;

/// Everything --config chooses; each field can be overridden on the command line.
struct TextureRecipe {
  std::string layers;        ///< the ConvNet, bottom-up (parse_layers syntax)
  Index size = 0;            ///< the observed image is resized to size × size
  Index chains = 0;          ///< M̃ persistent Langevin chains
  std::vector<Index> iterations;  ///< learning iterations of each layer stage; the last repeats for later stages
  bool keep_chains = false;  ///< a new stage continues the chains (true) or restarts them at zero (the release)
  LangevinOptions langevin;  ///< ε, L, σ
  double learning_rate = 0;  ///< η of the first stage (halved at each new stage)
  std::string image;         ///< the bundled default texture
  std::string means;         ///< subtracted from the intensities: "observed" (the image's own) or "release"
};

/// The per-channel means the authors' release subtracts (ImageNet's, R G B), whatever the image.
inline const std::vector<double>& release_means() {
  static const std::vector<double> means{123.68, 116.779, 103.939};
  return means;
}

/// The authors' release setting (DESIGN.md §3): 224², 100/64/30 filters, 16 chains, L = 10, ε = 0.3,
/// 700 iterations per layer, η = 5e-4 halved per stage, gradients divided by map size and capped at 20,
/// the release's fixed channel means. tools/check_paper_config.py checks it against a port of the release.
inline TextureRecipe paper_recipe() {
  return {"conv:100:15:3:2,relu,conv:64:5:1:2,relu,conv:30:3:1:2,relu", 224, 16, {700}, false, {0.3, 10, 1.0}, 5e-4,
          "gravel_224.png", "release"};
}

/// The default, chosen by measurement for quality per minute on two cores (docs/quality.md): the
/// release's net, ε and L at 128² with 3 chains, 400 iterations in each of the first two stages and a
/// short third stage of 150. The third layer sharpens the chains; learned as long as the others, it
/// pulls them onto the photograph, in place (the "copy" rows of docs/quality.md).
inline TextureRecipe fast_recipe() {
  return {"conv:100:15:3:2,relu,conv:64:5:1:2,relu,conv:30:3:1:2,relu", 128, 3, {400, 400, 150}, false,
          {0.3, 10, 1.0}, 5e-4, "gravel_128.png", "observed"};
}

/// The command-line choices of a recipe: --config and the fields it overrides (0 or empty: the config's).
struct RecipeChoice {
  std::string config = "fast";
  std::string layers, means;
  std::vector<Index> iterations;
  Index chains = 0, size = 0, langevin_steps = 0;
  double learning_rate = 0, step_size = 0;
  bool keep_chains = false;
};

/// Adds --config, --layers, --iterations, --chains, --size (unless `with_size` is false: a program that
/// takes its photograph at its own size), --learning-rate, --step-size, --langevin-steps and --means
/// (unless `with_means` is false), bound to `c`.
inline void add_recipe_options(CLI::App& app, RecipeChoice& c, bool with_size = true, bool with_means = true) {
  app.add_option("--config", c.config, "named setting: fast (minutes) or paper (the release code)")
      ->check(one_of({"fast", "paper"}))->capture_default_str();
  app.add_option("--layers", c.layers, "the ConvNet, e.g. conv:100:15:3:2,relu,conv:64:5:1:2,relu (overrides --config)");
  app.add_option("--iterations", c.iterations, "learning iterations per layer stage: one number, or one per stage "
                 "(e.g. 400,400,150; the last repeats for later stages; fast 400,400,150, paper 700)")
      ->delimiter(',')->check(positive_integer());
  app.add_flag("--keep-chains", c.keep_chains, "a new layer stage continues the chains instead of restarting them "
               "at zero (the release restarts them)");
  app.add_option("--chains", c.chains, "number of synthesized images, i.e. persistent Langevin chains (fast 3, paper 16)")->check(positive_integer());
  if (with_size)
    app.add_option("--size", c.size, "resize the observed image to SIZE x SIZE (fast 128, paper 224)")->check(positive_integer());
  app.add_option("--learning-rate", c.learning_rate, "learning rate of the first stage, halved per stage (5e-4)")->check(positive_number());
  app.add_option("--step-size", c.step_size, "Langevin step size epsilon (0.3)")->check(positive_number());
  app.add_option("--langevin-steps", c.langevin_steps, "Langevin steps L per learning iteration (10)")
      ->check(positive_integer());
  if (with_means)
    app.add_option("--means", c.means, "channel means subtracted from the intensities: observed (the image's "
                   "own) or release (the release code's fixed ImageNet means; fast observed, paper release)")
        ->check(one_of({"observed", "release"}));
}

/// The recipe the command line chose: the named setting with the fields given overridden.
inline TextureRecipe chosen_recipe(const RecipeChoice& c) {
  TextureRecipe r = c.config == "paper" ? paper_recipe() : fast_recipe();
  if (!c.layers.empty()) r.layers = c.layers;
  if (!c.iterations.empty()) r.iterations = c.iterations;
  if (c.keep_chains) r.keep_chains = true;
  if (c.chains > 0) r.chains = c.chains;
  if (c.size > 0) r.size = c.size;
  if (c.learning_rate > 0) r.learning_rate = c.learning_rate;
  if (c.step_size > 0) r.langevin.step_size = c.step_size;
  if (c.langevin_steps > 0) r.langevin.steps = c.langevin_steps;
  if (!c.means.empty()) r.means = c.means;
  return r;
}

/// The photograph at `path` as the texture programs observe it: its centred largest square resized to
/// size × size, intensities 0–255; says so on stdout.  throws: Error from load_image.
inline Image<float> load_texture(const std::string& path, Index size) {
  const Image<float> loaded = io::load_image<float>(path);
  std::cout << "observed: " << path << " (" << loaded.dimension(2) << "x" << loaded.dimension(1) << ")";
  if (std::min(loaded.dimension(1), loaded.dimension(2)) != size) std::cout << ", resized to " << size << "x" << size;
  std::cout << "\n";
  return square_image(loaded, size);
}

/// The ConvNet of the recipe on `input`, initialised as the release code does: weights N(0, 0.01²),
/// biases 0, from `seed`.
inline TextureModel texture_model(const Shape& input, const TextureRecipe& r, std::uint64_t seed) {
  TextureModel model(input, parse_layers<float>(r.layers));
  std::mt19937_64 engine(seed);
  initialize_normal(model, engine, 0.01, 0.0);
  return model;
}

/// The learner's options of the recipe (chains, Langevin, η; everything else the release defaults).
inline LearningOptions texture_learning_options(const TextureRecipe& r) {
  LearningOptions options;
  options.chains = r.chains;
  options.langevin = r.langevin;
  options.optimizer.learning_rate = r.learning_rate;
  options.reset_chains_on_grow = !r.keep_chains;
  return options;
}

/// Iterations of stage s of the recipe (the last given repeats).
inline Index stage_iterations(const TextureRecipe& r, Index s) {
  return r.iterations[static_cast<std::size_t>(std::min<Index>(s, static_cast<Index>(r.iterations.size()) - 1))];
}

/// "config fast: 3 chains, 3 stages of 400, 400, 150 iterations, L = 10, eps = 0.3, eta = 0.0005, seed 2016".
inline std::string describe_recipe(const std::string& config, const TextureRecipe& r, Index stages, std::uint64_t seed) {
  std::ostringstream os;
  os << "config " << config << ": " << r.chains << " chains, " << stages << " stages of ";
  for (Index s = 0; s < stages; ++s) os << (s > 0 ? ", " : "") << stage_iterations(r, s);
  os << " iterations" << (r.keep_chains ? " (chains kept across stages)" : "") << ", L = " << r.langevin.steps
     << ", eps = " << r.langevin.step_size << ", eta = " << r.learning_rate << ", seed " << seed;
  return os.str();
}

/// The multiply-adds of a pass at each stage's depth (the progress display's ETA).
inline std::vector<double> stage_costs(const Shape& input, const std::string& layers) {
  TextureModel probe(input, parse_layers<float>(layers));
  std::vector<double> cost;
  for (Index d : stage_depths(probe)) {
    probe.set_depth(d);
    cost.push_back(static_cast<double>(probe.macs()));
  }
  return cost;
}

/// The learning of a texture model (Algorithm 1 with layer growing, Sec. 8): stage s follows the
/// stage_iterations(r, k) iterations of the stages k < s; entering it adds a layer, halves η and
/// restarts the chains (unless r.keep_chains). A resumed run never goes back to an earlier stage.
/// The program adds the snapshot.  requires: `learner` outlives the result.
inline Learning texture_learning(MleLearner<TextureModel>& learner, const TextureRecipe& r) {
  std::vector<Index> ends;  // one past each stage's last iteration
  for (Index s = 0; s < learner.num_stages(); ++s) ends.push_back((s > 0 ? ends.back() : 0) + stage_iterations(r, s));
  Learning learning = learning_of(learner, ends.back());
  learning.step = [&learner, ends] {
    Index stage = 0;
    const Index last = static_cast<Index>(ends.size()) - 1;
    while (stage < last && learner.iteration() >= ends[static_cast<std::size_t>(stage)]) ++stage;
    if (stage > learner.stage()) learner.set_stage(stage);
    return learner.step();
  };
  learning.stage_finished = [&learner, ends] {
    return std::find(ends.begin(), ends.end(), learner.iteration()) != ends.end();
  };
  learning.stage_cost = stage_costs(learner.model().input_shape(), r.layers);
  for (Index s = 0; s < learner.num_stages(); ++s) learning.stage_lengths.push_back(stage_iterations(r, s));
  return learning;
}

}  // namespace gconvnet::examples
