// The exact one-filter model (the prototype model of Sec. 5 with K = 1):
//   p(I) ∝ exp(max(⟨w, I⟩ + b, 0)) N(I; 0, σ²).
// Along u = w/‖w‖ the projection t = ⟨I, u⟩ has the two-piece density ∝ exp(max(‖w‖t + b, 0)) N(t; 0, σ²),
// whose P(δ = 1) and E[t] have closed forms (sampling_test_util.hpp); every direction orthogonal to w is
// untouched by f, so the coordinates of I in an orthonormal basis of w⊥ are iid N(0, σ²) and independent
// of t. For plain Langevin they are exactly the AR(1) chain of untilted_test.cpp (B = δ·w ∥ w), with
// stationary variance σ²/(1 − ε²/(4σ²)); for MALA σ².
//
// Standard errors come from independent chains (batch means with one batch per chain), so they hold
// whatever the autocorrelation within a chain; k is stated at every check.
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <Eigen/QR>
#include <cmath>

using namespace gconvnet;
using gconvnet::test::mean_se;
using gconvnet::test::MeanSe;

namespace {

constexpr double kSigma = 0.8, kNorm = 2.5, kBias = -2.5;  // σ, ‖w‖, b: P(δ = 1) ≈ 0.344, E[t] ≈ 0.550

struct OneFilter {
  EnergyModel<Conv<double>, ReLU<double>> model{Shape{1, 6, 6}, Conv<double>::fully_connected(1), ReLU<double>{}};
  Vector<double> u;      // w / ‖w‖
  Matrix<double> perp;   // orthonormal basis of w⊥ (36 × 35)

  OneFilter() {
    std::mt19937_64 engine(2016);
    const Index d = model.input_shape().size();
    u.resize(d);
    fill_standard_normal(engine, u.data(), d);
    u.normalize();
    as_vector(model.layer<0>().weights()) = kNorm * u;
    model.layer<0>().bias().setConstant(kBias);
    const Matrix<double> q = Eigen::HouseholderQR<Matrix<double>>(Matrix<double>(u)).householderQ();
    perp = q.rightCols(d - 1);
  }
};

struct OneFilterRun {
  Vector<double> active, t;                  // per chain: time averages of δ and t
  Vector<double> perp_second, perp_fourth;   // per chain: averages of y² and y⁴ over w⊥ coordinates and time
  Matrix<double> coord_mean, coord_second;   // w⊥ coordinate × chain: time averages of y and y²
  double acceptance = 1;
};

OneFilterRun run_one_filter(OneFilter& m, const LangevinOptions& base, Index chains, Index burn, Index samples,
                            Index thin, std::uint64_t seed, bool start_from_noise = false) {
  std::mt19937_64 engine(seed);
  Batch<double> x = start_from_noise ? gconvnet::test::noise_chains<double>(m.model.input_shape(), chains, engine, kSigma)
                                     : gconvnet::test::zero_chains<double>(m.model.input_shape(), chains);
  LangevinWorkspace<double> ws;
  LangevinOptions o = base;
  o.steps = burn;
  langevin(m.model, x, o, engine, ws);
  o.steps = thin;
  const Index dp = m.perp.cols();
  OneFilterRun r;
  r.active = r.t = r.perp_second = r.perp_fourth = Vector<double>::Zero(chains);
  r.coord_mean = r.coord_second = Matrix<double>::Zero(dp, chains);
  Index proposals = 0, accepted = 0;
  const double t0 = -kBias / kNorm;
  for (Index s = 0; s < samples; ++s) {
    langevin(m.model, x, o, engine, ws);
    proposals += ws.report.proposals;
    accepted += ws.report.accepted;
    const Vector<double> t = as_columns(x).transpose() * m.u;
    r.t += t;
    r.active += (t.array() > t0).cast<double>().matrix();
    const Matrix<double> y = m.perp.transpose() * as_columns(x);
    r.coord_mean += y;
    r.coord_second += y.cwiseAbs2();
    r.perp_second += y.cwiseAbs2().colwise().sum().transpose();
    r.perp_fourth += y.array().square().square().matrix().colwise().sum().transpose();
  }
  const double n = static_cast<double>(samples);
  r.active /= n;
  r.t /= n;
  r.perp_second /= n * dp;
  r.perp_fourth /= n * dp;
  r.coord_mean /= n;
  r.coord_second /= n;
  r.acceptance = proposals ? static_cast<double>(accepted) / proposals : 1.0;
  return r;
}

double max_coord_z(const Matrix<double>& per_coord_chain, double expected) {
  double worst = 0;
  for (Index p = 0; p < per_coord_chain.rows(); ++p) {
    const auto m = mean_se(per_coord_chain.row(p).transpose());
    worst = std::max(worst, std::abs(m.mean - expected) / m.se);
  }
  return worst;
}

struct Checked {
  MeanSe active, t;
};

// Checks a run against the closed form (k = 4 for P(δ=1), E[t] and the pooled w⊥ moments; k = 4.5 for the
// largest of the 35 per-coordinate statistics, 35 × 6.8e-6 = 2.4e-4) and returns its estimates.
Checked check_run(const OneFilterRun& r, double perp_variance, const char* label) {
  const auto exact = gconvnet::test::one_filter_closed_form(kNorm, kBias, kSigma);
  const auto active = mean_se(r.active);
  const auto t = mean_se(r.t);
  const auto second = mean_se(r.perp_second);
  const auto fourth = mean_se(r.perp_fourth);
  INFO(label << ": P(delta=1) " << active.mean << " ± " << active.se << " (exact " << exact.p_active << "), E[t] "
             << t.mean << " ± " << t.se << " (exact " << exact.mean_t << "), w-perp variance " << second.mean
             << " ± " << second.se << " (exact " << perp_variance << "), fourth moment " << fourth.mean << " ± "
             << fourth.se << " (exact " << 3 * perp_variance * perp_variance << "), acceptance " << r.acceptance);
  const double k = 4.0, k_coord = 4.5;
  CHECK(std::abs(active.mean - exact.p_active) <= k * active.se);
  CHECK(std::abs(t.mean - exact.mean_t) <= k * t.se);
  CHECK(std::abs(second.mean - perp_variance) <= k * second.se);
  CHECK(std::abs(fourth.mean - 3 * perp_variance * perp_variance) <= k * fourth.se);
  CHECK(max_coord_z(r.coord_mean, 0.0) <= k_coord);
  CHECK(max_coord_z(r.coord_second, perp_variance) <= k_coord);
  return {active, t};
}

}  // namespace

TEST_CASE("one-filter model: the closed form agrees with numerical integration", "[sampling][statistics]") {
  // A midpoint rule over [−12σ, 12σ] of the two-piece density, to check the algebra of the closed form.
  const double a = kNorm, b = kBias, s = kSigma;
  const int n = 400000;
  const double lo = -12 * s, h = 24 * s / n;
  double z = 0, z1 = 0, m = 0;
  for (int i = 0; i < n; ++i) {
    const double t = lo + (i + 0.5) * h;
    const double p = std::exp(std::max(a * t + b, 0.0) - 0.5 * t * t / (s * s));
    z += p;
    m += t * p;
    if (a * t + b > 0) z1 += p;
  }
  const auto exact = gconvnet::test::one_filter_closed_form(a, b, s);
  CHECK(exact.p_active == Approx(z1 / z).epsilon(1e-5));
  CHECK(exact.mean_t == Approx(m / z).epsilon(1e-5));
}

TEST_CASE("one-filter model: the projection is the one the test assumes", "[sampling]") {
  OneFilter m;
  std::mt19937_64 engine(5);
  Batch<double> x = gconvnet::test::noise_chains<double>(m.model.input_shape(), 8, engine, 2.0);
  const Vector<double> f = m.model.score(x);
  const Vector<double> t = as_columns(x).transpose() * m.u;
  for (Index n = 0; n < 8; ++n) CHECK(f(n) == Approx(std::max(kNorm * t(n) + kBias, 0.0)).epsilon(1e-12));
}

TEST_CASE("one-filter model: MALA at a large step and plain Langevin at a small step match the closed form "
          "and plain Langevin at a large step is biased",
          "[sampling][langevin][mala][statistics][slow]") {
  OneFilter m;
  const auto exact = gconvnet::test::one_filter_closed_form(kNorm, kBias, kSigma);
  const double large = 1.0 * kSigma, small = 0.2 * kSigma;
  const auto v_plain = [](double eps) { return kSigma * kSigma / (1 - eps * eps / (4 * kSigma * kSigma)); };

  // MALA from zero needs a few hundred steps before its acceptance settles (see untilted_test.cpp); from
  // white noise N(0, σ²) (the reference distribution) it settles within ~100 steps: 200 steps of burn-in.
  const auto mala = run_one_filter(m, LangevinOptions{large, 1, kSigma, true}, 1000, 200, 500, 3, 21, true);
  const auto mala_est = check_run(mala, kSigma * kSigma, "MALA eps/sigma = 1");
  CHECK(mala.acceptance > 0.2);
  CHECK(mala.acceptance < 1.0);

  const auto plain_small = run_one_filter(m, LangevinOptions{small, 1, kSigma}, 1000, 600, 600, 5, 22);
  const auto small_est = check_run(plain_small, v_plain(small), "plain eps/sigma = 0.2");

  // Plain Langevin at the large step: its w⊥ part is still the exact AR(1) chain, but P(δ=1) and E[t]
  // are biased. Measure and record the bias; require only that it is resolved and exceeds the small-step one.
  const auto plain_large = run_one_filter(m, LangevinOptions{large, 1, kSigma}, 1000, 100, 800, 2, 23);
  const auto large_active = mean_se(plain_large.active);
  const auto large_t = mean_se(plain_large.t);
  const double bias_large = large_active.mean - exact.p_active;
  const double bias_small = small_est.active.mean - exact.p_active;
  WARN("one-filter model (sigma " << kSigma << ", |w| " << kNorm << ", b " << kBias << "): exact P(delta=1) = "
       << exact.p_active << ", E[t] = " << exact.mean_t << "\n"
       << "  MALA  eps/sigma=1.0: P = " << mala_est.active.mean << " ± " << mala_est.active.se << ", E[t] = "
       << mala_est.t.mean << " ± " << mala_est.t.se << ", acceptance " << mala.acceptance << "\n"
       << "  plain eps/sigma=0.2: P = " << small_est.active.mean << " ± " << small_est.active.se << ", E[t] = "
       << small_est.t.mean << " ± " << small_est.t.se << "\n"
       << "  plain eps/sigma=1.0: P = " << large_active.mean << " ± " << large_active.se << " (bias "
       << bias_large << " = " << bias_large / large_active.se << " SE), E[t] = " << large_t.mean << " ± "
       << large_t.se << " (bias " << large_t.mean - exact.mean_t << ")");
  // k = 4: the large-step bias is resolved, and larger than the small-step deviation.
  CHECK(std::abs(bias_large) > 4 * large_active.se);
  CHECK(std::abs(bias_large) > std::abs(bias_small));
  // Its w⊥ coordinates are the exact AR(1) chain, whatever the step: variance σ²/(1 − ε²/(4σ²)).
  const auto second = mean_se(plain_large.perp_second);
  CHECK(std::abs(second.mean - v_plain(large)) <= 4 * second.se);
}
