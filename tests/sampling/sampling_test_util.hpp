// Helpers of the sampling tests: small models, closed forms, and standard errors from independent chains.
#pragma once

#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace gconvnet::test {

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
inline double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }

/// The exact one-filter model p(I) ∝ exp(max(⟨w, I⟩ + b, 0)) N(I; 0, σ²) along u = w/‖w‖: with
/// t = ⟨I, u⟩ and a = ‖w‖ the density of t is ∝ exp(max(a t + b, 0)) φ(t/σ). Split at t0 = −b/a:
///   piece δ = 0 (t ≤ t0):  mass Z0 = Φ(t0/σ)                         (N(0, σ²) restricted)
///   piece δ = 1 (t > t0):  exp(a t + b) φσ(t) = exp(b + a²σ²/2) φσ(t − aσ²), so
///                          mass Z1 = exp(b + a²σ²/2) (1 − Φ((t0 − aσ²)/σ))  (N(aσ², σ²) restricted)
///   P(δ = 1) = Z1 / (Z0 + Z1)
///   E[t] = (∫_{t≤t0} t φσ + e^{b+a²σ²/2} ∫_{t>t0} t φσ(t − aσ²)) / (Z0 + Z1)
///        = (−σ φ(t0/σ) + e^{b+a²σ²/2} (aσ² (1 − Φ(α1)) + σ φ(α1))) / (Z0 + Z1),  α1 = (t0 − aσ²)/σ,
/// with φσ the N(0, σ²) density and Φ, φ the standard normal CDF and density.
struct OneFilterClosedForm {
  double p_active;  ///< P(δ = 1)
  double mean_t;    ///< E[t]
};
inline OneFilterClosedForm one_filter_closed_form(double a, double b, double sigma) {
  const double t0 = -b / a;
  const double z0 = normal_cdf(t0 / sigma);
  const double c = std::exp(b + 0.5 * a * a * sigma * sigma);
  const double a1 = (t0 - a * sigma * sigma) / sigma;
  const double z1 = c * (1.0 - normal_cdf(a1));
  const double m = -sigma * normal_pdf(t0 / sigma) + c * (a * sigma * sigma * (1.0 - normal_cdf(a1)) + sigma * normal_pdf(a1));
  return {z1 / (z0 + z1), m / (z0 + z1)};
}

/// Mean and standard error of the mean of per-chain values (chains are independent, so the spread of
/// their time averages gives an honest standard error whatever the autocorrelation within a chain:
/// batch means with one batch per chain).
struct MeanSe {
  double mean;
  double se;
};
inline MeanSe mean_se(const Vector<double>& per_chain) {
  const double n = static_cast<double>(per_chain.size());
  const double m = per_chain.mean();
  const double var = (per_chain.array() - m).square().sum() / (n - 1.0);
  return {m, std::sqrt(var / n)};
}

/// The ratio of means r = mean(num)/mean(den) and its delta-method standard error from per-chain values.
inline MeanSe ratio_se(const Vector<double>& num, const Vector<double>& den) {
  const double r = num.mean() / den.mean();
  const Vector<double> lin = (num.array() - r * den.array()) / den.mean();
  return {r, mean_se(lin).se};
}

/// A batch of n chains of `shape`, all zero.
template <class S>
Batch<S> zero_chains(const Shape& shape, Index n) {
  Batch<S> b = make_batch<S>(shape, n);
  b.setZero();
  return b;
}

/// A batch of n chains of `shape`, N(0, scale²) entries.
template <class S>
Batch<S> noise_chains(const Shape& shape, Index n, std::mt19937_64& engine, double scale = 1.0) {
  Batch<S> b = make_batch<S>(shape, n);
  fill_standard_normal(engine, b);
  as_vector(b) *= static_cast<S>(scale);
  return b;
}

}  // namespace gconvnet::test
