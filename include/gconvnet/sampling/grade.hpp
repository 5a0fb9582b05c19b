// gconvnet/sampling/grade.hpp — GRADE: the Langevin step without noise, a descent on the energy to an
// auto-encoding local mode (Sec. 6, Prop. 2).
//
//   I ← I − (ε²/2)(I/σ² − B_{w,δ(I)})   (eq. 6.10 without ε Z)
//
// On a piece where δ stays fixed the step is the linear contraction I − σ²B ← (1 − ε²/(2σ²))(I − σ²B)
// toward the piece's Gaussian mean σ²B_{w,δ}; if that mean lies in its own piece the chain converges to
// Î = σ²·B_{w,δ(Î)}: Î is auto-encoding (bottom-up δ(Î), top-down B, Prop. 2). With σ = 1 and
// ε = √2 one step lands on B. The energy U = ‖I‖²/(2σ²) − f never increases when f is convex along the
// step (one ReLU layer) and ε ≤ 2σ; with deeper nets a step across a kink of f can raise it slightly.
// With options.fixed (sampling/fixed_pixels.hpp) only the free pixels move: a descent on the energy of
// the conditional p(I_free | I_fixed; w), whose modes satisfy Î_free = σ²·B_free.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/model/activation_pattern.hpp"
#include "gconvnet/sampling/diagnostics.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"

namespace gconvnet {

/// Options of GRADE descent.
struct GradeOptions {
  double step_size = 1.0;        ///< ε > 0: the step is (ε²/2)·∇U (ε ≤ 2σ keeps it a contraction)
  Index max_steps = 1000;        ///< step budget ≥ 0
  double reference_sigma = 1.0;  ///< σ > 0 of q(I) = N(0, σ²)
  /// A chain stops when its pattern δ did not change in its last step and that step moved it by
  /// ‖ΔI‖ ≤ tolerance · max(1, ‖I‖). Since ‖ΔI‖ = (ε²/(2σ²))‖I − σ²B‖, the remaining reconstruction
  /// error is then at most (2σ²/ε² − 1) · tolerance · max(1, ‖I‖). Float models need ≳ 1e-6.
  double tolerance = 1e-6;
  /// The report calls a final state auto-encoding when ‖Î − σ²·B_{w,δ(Î)}‖ ≤ this · max(1, ‖Î‖).
  double autoencoding_tolerance = 1e-4;
  /// Pixels kept fixed (nonzero), or nullptr: every pixel moves. Not owned; must outlive the call.
  const PixelMask* fixed = nullptr;
};

/// What GRADE descent found, per chain (index n = batch column).
struct GradeReport {
  Index steps = 0;                      ///< steps taken by the batch (the most any chain took)
  Vector<Index> chain_steps;            ///< steps chain n took before it stopped (max_steps if it did not)
  std::vector<bool> converged;          ///< chain n met the stopping rule within the budget
  Vector<double> energy;                ///< U(Î_n) = ‖Î_n‖²/(2σ²) − f(Î_n)
  Vector<double> reconstruction_error;  ///< ‖Î_n − σ²·B_{w,δ(Î_n)}‖ (over the free pixels when some are fixed)
  std::vector<bool> auto_encoding;      ///< reconstruction_error within autoencoding_tolerance (Prop. 2)

  bool all_converged() const { return std::all_of(converged.begin(), converged.end(), [](bool b) { return b; }); }
  bool all_auto_encoding() const {
    return std::all_of(auto_encoding.begin(), auto_encoding.end(), [](bool b) { return b; });
  }
};

/// Reusable buffers of GRADE descent: nothing is allocated per step after the first.
template <class S>
struct GradeWorkspace {
  Batch<S> gradient;                 ///< B_{w,δ(I)} of the current state
  Vector<S> scores;                  ///< f of the current state
  ActivationPattern<S> previous;     ///< δ before the last step
  Vector<double> moved;              ///< ‖ΔI_n‖ of the last step
  std::vector<char> active;          ///< chain n still moving
  Matrix<double> active_units;       ///< gated layer × chain (observer only)
  std::vector<Index> gated_layers;
  SamplerDiagnostics diagnostics;    ///< what the observer is shown
};

namespace detail {

/// True when chain n has the same activation pattern in a and b (gates of ReLU layers and max-pool
/// switches; the continuous gates of smooth layers are ignored, as in count_differences).
template <class S>
bool same_chain_pattern(const ActivationPattern<S>& a, const ActivationPattern<S>& b, Index n) {
  if (a.layers.size() != b.layers.size()) return false;
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const auto& la = a.layers[l];
    const auto& lb = b.layers[l];
    if (!(la.smooth && lb.smooth)) {
      if (la.gate.size() != lb.gate.size()) return false;
      if (la.gate.size() > 0) {
        const auto ca = as_columns(la.gate), cb = as_columns(lb.gate);
        if (ca.col(n) != cb.col(n)) return false;
      }
    }
    if (la.switches.size() != lb.switches.size()) return false;
    if (la.switches.size() > 0) {
      const Index per = la.switches.size() / la.switches.dimension(3);
      if (!std::equal(la.switches.data() + n * per, la.switches.data() + (n + 1) * per, lb.switches.data() + n * per))
        return false;
    }
  }
  return true;
}

}  // namespace detail

/// GRADE descent of every chain (one image per batch column) to a local energy minimum, in place:
///   I ← I − (ε²/2)(I/σ² − B_{w,δ(I)})   (eq. 6.10 without noise)
/// Chain n stops (and is left unchanged from then on) once its pattern is unchanged by a step that
/// moved it by ‖ΔI‖ ≤ tolerance·max(1, ‖I‖); all stop at max_steps. observe(const SamplerDiagnostics&)
/// is called for the chains as given (step 0) and after every step (diagnostics.converged counts the
/// chains that have stopped). With options.fixed only the free pixels move, and ‖ΔI‖ and the
/// reconstruction error are taken over the free pixels (a mode of the conditional).
/// requires: chains has N ≥ 1 images of the model's input shape; ε > 0, σ > 0, max_steps ≥ 0,
///           tolerance ≥ 0, autoencoding_tolerance ≥ 0; a mask, if any, shaped (C, H, W, 1) or (C, H, W, N).
/// ensures:  chains hold the final states Î (the modes where converged); the report gives per chain the
///           steps taken, U(Î), ‖Î − σ²B_{w,δ(Î)}‖ and whether Î is auto-encoding (Prop. 2); fixed
///           pixels keep their bits. Deterministic: no randomness.
/// throws:   Error on bad options or shape; NumericalError naming the step and chain on NaN/Inf.
template <class Model, class Observer>
GradeReport grade_descent(const Model& model, Batch<typename Model::Scalar>& chains, const GradeOptions& options,
                          GradeWorkspace<typename Model::Scalar>& ws, Observer&& observe) {
  using S = typename Model::Scalar;
  constexpr bool observing = detail::is_observing<Observer>();
  const char* fn = "grade_descent";
  detail::check_sampler_options(fn, options.step_size, options.reference_sigma, options.max_steps, "max_steps");
  detail::check(options.tolerance >= 0 && std::isfinite(options.tolerance), fn, "argument 'options.tolerance' is ",
                options.tolerance, ", expected a finite value >= 0");
  detail::check(options.autoencoding_tolerance >= 0 && std::isfinite(options.autoencoding_tolerance), fn,
                "argument 'options.autoencoding_tolerance' is ", options.autoencoding_tolerance,
                ", expected a finite value >= 0");
  detail::check_chains(fn, chains, model.input_shape());
  const PixelMask* fixed = options.fixed;
  if (fixed) detail::check_fixed_mask(fn, *fixed, chains);

  const double sigma = options.reference_sigma;
  const double eps = options.step_size;
  const S shrink = static_cast<S>(1.0 - eps * eps / (2.0 * sigma * sigma));
  const S drift = static_cast<S>(eps * eps / 2.0);
  const Index n_chains = batch_size(chains);
  auto x = as_columns(chains);
  ws.active.assign(static_cast<std::size_t>(n_chains), 1);
  if (ws.moved.size() != n_chains) ws.moved.resize(n_chains);

  GradeReport report;
  report.chain_steps = Vector<Index>::Constant(n_chains, options.max_steps);
  report.converged.assign(static_cast<std::size_t>(n_chains), false);
  SamplerDiagnostics& diag = ws.diagnostics;
  diag.proposals = diag.accepted = diag.converged = 0;

  auto report_state = [&](Index step) {
    if constexpr (observing) {
      detail::active_per_chain(model.last_pattern(), ws.gated_layers, ws.active_units);
      detail::fill_diagnostics(diag, chains, ws.scores, ws.gradient, sigma, ws.gated_layers, ws.active_units,
                               fixed);
      diag.step = step;
      observe(static_cast<const SamplerDiagnostics&>(diag));
    } else {
      static_cast<void>(step);
    }
  };

  model.score_and_gradient(chains, ws.scores, ws.gradient);
  report_state(0);
  Index remaining = n_chains;
  for (Index step = 0; step < options.max_steps && remaining > 0; ++step) {
    ws.previous = model.last_pattern();
    const auto g = as_columns(ws.gradient);
    for (Index n = 0; n < n_chains; ++n) {
      if (!ws.active[static_cast<std::size_t>(n)]) continue;
      auto col = x.col(n);
      const std::uint8_t* m = detail::chain_mask(fixed, n, col.size());
      double moved = 0;
      for (Index i = 0; i < col.size(); ++i) {
        if (m && m[i]) continue;
        const S next = shrink * col(i) + drift * g(i, n);
        const double d = static_cast<double>(next) - static_cast<double>(col(i));
        moved += d * d;
        col(i) = next;
      }
      ws.moved(n) = std::sqrt(moved);
    }
    detail::check_chains_finite(fn, chains, step, "GRADE step");
    model.score_and_gradient(chains, ws.scores, ws.gradient);
    for (Index n = 0; n < n_chains; ++n) {
      if (!ws.active[static_cast<std::size_t>(n)]) continue;
      const double scale = std::max(1.0, x.col(n).template cast<double>().norm());
      if (ws.moved(n) <= options.tolerance * scale && detail::same_chain_pattern(ws.previous, model.last_pattern(), n)) {
        ws.active[static_cast<std::size_t>(n)] = 0;
        report.chain_steps(n) = step + 1;
        report.converged[static_cast<std::size_t>(n)] = true;
        --remaining;
      }
    }
    report.steps = step + 1;
    diag.converged = n_chains - remaining;
    report_state(step + 1);
  }

  detail::chain_energies(chains, ws.scores, sigma, report.energy);
  report.reconstruction_error.resize(n_chains);
  report.auto_encoding.assign(static_cast<std::size_t>(n_chains), false);
  for (Index n = 0; n < n_chains; ++n) {
    const double err = detail::reconstruction_error(chains, ws.gradient, sigma, n, fixed);
    report.reconstruction_error(n) = err;
    report.auto_encoding[static_cast<std::size_t>(n)] =
        err <= options.autoencoding_tolerance * std::max(1.0, x.col(n).template cast<double>().norm());
  }
  return report;
}

/// GRADE descent unobserved; see the overload with an observer.
template <class Model>
GradeReport grade_descent(const Model& model, Batch<typename Model::Scalar>& chains, const GradeOptions& options,
                          GradeWorkspace<typename Model::Scalar>& ws) {
  return grade_descent(model, chains, options, ws, NoObserver{});
}

/// GRADE descent with a temporary workspace (allocates on every call).
template <class Model>
GradeReport grade_descent(const Model& model, Batch<typename Model::Scalar>& chains, const GradeOptions& options = {}) {
  GradeWorkspace<typename Model::Scalar> ws;
  return grade_descent(model, chains, options, ws);
}

/// Chains of another scalar type than the model's: one static_assert line naming both types.
template <class Model, class T, class... Rest,
          std::enable_if_t<!std::is_same_v<T, typename Model::Scalar>, int> = 0>
GradeReport grade_descent(const Model&, Batch<T>&, Rest&&...) {
  return detail::scalar_mismatch<typename Model::Scalar, T>(), GradeReport{};
}

}  // namespace gconvnet
