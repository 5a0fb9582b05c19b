// gconvnet/learning/optimizer.hpp — the parameter update of Algorithm 1: w ← w + η (H_obs − H_syn) (eq. 7.2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/learning/options.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet {

/// What this object represents: everything an Optimizer carries from one update to the next, one
/// entry per parameter block (model.parameters() order). A value: copy it to keep it, give it to
/// Optimizer::restore to go back to it bit for bit.
template <class S>
struct OptimizerState {
  std::vector<Vector<S>> first_moment;   ///< SGD: the velocity v; Adam: m
  std::vector<Vector<S>> second_moment;  ///< Adam: v; empty for SGD
  std::vector<Index> steps;              ///< updates applied to each block (Adam's bias correction)
};

/// What this object represents: a gradient-ASCENT optimizer (SGD with momentum, or Adam) over the
/// parameter blocks of one model, block for block like model.parameters(); see OptimizerOptions for
/// the update rules. Its state is read with state() and set with restore().
template <class S>
class Optimizer {
public:
  using Scalar = S;

  /// requires: valid options. throws: Error naming the bad option.
  explicit Optimizer(const OptimizerOptions& options = {}) : options_(options) {
    detail::check_optimizer_options(options, "Optimizer::Optimizer");
  }

  const OptimizerOptions& options() const { return options_; }

  /// Sizes the state like `parameters` and zeroes it (a fresh optimizer).
  void reset(const std::vector<ParameterRef<S>>& parameters) {
    state_.first_moment.clear();
    state_.second_moment.clear();
    for (const auto& p : parameters) {
      state_.first_moment.push_back(Vector<S>::Zero(p.size()));
      if (options_.method == OptimizerOptions::Method::adam) state_.second_moment.push_back(Vector<S>::Zero(p.size()));
    }
    state_.steps.assign(parameters.size(), 0);
  }

  /// The moments and step counts (sized by reset()).
  const OptimizerState<S>& state() const { return state_; }

  /// Puts the optimizer back to `state` (e.g. one returned by state()), copying into the buffers it
  /// has: no allocation when the sizes are those of reset().
  /// requires: `state` sized as reset() sized this optimizer (second_moment empty for SGD), steps >= 0.
  /// throws: Error naming the mismatching field; the optimizer is unchanged then.
  void restore(const OptimizerState<S>& state) {
    const std::string problem = mismatch(state);
    detail::check(problem.empty(), "Optimizer::restore", "argument 'state' does not fit this optimizer: ", problem);
    copy_blocks(state.first_moment, state_.first_moment);
    copy_blocks(state.second_moment, state_.second_moment);
    std::copy(state.steps.begin(), state.steps.end(), state_.steps.begin());
  }

  /// Empty when `state` has the sizes of this optimizer's state and steps >= 0; otherwise what differs
  /// first, as "field 'first_moment' has 3 blocks, expected 4" (`prefix` goes before the field's name).
  std::string mismatch(const OptimizerState<S>& state, const char* prefix = "") const {
    std::string problem = block_mismatch(prefix, "first_moment", state.first_moment, state_.first_moment);
    if (problem.empty()) problem = block_mismatch(prefix, "second_moment", state.second_moment, state_.second_moment);
    if (!problem.empty()) return problem;
    if (state.steps.size() != state_.steps.size())
      return detail::concat("field '", prefix, "steps' has ", state.steps.size(), " entries, expected ",
                            state_.steps.size());
    for (std::size_t b = 0; b < state.steps.size(); ++b)
      if (state.steps[b] < 0)
        return detail::concat("field '", prefix, "steps' holds ", state.steps[b], " at entry ", b, ", expected >= 0");
    return {};
  }

  /// The release code's preprocessing of the ascent direction, in place: block b is divided by
  /// map_sizes[b] (the H×W of its layer's output map) when normalize_by_map_size, then rescaled to
  /// largest |entry| = gradient_cap when it exceeds the cap (cap > 0).
  /// requires: gradient and map_sizes have one entry per block (map sizes ≥ 1).
  void preprocess(Gradients<S>& gradient, const std::vector<double>& map_sizes) const {
    detail::check(map_sizes.size() == gradient.blocks.size(), "Optimizer::preprocess", "argument 'map_sizes' has ",
                  map_sizes.size(), " entries, expected one per gradient block (", gradient.blocks.size(), ")");
    for (std::size_t b = 0; b < gradient.blocks.size(); ++b) {
      auto& g = gradient.blocks[b];
      if (options_.normalize_by_map_size && map_sizes[b] > 1) g /= static_cast<S>(map_sizes[b]);
      if (options_.gradient_cap > 0 && g.size() > 0) {
        const S largest = g.cwiseAbs().maxCoeff();
        const S cap = static_cast<S>(options_.gradient_cap);
        if (largest > cap) g *= cap / largest;
      }
    }
  }

  /// One ascent step with learning rate η on the blocks with trainable[b] != 0; others (inactive or
  /// frozen layers) and their state are left untouched.
  /// requires: reset() with these parameters; `gradient` already preprocessed; η > 0.
  /// throws: Error on mismatched sizes; NumericalError naming the block when a parameter becomes NaN or
  ///         Inf — the blocks before it are then updated and it holds the non-finite values
  ///         (LearnerBase::step keeps a copy and undoes the whole iteration).
  void update(const std::vector<ParameterRef<S>>& parameters, const Gradients<S>& gradient, double learning_rate,
              const std::vector<char>& trainable) {
    const char* fn = "Optimizer::update";
    const std::size_t n = parameters.size();
    auto& first_moment = state_.first_moment;
    auto& second_moment = state_.second_moment;
    auto& steps = state_.steps;
    detail::check(gradient.blocks.size() == n && trainable.size() == n && first_moment.size() == n &&
                      steps.size() == n,
                  fn, "arguments do not match: ", n, " parameter blocks, ", gradient.blocks.size(),
                  " gradient blocks, ", trainable.size(), " trainable flags, state for ", first_moment.size(),
                  " blocks (call reset with the model's parameters first)");
    detail::check(learning_rate > 0 && std::isfinite(learning_rate), fn, "argument 'learning_rate' is ",
                  learning_rate, ", expected a finite value > 0");
    const bool adam = options_.method == OptimizerOptions::Method::adam;
    for (std::size_t b = 0; b < n; ++b) {
      if (!trainable[b]) continue;
      const auto& p = parameters[b];
      auto w = p.vector();
      const auto& g = gradient.blocks[b];
      detail::check(g.size() == w.size() && first_moment[b].size() == w.size(), fn, "block ", p.name,
                    " has ", w.size(), " parameters but the gradient or state has ", g.size());
      const S eta = static_cast<S>(learning_rate * (p.is_bias ? options_.bias_learning_rate_multiplier : 1.0));
      const S decay = p.is_bias ? S(0) : static_cast<S>(options_.weight_decay);
      auto& m = first_moment[b];
      ++steps[b];
      if (!adam) {
        const S mu = static_cast<S>(options_.momentum);
        m = mu * m + g - decay * w;
        w += eta * m;
      } else {
        auto& v = second_moment[b];
        const S b1 = static_cast<S>(options_.beta1), b2 = static_cast<S>(options_.beta2);
        const S c1 = S(1) - static_cast<S>(std::pow(options_.beta1, static_cast<double>(steps[b])));
        const S c2 = S(1) - static_cast<S>(std::pow(options_.beta2, static_cast<double>(steps[b])));
        const S eps = static_cast<S>(options_.adam_epsilon);
        for (Index i = 0; i < w.size(); ++i) {
          const S gi = g(i) - decay * w(i);
          m(i) = b1 * m(i) + (S(1) - b1) * gi;
          v(i) = b2 * v(i) + (S(1) - b2) * gi * gi;
          w(i) += eta * (m(i) / c1) / (std::sqrt(v(i) / c2) + eps);
        }
      }
      if (!w.allFinite())
        throw NumericalError(detail::concat(fn, ": parameter block ", p.name,
                                            " became NaN or Inf; try a smaller learning rate or a gradient cap"));
    }
  }

private:
  static std::string block_mismatch(const char* prefix, const char* field, const std::vector<Vector<S>>& given,
                                    const std::vector<Vector<S>>& mine) {
    if (given.size() != mine.size())
      return detail::concat("field '", prefix, field, "' has ", given.size(), " blocks, expected ", mine.size());
    for (std::size_t b = 0; b < given.size(); ++b)
      if (given[b].size() != mine[b].size())
        return detail::concat("field '", prefix, field, "' block ", b, " has ", given[b].size(), " values, expected ",
                              mine[b].size());
    return {};
  }
  static void copy_blocks(const std::vector<Vector<S>>& from, std::vector<Vector<S>>& to) {
    for (std::size_t b = 0; b < from.size(); ++b) to[b] = from[b];
  }

  OptimizerOptions options_;
  OptimizerState<S> state_;
};

}  // namespace gconvnet
