// gconvnet/sampling/langevin.hpp — Langevin dynamics over a batch of chains (eq. 6.10, general σ),
// plain or Metropolis-adjusted (MALA).
//
// One step moves every chain (one image per batch column) by
//   I' = I − (ε²/2)(I/σ² − ∂f/∂I) + ε Z,   Z ~ N(0, 1),   ∂f/∂I = B_{w,δ(I)}   (eq. 6.10, Theorem 1)
// i.e. a gradient step on the energy U(I) = ‖I‖²/(2σ²) − f(I) plus noise. Plain Langevin always moves
// and samples p(I; w) only as ε → 0: on the untilted model (f ≡ 0) it is the AR(1) chain
// I' = (1 − ε²/(2σ²)) I + ε Z, whose stationary variance is σ²/(1 − ε²/(4σ²)), not σ². With
// `metropolis` the move is a proposal accepted with probability
//   min(1, exp(U(I) − U(I')) · q(I | I') / q(I' | I)),   q(y | x) = N(y; x − (ε²/2)∇U(x), ε²),
// chain by chain (MALA), which leaves p(I; w) exactly invariant at any step size.
// With options.fixed (sampling/fixed_pixels.hpp) only the free pixels move, and the chain samples the
// conditional p(I_free | I_fixed; w): the move, the noise and the MALA proposal densities are those of
// the free coordinates; fixed pixels are never written.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/sampling/diagnostics.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"
#include "gconvnet/sampling/random.hpp"

namespace gconvnet {

/// Options of the Langevin sampler. The paper: σ = 1, ε = 0.3 (MLE) or 0.5 (CD), L = 10.
struct LangevinOptions {
  double step_size = 0.3;        ///< ε > 0
  Index steps = 10;              ///< L ≥ 0 steps per call
  double reference_sigma = 1.0;  ///< σ > 0 of q(I) = N(0, σ²)
  bool metropolis = false;       ///< accept/reject every move (MALA): exact at any ε, one extra evaluation per call
  /// Pixels kept fixed (nonzero), or nullptr: every pixel moves. Not owned; must outlive the call.
  const PixelMask* fixed = nullptr;
};

/// What one call of the sampler did.
struct LangevinReport {
  Index steps = 0;      ///< steps taken
  Index proposals = 0;  ///< MALA: chains × steps; 0 for plain Langevin
  Index accepted = 0;   ///< MALA: proposals accepted
  /// accepted / proposals; 1 for plain Langevin (every move is taken).
  double acceptance_rate() const {
    return proposals > 0 ? static_cast<double>(accepted) / static_cast<double>(proposals) : 1.0;
  }
};

/// Reusable buffers of the sampler: keep one per chain batch and nothing is allocated after the first
/// step (the model keeps its own buffers likewise).
template <class S>
struct LangevinWorkspace {
  Batch<S> gradient;  ///< ∂f/∂I = B_{w,δ(I)} of the current state
  Vector<S> scores;   ///< f of the current state
  Batch<S> noise;     ///< Z of the last step
  // MALA only (and plain Langevin with fixed pixels: proposal)
  Batch<S> proposal;           ///< I'
  Batch<S> proposal_gradient;  ///< ∂f/∂I at I'
  Vector<S> proposal_scores;   ///< f(I')
  Vector<double> energy;            ///< U of the current state
  Vector<double> proposal_energy;   ///< U(I')
  Vector<double> log_acceptance;    ///< log of the acceptance ratio, per chain, last step
  Vector<Index> accepted;           ///< accepted proposals per chain in the last MALA call
  // diagnostics (only when an observer watches)
  Matrix<double> active;           ///< fraction of active units, gated layer × chain, current state
  Matrix<double> proposal_active;  ///< the same at I'
  std::vector<Index> gated_layers;
  SamplerDiagnostics diagnostics;  ///< what the observer is shown
  LangevinReport report;           ///< of the last call
};

namespace detail {

// One Langevin move of every chain with fresh noise: z = the N(0, 1) draws of
// fill_standard_normal_parallel under `key` (written to z, the workspace's noise), then
// out = shrink·x + drift·g + eps·z, elementwise. The blocks of detail::normal_block values are shared
// among the threads, each generating, moving and checking its own block while it is in cache (no sum
// over blocks, so the result does not depend on the thread count). Returns whether every value of
// out is finite. out may be x.
template <class S>
bool langevin_move(std::uint64_t key, const S* x, const S* g, S* z, S* out, Index size, S shrink, S drift, S eps) {
  const Index blocks = (size + normal_block - 1) / normal_block;
  std::atomic<bool> finite{true};
  const double work = (cost::normal + 5 * cost::scalar) * static_cast<double>(size);
  parallel_for(blocks, work, [&](Index b) {
    const Index begin = b * normal_block, len = std::min(normal_block, size - begin);
    fill_normal_block(key, b, z + begin, len);
    Eigen::Map<const Vector<S>> xb(x + begin, len), gb(g + begin, len), zb(z + begin, len);
    Eigen::Map<Vector<S>> ob(out + begin, len);
    ob = shrink * xb + drift * gb + eps * zb;
    if (!ob.allFinite()) finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

}  // namespace detail

/// Runs options.steps Langevin steps (plain or, with options.metropolis, MALA) on every chain:
///   I ← I − (ε²/2)(I/σ² − ∂f/∂I) + ε Z,  Z ~ N(0, 1)   (eq. 6.10)
/// and calls observe(const SamplerDiagnostics&) for the chains as given (step 0) and after every step.
/// With options.fixed only the free pixels move (the conditional p(I_free | I_fixed; w)); the noise is
/// drawn for every pixel all the same, so an all-free mask gives the unmasked chains bit for bit.
/// requires: chains has N ≥ 1 images of the model's input shape; ε > 0, σ > 0, steps ≥ 0; a mask, if
///           any, shaped (C, H, W, 1) or (C, H, W, N).
/// ensures:  noise and accept/reject draws come from `engine` only, in a fixed order (no hidden
///           distribution state): each step draws one key for its noise (fill_standard_normal_parallel),
///           then (MALA) one uniform per chain. So the same engine state gives bit-identical chains
///           whatever the thread count, whether or not an observer watches, and one call of 2L steps
///           equals two calls of L steps; fixed pixels keep their bits; ws.report (also returned)
///           counts steps, proposals and acceptances.
/// throws:   Error on bad options or shape; NumericalError naming the step and chain on NaN/Inf.
/// Cost: one forward + top-down pass per step (MALA: one more per call); plain Langevin with an
/// observer also evaluates the final state once.
template <class Model, class Engine, class Observer>
LangevinReport langevin(const Model& model, Batch<typename Model::Scalar>& chains, const LangevinOptions& options,
                        Engine& engine, LangevinWorkspace<typename Model::Scalar>& ws, Observer&& observe) {
  using S = typename Model::Scalar;
  constexpr bool observing = detail::is_observing<Observer>();
  const char* fn = "langevin";
  detail::check_sampler_options(fn, options.step_size, options.reference_sigma, options.steps, "steps");
  detail::check_chains(fn, chains, model.input_shape());
  const PixelMask* fixed = options.fixed;
  if (fixed) detail::check_fixed_mask(fn, *fixed, chains);

  const double sigma = options.reference_sigma;
  const S eps = static_cast<S>(options.step_size);
  const S shrink = S(1) - eps * eps / (S(2) * static_cast<S>(sigma * sigma));
  const S drift = eps * eps / S(2);
  const Index n_chains = batch_size(chains);
  const Index size = chains.size();
  ensure_shape(ws.noise, shape_of(chains), n_chains);
  ws.report = LangevinReport{};
  SamplerDiagnostics& diag = ws.diagnostics;
  diag.proposals = diag.accepted = diag.converged = 0;

  auto report_state = [&](Index step) {
    if constexpr (observing) {
      detail::active_per_chain(model.last_pattern(), ws.gated_layers, ws.active);
      detail::fill_diagnostics(diag, chains, ws.scores, ws.gradient, sigma, ws.gated_layers, ws.active, fixed);
      diag.step = step;
      observe(static_cast<const SamplerDiagnostics&>(diag));
    } else {
      static_cast<void>(step);
    }
  };

  if (!options.metropolis) {
    for (Index step = 0; step < options.steps; ++step) {
      model.score_and_gradient(chains, ws.scores, ws.gradient);
      report_state(step);
      const std::uint64_t key = random_bits64(engine);
      if (fixed) {  // the move into ws.proposal, then its free pixels into the chains
        ensure_shape(ws.proposal, shape_of(chains), n_chains);
        const bool finite = detail::langevin_move(key, chains.data(), ws.gradient.data(), ws.noise.data(),
                                                  ws.proposal.data(), size, shrink, drift, eps);
        detail::copy_where(ws.proposal, chains, *fixed, false);
        if (!finite) detail::check_chains_finite(fn, chains, step, "plain Langevin step");
      } else if (!detail::langevin_move(key, chains.data(), ws.gradient.data(), ws.noise.data(), chains.data(), size,
                                        shrink, drift, eps)) {
        detail::check_chains_finite(fn, chains, step, "plain Langevin step");
      }
      ++ws.report.steps;
    }
    if constexpr (observing) {
      model.score_and_gradient(chains, ws.scores, ws.gradient);
      report_state(options.steps);
    }
    return ws.report;
  }

  // MALA. Current state: chains, ws.scores, ws.gradient, ws.energy (and ws.active when observing).
  ensure_shape(ws.proposal, shape_of(chains), n_chains);
  if (ws.accepted.size() != n_chains) ws.accepted.resize(n_chains);
  if (ws.log_acceptance.size() != n_chains) ws.log_acceptance.resize(n_chains);
  ws.accepted.setZero();
  model.score_and_gradient(chains, ws.scores, ws.gradient);
  detail::chain_energies(chains, ws.scores, sigma, ws.energy);
  report_state(0);
  const double two_eps2 = 2.0 * options.step_size * options.step_size;
  const double shrink_d = static_cast<double>(shrink), drift_d = static_cast<double>(drift);
  const Index image = size / n_chains;
  for (Index step = 0; step < options.steps; ++step) {
    const std::uint64_t key = random_bits64(engine);
    const bool finite = detail::langevin_move(key, chains.data(), ws.gradient.data(), ws.noise.data(),
                                              ws.proposal.data(), size, shrink, drift, eps);
    if (fixed) detail::copy_where(chains, ws.proposal, *fixed, true);
    if (!finite) detail::check_chains_finite(fn, ws.proposal, step, "MALA proposal");
    model.score_and_gradient(ws.proposal, ws.proposal_scores, ws.proposal_gradient);
    detail::chain_energies(ws.proposal, ws.proposal_scores, sigma, ws.proposal_energy);
    if constexpr (observing) detail::active_per_chain(model.last_pattern(), ws.gated_layers, ws.proposal_active);
    // log α = U(I) − U(I') + ‖I' − μ(I)‖²/(2ε²) − ‖I − μ(I')‖²/(2ε²),  μ(x) = shrink·x + drift·B(x),
    // the norms over the free coordinates (U(I) − U(I') is the conditional's: the fixed part cancels).
    const S* x = chains.data();
    const S* g = ws.gradient.data();
    const S* y = ws.proposal.data();
    const S* h = ws.proposal_gradient.data();
    detail::parallel_for(n_chains, detail::cost::scalar * 4 * static_cast<double>(size), [&](Index n) {
      double forward = 0, backward = 0;
      const std::uint8_t* m = detail::chain_mask(fixed, n, image);
      for (Index j = 0; j < image; ++j) {
        if (m && m[j]) continue;
        const Index i = n * image + j;
        const double xi = static_cast<double>(x[i]), yi = static_cast<double>(y[i]);
        const double f = yi - shrink_d * xi - drift_d * static_cast<double>(g[i]);
        const double b = xi - shrink_d * yi - drift_d * static_cast<double>(h[i]);
        forward += f * f;
        backward += b * b;
      }
      ws.log_acceptance(n) = ws.energy(n) - ws.proposal_energy(n) + (forward - backward) / two_eps2;
    });
    for (Index n = 0; n < n_chains; ++n) {
      if (!std::isfinite(ws.proposal_energy(n)))
        throw NumericalError(detail::concat(fn, ": chain ", n, " became NaN or Inf at step ", step,
                                            " (MALA proposal energy ", ws.proposal_energy(n),
                                            "); try a smaller step_size or learning rate"));
      const double u = uniform01(engine);
      if (u < std::exp(std::min(0.0, ws.log_acceptance(n)))) {
        detail::copy_chain(ws.proposal, chains, n);
        detail::copy_chain(ws.proposal_gradient, ws.gradient, n);
        ws.scores(n) = ws.proposal_scores(n);
        ws.energy(n) = ws.proposal_energy(n);
        if constexpr (observing) ws.active.col(n) = ws.proposal_active.col(n);
        ++ws.accepted(n);
        ++ws.report.accepted;
      }
    }
    ws.report.proposals += n_chains;
    ++ws.report.steps;
    if constexpr (observing) {
      diag.proposals = ws.report.proposals;
      diag.accepted = ws.report.accepted;
      detail::fill_diagnostics(diag, chains, ws.scores, ws.gradient, sigma, ws.gated_layers, ws.active, fixed);
      diag.step = step + 1;
      observe(static_cast<const SamplerDiagnostics&>(diag));
    }
  }
  return ws.report;
}

/// Runs options.steps Langevin steps on every chain (see the overload with an observer), unobserved.
/// requires: chains has the model's input shape; ε > 0, σ > 0.  Noise is drawn from `engine` only
/// (no hidden distribution state), so the same engine state gives bit-identical chains.
/// ensures: returns (and leaves in ws.report) what the call did (MALA acceptance with options.metropolis).
/// throws: Error on bad options or shape; NumericalError naming the step and chain on NaN/Inf.
template <class Model, class Engine>
LangevinReport langevin(const Model& model, Batch<typename Model::Scalar>& chains, const LangevinOptions& options,
                        Engine& engine, LangevinWorkspace<typename Model::Scalar>& ws) {
  return langevin(model, chains, options, engine, ws, NoObserver{});
}

/// The same with a temporary workspace (allocates on every call).
template <class Model, class Engine>
LangevinReport langevin(const Model& model, Batch<typename Model::Scalar>& chains, const LangevinOptions& options,
                        Engine& engine) {
  LangevinWorkspace<typename Model::Scalar> ws;
  return langevin(model, chains, options, engine, ws);
}

/// Chains of another scalar type than the model's (a float model given double chains): one
/// static_assert line naming both types instead of a list of candidates. Convert with .cast<Scalar>().
template <class Model, class T, class... Rest,
          std::enable_if_t<!std::is_same_v<T, typename Model::Scalar>, int> = 0>
LangevinReport langevin(const Model&, Batch<T>&, Rest&&...) {
  return detail::scalar_mismatch<typename Model::Scalar, T>(), LangevinReport{};
}

}  // namespace gconvnet
