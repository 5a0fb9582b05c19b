// gconvnet/learning/options.hpp — the settings of the learners (Algorithm 1, CD-k) and their optimizer.
//
// The defaults are those of the authors' release code for textures (DESIGN.md §3): plain SGD ascent
// with η = 5e-4, each layer's gradient divided by the H×W of its output map and rescaled when its
// largest entry exceeds 20, weight decay 1e-4 on weights, bias learning rate ×2, ε = 0.3, L = 10, σ = 1,
// chains starting at zero and restarting when a layer is added, η halved at each new layer.
#pragma once

#include <cmath>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"
#include "gconvnet/sampling/langevin.hpp"

namespace gconvnet {

/// How the ascent direction H_obs − H_syn of eq. 7.2 becomes a parameter update.
///   SGD (MatConvNet's form):  v ← μ·v + g − λ·w,  w ← w + η·v          (λ = weight_decay, weights only)
///   Adam:                     g' = g − λ·w; m, v moments of g';  w ← w + η·m̂/(√v̂ + eps)
/// where g is the gradient after the optional release-code preprocessing (per-layer division by the
/// output map's H×W, then rescaling of a block whose largest |entry| exceeds gradient_cap), and η is
/// multiplied by bias_learning_rate_multiplier for biases. This is gradient ASCENT on the log-likelihood.
struct OptimizerOptions {
  enum class Method { sgd, adam };
  Method method = Method::sgd;
  double learning_rate = 5e-4;              ///< η > 0
  double momentum = 0.0;                    ///< μ ∈ [0, 1); sgd only
  double beta1 = 0.9;                       ///< adam only, ∈ [0, 1)
  double beta2 = 0.999;                     ///< adam only, ∈ [0, 1)
  double adam_epsilon = 1e-8;               ///< adam only, > 0
  double weight_decay = 1e-4;               ///< λ ≥ 0, on weights only, never on biases
  double bias_learning_rate_multiplier = 2.0;  ///< ≥ 0
  bool normalize_by_map_size = true;        ///< divide layer l's gradient by H×W of its output map (release code)
  double gradient_cap = 20.0;               ///< rescale a block whose largest |entry| exceeds this (0 = off)
};

/// Settings of MleLearner (Algorithm 1 with layer growing, Sec. 8) and CdLearner (Sec. 7).
struct LearningOptions {
  Index chains = 16;                        ///< M̃ persistent synthesized chains (MLE; CD uses one per observed image)
  LangevinOptions langevin{0.3, 10, 1.0};   ///< ε, L (CD: k), σ
  OptimizerOptions optimizer{};
  enum class ChainInit { zero, noise };
  ChainInit chain_init = ChainInit::zero;   ///< zero: the mean image; noise: N(0, σ²) per pixel
  bool reset_chains_on_grow = true;         ///< chains restart when a layer stage is added
  bool freeze_lower_layers = false;         ///< when growing: lower layers keep learning (false) or are frozen
  double learning_rate_factor_on_grow = 0.5;  ///< η is multiplied by this at each new stage (> 0)
  /// The known pixels of the observed images (nonzero), or empty: every pixel known. With a mask
  /// (C, H, W, 1) or (C, H, W, M) the learner zeroes the unknown pixels of its copy of the observed
  /// images, H_obs and f(I_obs) sum only the top responses whose receptive field lies among the known
  /// pixels or the zero padding (known_top_units), and H_syn and f(Ĩ) the
  /// chains' responses at the same positions (with M masks: their mean), both scaled by (all
  /// responses)/(those): the unknown pixels never enter the observed statistics, and both sides weigh
  /// the same positions; an all-known mask learns as no mask, bit for bit. (The activation fractions of
  /// IterationStats count every unit.) It needs the model's top-weighted parameter gradient, which an
  /// EnergyModel and a DynamicModel have and a CategoryView does not: a learner over such a model
  /// refuses a non-empty mask (learning.learner.observed_known_model in docs/errors.md).
  PixelMask observed_known{};
};

namespace detail {

/// Throws Error naming `function` when an option is out of range.
inline void check_optimizer_options(const OptimizerOptions& o, const char* function) {
  auto finite = [](double v) { return std::isfinite(v); };
  check(o.method == OptimizerOptions::Method::sgd || o.method == OptimizerOptions::Method::adam, function,
        "argument 'options.optimizer.method' is not sgd or adam");
  check(o.learning_rate > 0 && finite(o.learning_rate), function, "argument 'options.optimizer.learning_rate' is ",
        o.learning_rate, ", expected a finite value > 0");
  check(o.momentum >= 0 && o.momentum < 1, function, "argument 'options.optimizer.momentum' is ", o.momentum,
        ", expected a value in [0, 1)");
  check(o.beta1 >= 0 && o.beta1 < 1, function, "argument 'options.optimizer.beta1' is ", o.beta1,
        ", expected a value in [0, 1)");
  check(o.beta2 >= 0 && o.beta2 < 1, function, "argument 'options.optimizer.beta2' is ", o.beta2,
        ", expected a value in [0, 1)");
  check(o.adam_epsilon > 0 && finite(o.adam_epsilon), function, "argument 'options.optimizer.adam_epsilon' is ",
        o.adam_epsilon, ", expected a finite value > 0");
  check(o.weight_decay >= 0 && finite(o.weight_decay), function, "argument 'options.optimizer.weight_decay' is ",
        o.weight_decay, ", expected a finite value >= 0");
  check(o.bias_learning_rate_multiplier >= 0 && finite(o.bias_learning_rate_multiplier), function,
        "argument 'options.optimizer.bias_learning_rate_multiplier' is ", o.bias_learning_rate_multiplier,
        ", expected a finite value >= 0");
  check(o.gradient_cap >= 0 && finite(o.gradient_cap), function, "argument 'options.optimizer.gradient_cap' is ",
        o.gradient_cap, ", expected a finite value >= 0 (0 = off)");
}

/// Throws Error naming `function` when a learning option is out of range.
inline void check_learning_options(const LearningOptions& o, const char* function) {
  check(o.chains >= 1, function, "argument 'options.chains' is ", o.chains, ", expected >= 1");
  check(o.langevin.step_size > 0 && std::isfinite(o.langevin.step_size), function,
        "argument 'options.langevin.step_size' is ", o.langevin.step_size, ", expected a finite value > 0");
  check(o.langevin.steps >= 0, function, "argument 'options.langevin.steps' is ", o.langevin.steps,
        ", expected >= 0");
  check(o.langevin.reference_sigma > 0 && std::isfinite(o.langevin.reference_sigma), function,
        "argument 'options.langevin.reference_sigma' is ", o.langevin.reference_sigma,
        ", expected a finite value > 0");
  check(o.chain_init == LearningOptions::ChainInit::zero || o.chain_init == LearningOptions::ChainInit::noise,
        function, "argument 'options.chain_init' is not zero or noise");
  check(o.learning_rate_factor_on_grow > 0 && std::isfinite(o.learning_rate_factor_on_grow), function,
        "argument 'options.learning_rate_factor_on_grow' is ", o.learning_rate_factor_on_grow,
        ", expected a finite value > 0");
  check_optimizer_options(o.optimizer, function);
}

}  // namespace detail
}  // namespace gconvnet
