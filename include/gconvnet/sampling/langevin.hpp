// gconvnet/sampling/langevin.hpp — Langevin dynamics over a batch of chains (eq. 6.10, general σ).
#pragma once

#include <cmath>
#include <random>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

/// Options of the Langevin sampler. The paper: σ = 1, ε = 0.3 (MLE) or 0.5 (CD), L = 10.
struct LangevinOptions {
  double step_size = 0.3;        ///< ε > 0
  Index steps = 10;              ///< L ≥ 0 steps per call
  double reference_sigma = 1.0;  ///< σ > 0 of q(I) = N(0, σ²)
};

/// Reusable buffers of the sampler: keep one per chain batch and nothing is allocated after the first step.
template <class S>
struct LangevinWorkspace {
  Batch<S> gradient;  ///< ∂f/∂I = B_{w,δ(I)} of the current state
  Vector<S> scores;   ///< f of the current state
};

/// Runs options.steps Langevin steps on every chain (one image per batch column):
///   I ← I − (ε²/2)(I/σ² − ∂f/∂I) + ε Z,  Z ~ N(0, 1)   (eq. 6.10)
/// requires: chains has the model's input shape; ε > 0, σ > 0.  Noise is drawn from `engine` only
/// (no hidden distribution state), so the same engine state gives bit-identical chains.
/// throws: Error on bad options or shape; NumericalError naming the step and chain on NaN/Inf.
template <class Model, class Engine>
void langevin(Model& model, Batch<typename Model::Scalar>& chains, const LangevinOptions& options, Engine& engine,
              LangevinWorkspace<typename Model::Scalar>& ws) {
  using S = typename Model::Scalar;
  const char* fn = "langevin";
  detail::check(options.step_size > 0 && std::isfinite(options.step_size), fn, "argument 'options.step_size' is ",
                options.step_size, ", expected a finite value > 0");
  detail::check(options.reference_sigma > 0 && std::isfinite(options.reference_sigma), fn,
                "argument 'options.reference_sigma' is ", options.reference_sigma, ", expected a finite value > 0");
  detail::check(options.steps >= 0, fn, "argument 'options.steps' is ", options.steps, ", expected >= 0");
  detail::check(shape_of(chains) == model.input_shape() && batch_size(chains) >= 1, fn, "argument 'chains' has shape ",
                to_string(shape_of(chains)), "x", batch_size(chains), ", expected ", to_string(model.input_shape()),
                "xN with N >= 1");
  const S eps = static_cast<S>(options.step_size);
  const S shrink = S(1) - eps * eps / (S(2) * static_cast<S>(options.reference_sigma * options.reference_sigma));
  const S drift = eps * eps / S(2);
  std::normal_distribution<S> normal(S(0), S(1));
  auto x = as_vector(chains);
  for (Index step = 0; step < options.steps; ++step) {
    model.score_and_gradient(chains, ws.scores, ws.gradient);
    auto g = as_vector(ws.gradient);
    for (Index i = 0; i < x.size(); ++i) x(i) = shrink * x(i) + drift * g(i) + eps * normal(engine);
    if (!x.allFinite()) {
      const auto cols = as_columns(chains);
      Index bad = 0;
      while (bad < cols.cols() && cols.col(bad).allFinite()) ++bad;
      throw NumericalError(detail::concat("langevin: chain ", bad, " became NaN or Inf at step ", step,
                                          "; try a smaller step_size or learning rate"));
    }
  }
}

/// The same with a temporary workspace (allocates on every call).
template <class Model, class Engine>
void langevin(Model& model, Batch<typename Model::Scalar>& chains, const LangevinOptions& options, Engine& engine) {
  LangevinWorkspace<typename Model::Scalar> ws;
  langevin(model, chains, options, engine, ws);
}

}  // namespace gconvnet
