// gconvnet/sampling/diagnostics.hpp — what the samplers (Langevin, MALA, GRADE) let a caller watch.
//
// A sampler calls an observer once for the chains as given and once after every step with a
// SamplerDiagnostics that describes the current state I of every chain: its energy
// U(I) = ‖I‖²/(2σ²) − f(I), its score f(I), the reconstruction error ‖I − σ²·B_{w,δ(I)}‖ (the drift of
// eq. 6.10 up to the factor ε²/(2σ²); zero exactly at an auto-encoding mode, Prop. 2) and the fraction
// of active units of every gated layer. The struct lives in the sampler's workspace and is reused, so
// watching allocates nothing per step; copy what you want to keep.
#pragma once

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/model/activation_pattern.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"

namespace gconvnet {

/// The state of a batch of chains at one point of a sampler's run; see the file comment.
struct SamplerDiagnostics {
  Index step = 0;                       ///< steps taken in this call (0: the chains as given)
  Vector<double> energy;                ///< U(I_n) = ‖I_n‖²/(2σ²) − f(I_n), per chain
  Vector<double> score;                 ///< f(I_n), per chain
  Vector<double> reconstruction_error;  ///< ‖I_n − σ²·B_{w,δ(I_n)}‖, per chain (over the free pixels when some are fixed)
  std::vector<Index> gated_layers;      ///< the active layers with a gate (ReLU, Softplus), bottom-up
  std::vector<double> active_fraction;  ///< per gated layer: fraction of its units on, over all chains
  Index proposals = 0;                  ///< MALA only: proposals made so far in this call (chains × steps)
  Index accepted = 0;                   ///< MALA only: proposals accepted so far in this call
  Index converged = 0;                  ///< GRADE only: chains that have met the stopping rule

  /// Mean energy over the chains (NaN-free: 0 without chains).
  double mean_energy() const { return energy.size() ? energy.mean() : 0.0; }
  /// Mean score over the chains.
  double mean_score() const { return score.size() ? score.mean() : 0.0; }
  /// Largest reconstruction error over the chains.
  double max_reconstruction_error() const {
    return reconstruction_error.size() ? reconstruction_error.maxCoeff() : 0.0;
  }
  /// accepted / proposals (1 when nothing was proposed).
  double acceptance_rate() const {
    return proposals > 0 ? static_cast<double>(accepted) / static_cast<double>(proposals) : 1.0;
  }
};

/// The observer that watches nothing: samplers given it skip computing diagnostics altogether.
struct NoObserver {
  void operator()(const SamplerDiagnostics&) const {}
};

namespace detail {

template <class Observer>
constexpr bool is_observing() {
  return !std::is_same_v<std::decay_t<Observer>, NoObserver>;
}

/// Checks the options every sampler shares; `fn` names the caller.
inline void check_sampler_options(const char* fn, double step_size, double reference_sigma, Index steps,
                                  const char* steps_name) {
  check(step_size > 0 && std::isfinite(step_size), fn, "argument 'options.step_size' is ", step_size,
        ", expected a finite value > 0");
  check(reference_sigma > 0 && std::isfinite(reference_sigma), fn, "argument 'options.reference_sigma' is ",
        reference_sigma, ", expected a finite value > 0");
  check(steps >= 0, fn, "argument 'options.", steps_name, "' is ", steps, ", expected >= 0");
}

/// Checks that `chains` holds N ≥ 1 images of the model's input shape.
template <class S>
void check_chains(const char* fn, const Batch<S>& chains, const Shape& input_shape) {
  check(shape_of(chains) == input_shape && batch_size(chains) >= 1, fn, "argument 'chains' has shape ",
        to_string(shape_of(chains)), "x", batch_size(chains), ", expected ", to_string(input_shape),
        "xN with N >= 1 (one image of the model's input shape per chain)");
}

/// Throws NumericalError naming the first chain of `x` that holds a NaN or Inf, when one does.
template <class S>
void check_chains_finite(const char* fn, const Batch<S>& x, Index step, const char* what) {
  if (as_vector(x).allFinite()) return;
  const auto cols = as_columns(x);
  Index bad = 0;
  while (bad < cols.cols() && cols.col(bad).allFinite()) ++bad;
  throw NumericalError(concat(fn, ": chain ", bad, " became NaN or Inf at step ", step, " (", what,
                              "); try a smaller step_size or learning rate"));
}

/// out(n) = ‖x_n‖²/(2σ²) − f_n in double.
template <class S>
void chain_energies(const Batch<S>& x, const Vector<S>& scores, double sigma, Vector<double>& out) {
  const auto cols = as_columns(x);
  const Index n_chains = cols.cols();
  if (out.size() != n_chains) out.resize(n_chains);
  const double inv = 1.0 / (2.0 * sigma * sigma);
  for (Index n = 0; n < n_chains; ++n)
    out(n) = cols.col(n).template cast<double>().squaredNorm() * inv - static_cast<double>(scores(n));
}

/// out(l, n) = fraction of the units of gated layer l that are on in chain n; `gated` lists the layers.
template <class S>
void active_per_chain(const ActivationPattern<S>& pattern, std::vector<Index>& gated, Matrix<double>& out) {
  gated.clear();
  for (std::size_t l = 0; l < pattern.layers.size(); ++l)
    if (pattern.layers[l].gate.size() > 0) gated.push_back(static_cast<Index>(l));
  const Index n_chains = pattern.chains;
  if (out.rows() != static_cast<Index>(gated.size()) || out.cols() != n_chains)
    out.resize(static_cast<Index>(gated.size()), n_chains);
  for (std::size_t g = 0; g < gated.size(); ++g) {
    const auto gate = as_columns(pattern.layers[static_cast<std::size_t>(gated[g])].gate);
    for (Index n = 0; n < n_chains; ++n)
      out(static_cast<Index>(g), n) = gate.col(n).template cast<double>().sum() / static_cast<double>(gate.rows());
  }
}

/// ‖x_n − σ²·b_n‖ over the free pixels of chain n (all pixels without a mask), in double.
template <class S>
double reconstruction_error(const Batch<S>& x, const Batch<S>& b, double sigma, Index n, const PixelMask* fixed) {
  const auto xc = as_columns(x);
  const auto bc = as_columns(b);
  const double s2 = sigma * sigma;
  if (!fixed) return (xc.col(n).template cast<double>() - s2 * bc.col(n).template cast<double>()).norm();
  const std::uint8_t* m = chain_mask(fixed, n, xc.rows());
  double sum = 0;
  for (Index i = 0; i < xc.rows(); ++i) {
    if (m[i]) continue;
    const double r = static_cast<double>(xc(i, n)) - s2 * static_cast<double>(bc(i, n));
    sum += r * r;
  }
  return std::sqrt(sum);
}

/// Fills `d` (all but step and the counters) from the chains, their scores and ∂f/∂I, and the
/// per-chain active fractions; the reconstruction error over the free pixels of `fixed` if given.
template <class S>
void fill_diagnostics(SamplerDiagnostics& d, const Batch<S>& x, const Vector<S>& scores, const Batch<S>& gradient,
                      double sigma, const std::vector<Index>& gated, const Matrix<double>& active,
                      const PixelMask* fixed = nullptr) {
  chain_energies(x, scores, sigma, d.energy);
  d.score = scores.template cast<double>();
  const Index n_chains = batch_size(x);
  if (d.reconstruction_error.size() != n_chains) d.reconstruction_error.resize(n_chains);
  for (Index n = 0; n < n_chains; ++n) d.reconstruction_error(n) = reconstruction_error(x, gradient, sigma, n, fixed);
  d.gated_layers = gated;
  d.active_fraction.resize(gated.size());
  for (std::size_t g = 0; g < gated.size(); ++g)
    d.active_fraction[g] = n_chains > 0 ? active.row(static_cast<Index>(g)).mean() : 0.0;
}

/// Copies image n of `from` into image n of `to` (same shapes).
template <class S>
void copy_chain(const Batch<S>& from, Batch<S>& to, Index n) {
  const Index size = from.dimension(0) * from.dimension(1) * from.dimension(2);
  std::memcpy(to.data() + n * size, from.data() + n * size, static_cast<std::size_t>(size) * sizeof(S));
}

}  // namespace detail
}  // namespace gconvnet
