// gconvnet/learning/optimizer.hpp — the parameter update of Algorithm 1: w ← w + η (H_obs − H_syn) (eq. 7.2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/learning/options.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet {

/// What this object represents: the state of a gradient-ASCENT optimizer (SGD with momentum, or Adam)
/// over the parameter blocks of one model, block for block like model.parameters(); see
/// OptimizerOptions for the update rules. Its whole state (first_moment, second_moment, steps) is
/// public so that checkpoints can store it; restoring it restores the optimizer bit for bit.
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
    first_moment.blocks.clear();
    second_moment.blocks.clear();
    for (const auto& p : parameters) {
      first_moment.blocks.push_back(Vector<S>::Zero(p.size()));
      if (options_.method == OptimizerOptions::Method::adam) second_moment.blocks.push_back(Vector<S>::Zero(p.size()));
    }
    steps.assign(parameters.size(), 0);
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
    detail::check(gradient.blocks.size() == n && trainable.size() == n && first_moment.blocks.size() == n &&
                      steps.size() == n,
                  fn, "arguments do not match: ", n, " parameter blocks, ", gradient.blocks.size(),
                  " gradient blocks, ", trainable.size(), " trainable flags, state for ", first_moment.blocks.size(),
                  " blocks (call reset with the model's parameters first)");
    detail::check(learning_rate > 0 && std::isfinite(learning_rate), fn, "argument 'learning_rate' is ",
                  learning_rate, ", expected a finite value > 0");
    const bool adam = options_.method == OptimizerOptions::Method::adam;
    for (std::size_t b = 0; b < n; ++b) {
      if (!trainable[b]) continue;
      const auto& p = parameters[b];
      auto w = p.vector();
      const auto& g = gradient.blocks[b];
      detail::check(g.size() == w.size() && first_moment.blocks[b].size() == w.size(), fn, "block ", p.name,
                    " has ", w.size(), " parameters but the gradient or state has ", g.size());
      const S eta = static_cast<S>(learning_rate * (p.is_bias ? options_.bias_learning_rate_multiplier : 1.0));
      const S decay = p.is_bias ? S(0) : static_cast<S>(options_.weight_decay);
      auto& m = first_moment.blocks[b];
      ++steps[b];
      if (!adam) {
        const S mu = static_cast<S>(options_.momentum);
        m = mu * m + g - decay * w;
        w += eta * m;
      } else {
        auto& v = second_moment.blocks[b];
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

  // --- state (public for checkpoints) -------------------------------------------------------------
  Gradients<S> first_moment;   ///< SGD: the velocity v; Adam: m
  Gradients<S> second_moment;  ///< Adam: v; empty for SGD
  std::vector<Index> steps;    ///< updates applied to each block (Adam's bias correction)

private:
  OptimizerOptions options_;
};

}  // namespace gconvnet
