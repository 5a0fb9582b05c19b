// gconvnet/learning/learner_base.hpp — what MleLearner (Algorithm 1) and CdLearner (Sec. 7) share:
// the observed images, the synthesized chains, the layer stages, the optimizer and the random engine.
//
// One learning iteration (eq. 7.2):
//   1. L Langevin steps (eq. 6.10) on the chains — persistent for MLE, restarted from the observed
//      images for CD;
//   2. H_obs = (1/M) Σ_m ∂f(I_m; w)/∂w,  H_syn = (1/M̃) Σ_m ∂f(Ĩ_m; w)/∂w;
//   3. w ← w + η (H_obs − H_syn) through the Optimizer (release-code normalisation, cap, decay).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/learning/learner_state.hpp"
#include "gconvnet/learning/optimizer.hpp"
#include "gconvnet/learning/options.hpp"
#include "gconvnet/learning/stages.hpp"
#include "gconvnet/learning/statistics.hpp"
#include "gconvnet/model/activation_pattern.hpp"
#include "gconvnet/model/receptive_field.hpp"
#include "gconvnet/sampling/langevin.hpp"
#include "gconvnet/sampling/random.hpp"

namespace gconvnet {

namespace io {
/// Defined in gconvnet/io/checkpoint.hpp (needs gconvnet::io); the learners' save_checkpoint and
/// load_checkpoint members name it, so calling them without that header is a compile error about
/// this incomplete type.
template <class Model>
struct LearnerCheckpoint;
}  // namespace io

/// What this object represents: the state both learners share, for a model whose layers are all
/// declared up front and learned in stages (prefixes, see stage_depths). It does not own the model;
/// the model must outlive the learner and its weights are the learner's weights (initialise them,
/// e.g. with initialize_normal, before the first step).
/// Determinism: the learner owns its std::mt19937_64 (seeded with `seed`), so the same model,
/// observed images, options, seed and thread count give bit-identical weights and chains; state()
/// captures all of it (LearnerState), and a checkpoint (gconvnet/io/checkpoint.hpp) stores that.
template <class Model>
class LearnerBase {
public:
  using ModelType = Model;
  using Scalar = typename Model::Scalar;
  using Engine = typename LearnerState<Scalar>::Engine;  // std::mt19937_64
  using Callback = std::function<void(const IterationStats&)>;

  /// "MleLearner" or "CdLearner" (as in messages and checkpoint files).
  const char* name() const { return learner_name_; }

  // --- stages (layer growing, Sec. 8) -------------------------------------------------------------

  /// The current 0-based stage; the model's depth is stage_depths()[stage()].
  Index stage() const { return stage_; }
  Index num_stages() const { return static_cast<Index>(depths_.size()); }
  /// The depth of every stage (see stage_depths(model)).
  const std::vector<Index>& stage_depths() const { return depths_; }

  /// Moves to stage s (0 ≤ s < num_stages()): the model's depth becomes stage_depths()[s]; every
  /// learned weight stays as it is; when s differs from the current stage the chains restart
  /// (reset_chains_on_grow) or carry on. η becomes the base learning rate (options.optimizer.
  /// learning_rate or set_learning_rate) × learning_rate_factor_on_grow^(s − s₀), s₀ the stage the
  /// learner started at (MLE: 0; CD: the last), never above the base. With freeze_lower_layers only
  /// the layers added by stage s learn.
  /// throws: Error when s is out of range.
  void set_stage(Index s) {
    if (s < 0 || s >= num_stages()) {
      const std::string fn = std::string(learner_name_) + "::set_stage";
      detail::fail(fn.c_str(), "argument 's' is ", s, ", expected 0..", num_stages() - 1);
    }
    const bool changed = s != stage_;
    stage_ = s;
    model_->set_depth(depths_[static_cast<std::size_t>(s)]);
    if (changed && options_.reset_chains_on_grow) initialize_chains();
  }

  /// η at the current stage (before the bias multiplier): the base learning rate times the per-stage
  /// factor (see set_stage).
  double learning_rate() const {
    const Index k = std::max<Index>(0, stage_ - first_stage_);
    return base_learning_rate_ * std::pow(options_.learning_rate_factor_on_grow, static_cast<double>(k));
  }

  /// Sets the base learning rate η (that of the first stage; options.optimizer.learning_rate until
  /// now) from the next step on; learning_rate() still applies the per-stage factor. It is part of
  /// state() and of checkpoints; options() keeps the value the learner was built with.
  /// requires: eta finite and > 0. throws: Error naming the argument; nothing changes then.
  void set_learning_rate(double eta) {
    const std::string fn = std::string(learner_name_) + "::set_learning_rate";
    detail::check(eta > 0 && std::isfinite(eta), fn.c_str(), "argument 'eta' is ", eta,
                  ", expected a finite value > 0");
    base_learning_rate_ = eta;
  }

  // --- iterations ---------------------------------------------------------------------------------

  /// Number of iterations done so far, across stages.
  Index iteration() const { return iteration_; }

  /// One learning iteration (see the top of this header); returns its statistics (a reference to the
  /// learner's copy, overwritten by the next step) and passes them to the callback if one is set.
  /// Allocates nothing after the first call except what the model's parameters() allocates.
  /// throws: NumericalError (the divergence guard) when the weights hold NaN or Inf before the
  ///         iteration, or the chains, the gradient H_obs − H_syn or the updated weights become NaN or
  ///         Inf during it. The message reads "<Learner>::step: iteration T (stage S): the <quantity> of
  ///         layer L ...", T 0-based as IterationStats::iteration (= iterations completed), and ends
  ///         with a hint. The learner is then exactly as before the call — its whole state() and
  ///         gradient(): the failing iteration is undone — so a checkpoint saved afterwards holds the
  ///         last good state, and no callback is made.
  const IterationStats& step() {
    using S = Scalar;
    const auto start = std::chrono::steady_clock::now();
    Model& model = *model_;
    const Index depth = depths_[static_cast<std::size_t>(stage_)];
    if (model.depth() != depth) model.set_depth(depth);
    const auto params = model.parameters();
    for (std::size_t b = 0; b < params.size(); ++b)  // a weight set to NaN outside the learner (or loaded so)
      if (params[b].layer < depth && !params[b].vector().allFinite())
        throw NumericalError(detail::concat(where(), "the weights of layer ", params[b].layer, " (", params[b].name,
                                            ") hold NaN or Inf before the iteration (set outside the learner, or "
                                            "loaded so); nothing was changed"));
    state_into(saved_, params);  // what a diverging iteration goes back to (buffers reused)

    // 1. L Langevin steps on the chains (eq. 6.10)
    if (restart_from_observed_) chains_ = observed_;  // CD: every iteration starts at the data
    try {
      langevin(model, chains_, options_.langevin, engine_, workspace_);
    } catch (const NumericalError& e) {
      restore_from(saved_, params);
      std::string what = e.what();
      what = what.substr(0, what.find("; try"));  // langevin's own hint names its options, not ours
      throw NumericalError(detail::concat(where(), "the synthesized chains (the input of layer 0) became NaN or Inf [",
                                          what, "]; the iteration was undone; try a smaller Langevin step size than ",
                                          options_.langevin.step_size));
    }
    if (!all_finite(chains_)) {  // L = 0, or chains set from outside
      restore_from(saved_, params);
      throw NumericalError(detail::concat(where(), "the synthesized chains (the input of layer 0) hold NaN or Inf "
                                                   "before the update; the iteration was undone"));
    }

    // 2. H_obs − H_syn, with f of both sets from the same forward passes; gradient() changes only
    //    once the iteration has succeeded
    IterationStats& stats = stats_;
    stats.iteration = iteration_;
    stats.stage = stage_;
    stats.learning_rate = learning_rate();
    pending_.set_zero();
    const Index M = batch_size(observed_), Ms = batch_size(chains_);
    stats.contrast_observed = std::sqrt(static_cast<double>(as_vector(observed_).squaredNorm()) /
                                        static_cast<double>(observed_.size()));
    stats.contrast_synthesized = std::sqrt(static_cast<double>(as_vector(chains_).squaredNorm()) /
                                           static_cast<double>(chains_.size()));
    if (observed_weight_.empty())
      model.accumulate_parameter_gradient(observed_, pending_, S(1) / static_cast<S>(M), scores_);  // H_obs
    else if constexpr (has_top_weighted_gradient)  // over the responses that see known pixels only
      model.accumulate_parameter_gradient(observed_, pending_, S(1) / static_cast<S>(M), scores_,
                                          observed_weight_[static_cast<std::size_t>(stage_)]);
    stats.score_observed = static_cast<double>(scores_.template cast<double>().mean());
    active_fractions(model.last_pattern(), stats.active_observed);
    if (synthesized_weight_.empty())
      model.accumulate_parameter_gradient(chains_, pending_, -S(1) / static_cast<S>(Ms), scores_);  // − H_syn
    else if constexpr (has_top_weighted_gradient)  // at the same positions as H_obs
      model.accumulate_parameter_gradient(chains_, pending_, -S(1) / static_cast<S>(Ms), scores_,
                                          synthesized_weight_[static_cast<std::size_t>(stage_)]);
    stats.score_synthesized = static_cast<double>(scores_.template cast<double>().mean());
    active_fractions(model.last_pattern(), stats.active_synthesized);

    Index last_layer = -1;
    stats.gradient_norm.clear();
    for (std::size_t b = 0; b < params.size(); ++b) {
      if (params[b].layer >= depth) continue;
      if (params[b].layer != last_layer) stats.gradient_norm.push_back(0.0);
      last_layer = params[b].layer;
      stats.gradient_norm.back() += static_cast<double>(pending_.blocks[b].squaredNorm());
    }
    for (double& g : stats.gradient_norm) g = std::sqrt(g);
    for (std::size_t b = 0; b < params.size(); ++b)
      if (params[b].layer < depth && !pending_.blocks[b].allFinite()) {
        restore_from(saved_, params);
        throw NumericalError(detail::concat(where(), "the gradient H_obs - H_syn of layer ", params[b].layer, " (",
                                            params[b].name, ") became NaN or Inf; the iteration was undone; try a "
                                            "smaller Langevin step size or learning rate"));
      }

    // 3. eq. 7.2 ascent, with the release code's preprocessing
    update_ = pending_;
    map_sizes_.resize(params.size());
    trainable_.resize(params.size());
    const Index lowest = options_.freeze_lower_layers && stage_ > 0 ? depths_[static_cast<std::size_t>(stage_ - 1)] : 0;
    for (std::size_t b = 0; b < params.size(); ++b) {
      map_sizes_[b] = static_cast<double>(model.output_shape(params[b].layer).pixels());
      trainable_[b] = params[b].layer < depth && params[b].layer >= lowest;
    }
    optimizer_.preprocess(update_, map_sizes_);
    try {
      optimizer_.update(params, update_, stats.learning_rate, trainable_);
    } catch (const NumericalError&) {
      std::size_t b = 0;
      while (b + 1 < params.size() && (!trainable_[b] || params[b].vector().allFinite())) ++b;
      restore_from(saved_, params);
      throw NumericalError(detail::concat(where(), "the weights of layer ", params[b].layer, " (", params[b].name,
                                          ") became NaN or Inf in the update (learning rate ", stats.learning_rate,
                                          "); the iteration was undone; try a smaller learning rate"));
    }

    std::swap(gradient_, pending_);
    ++iteration_;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (callback_) callback_(stats);
    return stats;
  }

  /// Calls `callback(stats)` at the end of every step (an empty function removes it).
  void on_iteration(Callback callback) { callback_ = std::move(callback); }

  // --- state --------------------------------------------------------------------------------------

  /// The learner's whole state (weights of every block, chains, optimizer state, engine, iteration,
  /// stage, base learning rate) as a value; restore(state()) changes nothing but gradient().
  LearnerState<Scalar> state() const {
    LearnerState<Scalar> out;
    state(out);
    return out;
  }
  /// The same into `out`, reusing its buffers: no allocation when `out` already holds a state of this
  /// learner (besides the model's parameters() list).
  void state(LearnerState<Scalar>& out) const { state_into(out, model_->parameters()); }

  /// Puts the learner (and its model's weights and depth) back to `state`, e.g. one from state() —
  /// possibly of another learner with the same model architecture, options and chains. gradient()
  /// becomes zero. Copies into the learner's buffers.
  /// throws: Error naming "<Learner>::restore" and the first field that does not fit (mismatch());
  ///         the learner is unchanged then.
  void restore(const LearnerState<Scalar>& state) {
    const std::string problem = mismatch(state);
    if (!problem.empty()) {
      const std::string fn = std::string(learner_name_) + "::restore";
      detail::fail(fn.c_str(), "argument 'state' does not fit this learner: ", problem);
    }
    restore_from(state, model_->parameters());
    gradient_.set_zero();
  }

  /// Empty when restore(state) would accept `state`; otherwise the first field that does not fit, as
  /// "field 'chains' has shape 1x8x8x3, expected 1x8x8x2". Checked: the number and sizes of the weight
  /// and optimizer blocks, the chains' shape, step counts >= 0, iteration >= 0, a stage of this
  /// learner, a finite learning rate > 0.
  std::string mismatch(const LearnerState<Scalar>& state) const {
    const auto params = model_->parameters();
    if (state.weights.size() != params.size())
      return detail::concat("field 'weights' has ", state.weights.size(), " blocks, expected ", params.size());
    for (std::size_t b = 0; b < params.size(); ++b)
      if (state.weights[b].size() != params[b].size())
        return detail::concat("field 'weights' block ", b, " (", params[b].name, ") has ", state.weights[b].size(),
                              " values, expected ", params[b].size());
    if (!(state.chains.dimensions() == chains_.dimensions()))
      return detail::concat("field 'chains' has shape ", to_string(shape_of(state.chains)), "x",
                            batch_size(state.chains), ", expected ", to_string(shape_of(chains_)), "x",
                            batch_size(chains_));
    std::string problem = optimizer_.mismatch(state.optimizer, "optimizer.");
    if (!problem.empty()) return problem;
    if (state.iteration < 0) return detail::concat("field 'iteration' is ", state.iteration, ", expected >= 0");
    if (state.stage < 0 || state.stage >= num_stages())
      return detail::concat("field 'stage' is ", state.stage, ", expected 0..", num_stages() - 1);
    if (!(state.learning_rate > 0 && std::isfinite(state.learning_rate)))
      return detail::concat("field 'learning_rate' is ", state.learning_rate, ", expected a finite value > 0");
    return {};
  }

  /// The values a new learner with these options starts with, for the fields LearnerStateField marks
  /// optional (a checkpoint leaves out an optional field that has this value): learning_rate =
  /// options().optimizer.learning_rate. The other fields are empty or zero.
  LearnerState<Scalar> defaults() const {
    LearnerState<Scalar> out;
    out.learning_rate = options_.optimizer.learning_rate;
    return out;
  }

  /// The synthesized chains Ĩ (mean-subtracted intensities), one image per batch column.
  const Batch<Scalar>& synthesized() const { return chains_; }
  Batch<Scalar>& synthesized() { return chains_; }
  /// The observed images the learner was given (with options.observed_known: the unknown pixels 0).
  const Batch<Scalar>& observed() const { return observed_; }
  Model& model() { return *model_; }
  const Model& model() const { return *model_; }
  /// The options the learner was built with (set_learning_rate does not change them).
  const LearningOptions& options() const { return options_; }
  /// H_obs − H_syn of the last step, block for block like model().parameters(), before the
  /// release-code preprocessing and before the update (zero before the first step).
  const Gradients<Scalar>& gradient() const { return gradient_; }
  const Optimizer<Scalar>& optimizer() const { return optimizer_; }
  /// The learner's random engine (Langevin noise, chain initialisation).
  const Engine& engine() const { return engine_; }

  /// Writes state() with the model's architecture (safetensors, atomically).
  /// Needs #include <gconvnet/io/checkpoint.hpp> (target gconvnet::io).
  template <class M = Model>
  void save_checkpoint(const std::string& path) const {
    io::LearnerCheckpoint<M>::save(*this, path);
  }
  /// Restores what save_checkpoint wrote; continuing is bit-identical to an uninterrupted run.
  /// Needs #include <gconvnet/io/checkpoint.hpp>. throws: Error naming the file; the learner is
  /// unchanged when the file does not fit.
  template <class M = Model>
  void load_checkpoint(const std::string& path) {
    io::LearnerCheckpoint<M>::load(*this, path);
  }

protected:
  /// requires: observed has the model's input shape, at least one image, finite values; valid options.
  /// throws: Error naming `name` and the argument.
  LearnerBase(const char* name, bool restart_from_observed, Model& model, const Batch<Scalar>& observed,
              const LearningOptions& options, std::uint64_t seed)
      : learner_name_(name), restart_from_observed_(restart_from_observed), model_(&model), observed_(observed),
        options_(checked(options, name)), engine_(seed), optimizer_(options.optimizer),
        base_learning_rate_(options.optimizer.learning_rate) {
    const std::string ctor = std::string(name) + "::" + name;
    detail::check(shape_of(observed) == model.input_shape() && batch_size(observed) >= 1, ctor.c_str(),
                  "argument 'observed' has shape ", to_string(shape_of(observed)), "x", batch_size(observed),
                  ", expected ", to_string(model.input_shape()), "xM with M >= 1 (the model's input shape)");
    depths_ = gconvnet::stage_depths(model);
    if (options_.observed_known.size() > 0) {
      if constexpr (has_top_weighted_gradient)
        use_known_pixels(ctor.c_str());
      else
        detail::fail(ctor.c_str(), "argument 'options.observed_known' is set, but the model has no top-weighted "
                     "parameter gradient (a category view); expected an empty mask, or an EnergyModel or "
                     "DynamicModel");
    }
    detail::check(all_finite(observed_), ctor.c_str(), "argument 'observed' holds NaN or Inf",
                  options_.observed_known.size() > 0 ? " at a known pixel" : "");
    optimizer_.reset(model.parameters());
    gradient_ = model.zero_gradients();
    pending_ = gradient_;
  }

  /// Puts the learner at stage s without touching the chains (constructors).
  void start_at_stage(Index s) {
    first_stage_ = s;
    stage_ = s;
    model_->set_depth(depths_[static_cast<std::size_t>(s)]);
    initialize_chains();
  }

private:
  /// Chains at zero (the mean image) or N(0, σ²) noise, options.chains of them (CD: one per observed image).
  void initialize_chains() {
    const Index n = restart_from_observed_ ? batch_size(observed_) : options_.chains;
    ensure_shape(chains_, model_->input_shape(), n);
    if (restart_from_observed_) {
      chains_ = observed_;
    } else if (options_.chain_init == LearningOptions::ChainInit::zero) {
      chains_.setZero();
    } else {
      fill_standard_normal(engine_, chains_);
      as_vector(chains_) *= static_cast<Scalar>(options_.langevin.reference_sigma);
    }
  }

  /// options.observed_known: zeroes the unknown pixels of observed_ and weighs, at every stage, the top
  /// responses whose receptive field lies among the known pixels or the zero padding
  /// (observed_weight_), and those of the chains at the same positions (synthesized_weight_: the mean
  /// of the observed images' weights), both scaled by (all responses)/(those counted).
  void use_known_pixels(const char* ctor) {
    const PixelMask& known = options_.observed_known;
    const Index M = batch_size(observed_), m = batch_size(known), image = observed_.size() / M;
    const Shape input = model_->input_shape();
    detail::check(shape_of(known) == input && (m == 1 || m == M), ctor, "argument 'options.observed_known' has shape ",
                  to_string(shape_of(known)), "x", m, ", expected ", to_string(input), "x1 or ", to_string(input), "x",
                  M, " (the observed images' shape)");
    for (Index n = 0; n < M; ++n)
      for (Index i = 0; i < image; ++i)
        if (known.data()[(m == 1 ? 0 : n * image) + i] == 0) observed_.data()[n * image + i] = Scalar(0);
    const Index depth = model_->depth();
    for (std::size_t s = 0; s < depths_.size(); ++s) {
      model_->set_depth(depths_[s]);
      const PixelMask top = known_top_units(*model_, known);
      Index count = 0;
      for (Index i = 0; i < top.size(); ++i) count += top.data()[i] != 0;
      if (count == 0) {
        model_->set_depth(depth);
        detail::fail(ctor, "argument 'options.observed_known' leaves no response of layer ", depths_[s] - 1,
                     " (stage ", s, ") whose receptive field holds known pixels only; expected a known region at "
                     "least as large as that receptive field");
      }
      Batch<Scalar> weight = make_batch<Scalar>(shape_of(top), batch_size(top));
      const Scalar scale = static_cast<Scalar>(static_cast<double>(top.size()) / static_cast<double>(count));
      for (Index i = 0; i < top.size(); ++i) weight.data()[i] = top.data()[i] != 0 ? scale : Scalar(0);
      Batch<Scalar> mean = make_batch<Scalar>(shape_of(top), 1);
      mean.setZero();
      const Index per = mean.size(), m_top = batch_size(top);
      for (Index n = 0; n < m_top; ++n)
        for (Index i = 0; i < per; ++i) mean.data()[i] += weight.data()[n * per + i] / static_cast<Scalar>(m_top);
      observed_weight_.push_back(std::move(weight));
      synthesized_weight_.push_back(std::move(mean));
    }
    model_->set_depth(depth);
  }

  /// The options, checked before any member is built from them (so that an optimizer option is
  /// reported by the learner's constructor, not by Optimizer::Optimizer).
  static const LearningOptions& checked(const LearningOptions& options, const char* name) {
    detail::check_learning_options(options, (std::string(name) + "::" + name).c_str());
    return options;
  }

  /// "<Learner>::step: iteration T (stage S): ", the start of every divergence message.
  std::string where() const {
    return detail::concat(learner_name_, "::step: iteration ", iteration_, " (stage ", stage_, "): ");
  }

  /// state(out) with the model's parameter list at hand. Every field of LearnerState is filled here.
  void state_into(LearnerState<Scalar>& out, const std::vector<ParameterRef<Scalar>>& params) const {
    out.weights.resize(params.size());
    for (std::size_t b = 0; b < params.size(); ++b) out.weights[b] = params[b].vector();
    out.chains = chains_;
    out.optimizer = optimizer_.state();
    out.engine = engine_;
    out.iteration = iteration_;
    out.stage = stage_;
    out.learning_rate = base_learning_rate_;
  }

  /// restore() without the checks (a state that fits). Every field of LearnerState is set here.
  void restore_from(const LearnerState<Scalar>& in, const std::vector<ParameterRef<Scalar>>& params) {
    for (std::size_t b = 0; b < params.size(); ++b) params[b].vector() = in.weights[b];
    chains_ = in.chains;
    optimizer_.restore(in.optimizer);
    engine_ = in.engine;
    iteration_ = in.iteration;
    stage_ = in.stage;
    model_->set_depth(depths_[static_cast<std::size_t>(stage_)]);
    base_learning_rate_ = in.learning_rate;
  }

  const char* learner_name_;
  bool restart_from_observed_;
  Model* model_;
  Batch<Scalar> observed_;
  LearningOptions options_;
  Engine engine_;
  Optimizer<Scalar> optimizer_;
  double base_learning_rate_;
  std::vector<Index> depths_;
  Index stage_ = 0;
  Index first_stage_ = 0;
  Index iteration_ = 0;
  Batch<Scalar> chains_;
  Gradients<Scalar> gradient_;   // H_obs − H_syn of the last successful step
  Gradients<Scalar> pending_;    // the same, being computed
  Gradients<Scalar> update_;
  Vector<Scalar> scores_;
  // Whether Model has accumulate_parameter_gradient(x, g, scale, scores, top_weight) (EnergyModel and
  // DynamicModel do; a CategoryView does not): options.observed_known needs it.
  template <class M, class = void>
  struct TopWeighted : std::false_type {};
  template <class M>
  struct TopWeighted<M, std::void_t<decltype(std::declval<const M&>().accumulate_parameter_gradient(
                            std::declval<const Batch<Scalar>&>(), std::declval<Gradients<Scalar>&>(), Scalar(1),
                            std::declval<Vector<Scalar>&>(), std::declval<const Batch<Scalar>&>()))>>
      : std::true_type {};
  static constexpr bool has_top_weighted_gradient = TopWeighted<Model>::value;

  std::vector<Batch<Scalar>> observed_weight_;     // per stage: ω of the top responses (options.observed_known)
  std::vector<Batch<Scalar>> synthesized_weight_;  // per stage: ω of the chains' (the observed ω's mean)
  std::vector<double> map_sizes_;
  std::vector<char> trainable_;
  LangevinWorkspace<Scalar> workspace_;
  LearnerState<Scalar> saved_;   // the state before the current step (the divergence guard)
  IterationStats stats_;
  Callback callback_;
};

}  // namespace gconvnet
