// Helpers of the category tests: one-filter models and their partition function in closed form, exact
// samples of them, orthogonal filters.
//
// One-filter model: f(I) = a · max(0, ⟨w, I⟩ + β) on q = N(0, σ²) per pixel. Under q, ⟨w, I⟩ = s·z with
// s = ‖w‖σ, z ~ N(0, 1), so
//   Z = E_q[e^f] = P(s z + β ≤ 0) + e^{aβ} E[e^{a s z}; z > −β/s]
//     = Φ(−β/s) + e^{aβ + a²s²/2} Φ(a s + β/s)
// (the tilted Gaussian: e^{a s z} φ(z) = e^{a²s²/2} φ(z − a s)). For a = 1 the density of t = ⟨u, I⟩,
// u = w/‖w‖, is a two-piece mixture: N(0, σ²) on t ≤ t0 = −β/‖w‖, and e^{β + ‖w‖²σ²/2} N(‖w‖σ², σ²) on
// t > t0; the part of I orthogonal to u is N(0, σ²) and independent. With K orthonormal directions the
// projections are independent under q, so Z of f = Σ_k max(0, ⟨w_k, I⟩ + β_k) is the product of the
// one-filter Z_k.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include <gconvnet/gconvnet.hpp>

namespace cat {

using namespace gconvnet;

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

/// log E_q[exp(a · max(0, ⟨w, I⟩ + β))] with ‖w‖ = norm, q = N(0, σ²) (see the file comment).
inline double one_filter_log_z(double norm, double beta, double sigma, double a = 1.0) {
  const double s = norm * sigma;
  if (s == 0) return a * std::max(0.0, beta);
  return std::log(normal_cdf(-beta / s) + std::exp(a * beta + 0.5 * a * a * s * s) * normal_cdf(a * s + beta / s));
}

/// K orthonormal vectors of dimension D (Gram–Schmidt of normal draws), one per column.
template <class Engine>
Matrix<double> orthonormal(Index D, Index K, Engine& engine) {
  std::normal_distribution<double> normal;
  Matrix<double> u(D, K);
  for (Index k = 0; k < K; ++k) {
    for (Index i = 0; i < D; ++i) u(i, k) = normal(engine);
    for (Index j = 0; j < k; ++j) u.col(k) -= u.col(j).dot(u.col(k)) * u.col(j);
    u.col(k).normalize();
  }
  return u;
}

/// A fully connected layer of K filters (ReLU after it) on `shape`, double.
using FcModel = EnergyModel<Conv<double>, ReLU<double>>;
inline FcModel fc_model(const Shape& shape, Index K) {
  return FcModel(shape, Conv<double>::fully_connected(K), ReLU<double>{});
}
/// Sets filter k of the first layer to `w` (flattened like the image, ColMajor) and its bias to `b`.
template <class Model>
void set_filter(Model& model, Index k, const Vector<double>& w, double b) {
  auto params = model.parameters();  // layer0.weight (K, C, H, W), layer0.bias (K)
  const Index K = params[0].dims[0];
  for (Index i = 0; i < w.size(); ++i) params[0].data[k + K * i] = w(i);
  params[1].data[k] = b;
}

/// n exact draws from p(I) ∝ exp(max(0, ⟨w, I⟩ + β)) q(I), q = N(0, σ²), one per column: the coordinate
/// along w from the two-piece mixture (piece by its mass, then a normal draw rejected until it lands
/// in its piece: exact), the orthogonal part from q.
template <class Engine>
Matrix<double> one_filter_samples(const Vector<double>& w, double beta, double sigma, Index n, Engine& engine) {
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  const double norm = w.norm();
  const Vector<double> u = w / norm;
  const double t0 = -beta / norm;
  const double mass_a = normal_cdf(t0 / sigma);
  const double mean_b = norm * sigma * sigma;
  const double mass_b = std::exp(beta + 0.5 * norm * norm * sigma * sigma) * normal_cdf((mean_b - t0) / sigma);
  Matrix<double> out(w.size(), n);
  for (Index j = 0; j < n; ++j) {
    const bool piece_b = uniform(engine) * (mass_a + mass_b) >= mass_a;
    double t;
    do {
      t = (piece_b ? mean_b : 0.0) + sigma * normal(engine);
    } while (piece_b ? t <= t0 : t > t0);
    for (Index i = 0; i < w.size(); ++i) out(i, j) = sigma * normal(engine);
    out.col(j) += (t - u.dot(out.col(j))) * u;
  }
  return out;
}

/// A batch of `shape` images from the columns of `m`.
inline Batch<double> batch_from(const Matrix<double>& m, const Shape& shape) {
  Batch<double> b = make_batch<double>(shape, m.cols());
  as_columns(b) = m;
  return b;
}

}  // namespace cat
