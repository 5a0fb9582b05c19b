// Samplers with fixed pixels (options.fixed, sampling/fixed_pixels.hpp): fixed pixels keep their bits
// through plain Langevin, MALA and GRADE (shared and per-chain masks, 1 and 2 threads); an all-free mask
// changes nothing; and on the one-filter model MALA samples the conditional p(I_free | I_fixed) whose
// closed form follows.
//
// The conditional of the one-filter model p(I) ∝ exp(max(⟨w, I⟩ + b, 0)) N(I; 0, σ²) given the fixed
// pixels I_x: with F the free coordinates, ⟨w, I⟩ + b = ⟨w_F, I_F⟩ + b', b' = b + ⟨w_x, I_x⟩, and the
// reference density factorises, so p(I_F | I_x) ∝ exp(max(⟨w_F, I_F⟩ + b', 0)) N(I_F; 0, σ²): the same
// model on the free coordinates with filter w_F and bias b'. Along u_F = w_F/‖w_F‖ the projection
// t = ⟨u_F, I_F⟩ has the two-piece density of one_filter_closed_form(‖w_F‖, b', σ) (the pieces are
// N(0, σ²) and N(σ²‖w_F‖, σ²) restricted to either side of t0 = −b'/‖w_F‖, i.e. the piece means
// σ²B restricted to F, shifted by the fixed part's contribution b' − b), so
//   P(δ = 1) = closed_form.p_active,   E[⟨w_F, I_F⟩] = ‖w_F‖ · closed_form.mean_t,
// and the free coordinates orthogonal to w_F are iid N(0, σ²), independent of t.
#include "sampling/sampling_test_util.hpp"
#include "support/allocation_counter.hpp"

#include <catch2/catch.hpp>

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace gconvnet;
using gconvnet::test::mean_se;
using gconvnet::test::MeanSe;

namespace {

// A mask of `shape` × n with each entry fixed with probability `p`.
PixelMask random_mask(const Shape& shape, Index n, double p, std::mt19937_64& engine) {
  PixelMask m = make_batch<std::uint8_t>(shape, n);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = uniform01(engine) < p ? 1 : 0;
  return m;
}

// True when every fixed entry of `after` has the bits of `before` (a shared mask or one per chain).
template <class S>
bool fixed_bits_kept(const Batch<S>& before, const Batch<S>& after, const PixelMask& mask) {
  const Index image = before.size() / batch_size(before);
  for (Index i = 0; i < before.size(); ++i) {
    const std::uint8_t m = mask.data()[batch_size(mask) == 1 ? i % image : i];
    if (m && std::memcmp(before.data() + i, after.data() + i, sizeof(S)) != 0) return false;
  }
  return true;
}

// Fraction of free entries that changed.
template <class S>
double free_moved(const Batch<S>& before, const Batch<S>& after, const PixelMask& mask) {
  const Index image = before.size() / batch_size(before);
  Index free = 0, moved = 0;
  for (Index i = 0; i < before.size(); ++i) {
    if (mask.data()[batch_size(mask) == 1 ? i % image : i]) continue;
    ++free;
    moved += before.data()[i] != after.data()[i];
  }
  return free ? static_cast<double>(moved) / static_cast<double>(free) : 0.0;
}

template <class S>
auto conv_model() {
  EnergyModel model(Shape{3, 12, 12}, Conv<S>(6, 5).stride(2).padding(2), ReLU<S>{}, Conv<S>(4, 3).padding(1), ReLU<S>{});
  std::mt19937_64 engine(5);
  initialize_normal(model, engine, 0.2);
  return model;
}

bool ref_close(const Vector<double>& a, const Vector<double>& b) {
  return a.size() == b.size() && (a - b).cwiseAbs().maxCoeff() <= 1e-12 * std::max(1.0, b.cwiseAbs().maxCoeff());
}

}  // namespace

TEMPLATE_TEST_CASE("Fixed pixels keep their bits through masked Langevin, MALA and GRADE, with 1 and 2 threads",
                   "[sampling][langevin][mala][grade][masked]", float, double) {
  using S = TestType;
  auto model = conv_model<S>();
  std::mt19937_64 setup(6);
  const Index chains = 3;
  const Batch<S> start = gconvnet::test::noise_chains<S>(model.input_shape(), chains, setup);
  const PixelMask shared = random_mask(model.input_shape(), 1, 0.6, setup);
  const PixelMask per_chain = random_mask(model.input_shape(), chains, 0.5, setup);
  for (const PixelMask* mask : {&shared, &per_chain}) {
    for (bool metropolis : {false, true}) {
      CAPTURE(batch_size(*mask), metropolis);
      std::vector<Batch<S>> results;
      for (int threads : {1, 2}) {
        const gconvnet::test::OmpThreads scope(threads);
        std::mt19937_64 engine(7);
        Batch<S> x = start;
        LangevinOptions options{0.3, 100, 1.0, metropolis};
        options.fixed = mask;
        LangevinWorkspace<S> ws;
        langevin(model, x, options, engine, ws);
        const LangevinReport& report = ws.report;
        CHECK(report.steps == 100);
        CHECK(fixed_bits_kept(start, x, *mask));
        CHECK(free_moved(start, x, *mask) > 0.9);  // the free pixels did move
        if (metropolis) {
          CHECK(report.acceptance_rate() > 0.3);
          CHECK(report.acceptance_rate() < 1.0);
        }
        results.push_back(x);
      }
      // the same seed gives the same chains with 1 and 2 threads
      CHECK(std::memcmp(results[0].data(), results[1].data(), sizeof(S) * static_cast<std::size_t>(start.size())) == 0);
    }
    Batch<S> y = start;
    GradeOptions grade{0.5, 300, 1.0, 1e-6, 1e-3};
    grade.fixed = mask;
    grade_descent(model, y, grade);
    CHECK(fixed_bits_kept(start, y, *mask));
    CHECK(free_moved(start, y, *mask) > 0.9);
  }
}

TEST_CASE("An all-free mask gives the unmasked chains bit for bit; an all-fixed mask moves nothing",
          "[sampling][langevin][mala][grade][masked]") {
  auto model = conv_model<double>();
  std::mt19937_64 setup(8);
  const Batch<double> start = gconvnet::test::noise_chains<double>(model.input_shape(), 2, setup);
  PixelMask none = make_batch<std::uint8_t>(model.input_shape(), 1);
  none.setZero();
  PixelMask all = make_batch<std::uint8_t>(model.input_shape(), 2);
  all.setConstant(1);
  for (bool metropolis : {false, true}) {
    CAPTURE(metropolis);
    std::mt19937_64 e1(9), e2(9), e3(9);
    Batch<double> a = start, b = start, c = start;
    LangevinOptions options{0.4, 20, 1.0, metropolis};
    langevin(model, a, options, e1);
    options.fixed = &none;
    langevin(model, b, options, e2);
    CHECK(std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0);
    options.fixed = &all;
    LangevinWorkspace<double> ws;
    langevin(model, c, options, e3, ws);
    CHECK(std::memcmp(c.data(), start.data(), sizeof(double) * static_cast<std::size_t>(c.size())) == 0);
    if (metropolis) CHECK(ws.report.accepted == ws.report.proposals);  // the proposal is the state: α = 1
  }
  Batch<double> a = start, b = start;
  GradeOptions options{0.5, 50, 1.0, 0.0};
  const GradeReport ra = grade_descent(model, a, options);
  options.fixed = &none;
  const GradeReport rb = grade_descent(model, b, options);
  CHECK(std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0);
  // the same states; the errors summed another way (over the free pixels): equal up to rounding
  CHECK(ref_close(ra.reconstruction_error, rb.reconstruction_error));
}

namespace {

constexpr double kSigma = 0.8, kNorm = 2.5, kBias = -2.5;  // the model of one_filter_test.cpp

struct Conditional {
  PixelMask mask;          // one image: 1 = fixed
  Vector<double> fixed_values;  // the image's fixed entries (free entries 0)
  Vector<double> u_free;   // w_F / ‖w_F‖ (zero on fixed coordinates)
  Matrix<double> perp;     // orthonormal basis of the free coordinates orthogonal to w_F
  double a = 0, b = 0;     // ‖w_F‖ and b' = b + ⟨w_x, I_x⟩
};

// A condition: `fixed_count` coordinates fixed (chosen by the engine), their values N(0, σ²) shifted
// along w_x so that the fixed part adds `shift` to ⟨w, I⟩ + b.
Conditional make_conditional(const Vector<double>& w, Index fixed_count, double shift, std::mt19937_64& engine) {
  const Index d = w.size();
  Conditional c;
  c.mask = make_batch<std::uint8_t>(Shape{1, 6, 6}, 1);
  c.mask.setZero();
  std::vector<Index> order(static_cast<std::size_t>(d));
  for (Index i = 0; i < d; ++i) order[static_cast<std::size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), engine);
  for (Index k = 0; k < fixed_count; ++k) c.mask.data()[order[static_cast<std::size_t>(k)]] = 1;
  Vector<double> is_fixed(d), wx = Vector<double>::Zero(d), wf = Vector<double>::Zero(d);
  for (Index i = 0; i < d; ++i) {
    is_fixed(i) = c.mask.data()[i] ? 1.0 : 0.0;
    (c.mask.data()[i] ? wx : wf)(i) = w(i);
  }
  c.fixed_values.resize(d);
  fill_standard_normal(engine, c.fixed_values.data(), d);
  c.fixed_values = (kSigma * c.fixed_values).cwiseProduct(is_fixed);
  c.fixed_values += ((shift - wx.dot(c.fixed_values)) / wx.squaredNorm()) * wx;  // ⟨w_x, I_x⟩ = shift
  c.a = wf.norm();
  c.b = kBias + wx.dot(c.fixed_values);
  c.u_free = wf / c.a;
  // u_F and all but one of the free unit vectors span the free space (u_F has weight on the one left
  // out); QR turns them into an orthonormal basis whose first column is ±u_F.
  const Index df = d - fixed_count;
  Matrix<double> e = Matrix<double>::Zero(d, df);
  e.col(0) = c.u_free;
  for (Index i = 0, k = 1; i < d && k < df; ++i)
    if (!c.mask.data()[i]) e(i, k++) = 1.0;
  const Matrix<double> q = Eigen::HouseholderQR<Matrix<double>>(e).householderQ();
  c.perp = q.block(0, 1, d, df - 1);
  REQUIRE((c.perp.transpose() * c.u_free).norm() < 1e-12);
  REQUIRE((c.perp.transpose() * is_fixed.asDiagonal()).norm() < 1e-12);
  return c;
}

}  // namespace

TEST_CASE("masked MALA on the one-filter model samples the conditional p(I_free | I_fixed) of the closed form",
          "[sampling][mala][masked][statistics][slow]") {
  EnergyModel model(Shape{1, 6, 6}, Conv<double>::fully_connected(1), ReLU<double>{});
  std::mt19937_64 engine(2016);
  const Index d = 36;
  Vector<double> u(d);
  fill_standard_normal(engine, u.data(), d);
  u.normalize();
  as_vector(model.layer<0>().weights()) = kNorm * u;
  model.layer<0>().bias().setConstant(kBias);
  const Vector<double> w = kNorm * u;

  // Two conditions, one per half of the chains (a mask per chain): 12 fixed coordinates adding +1.5 to
  // the filter's response (P(δ = 1) = 0.67 against 0.34 unconditionally), and 20 adding +1.3 (0.13: the
  // free part's filter is shorter).
  const Conditional cond[2] = {make_conditional(w, 12, 1.5, engine), make_conditional(w, 20, 1.3, engine)};
  const Index chains = 1200, half = chains / 2;
  PixelMask masks = make_batch<std::uint8_t>(model.input_shape(), chains);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), chains, engine, kSigma);
  for (Index n = 0; n < chains; ++n) {
    const Conditional& c = cond[n / half];
    for (Index i = 0; i < d; ++i) {
      masks.data()[n * d + i] = c.mask.data()[i];
      if (c.mask.data()[i]) x.data()[n * d + i] = c.fixed_values(i);
    }
  }
  const Batch<double> start = x;

  LangevinOptions options{1.0 * kSigma, 200, kSigma, true};  // burn-in from N(0, σ²) on the free pixels
  options.fixed = &masks;
  LangevinWorkspace<double> ws;
  langevin(model, x, options, engine, ws);
  options.steps = 3;
  const Index samples = 500;
  Vector<double> active[2], response[2], perp2[2];
  for (int g = 0; g < 2; ++g) active[g] = response[g] = perp2[g] = Vector<double>::Zero(half);
  Index proposals = 0, accepted = 0;
  for (Index s = 0; s < samples; ++s) {
    langevin(model, x, options, engine, ws);
    proposals += ws.report.proposals;
    accepted += ws.report.accepted;
    const auto cols = as_columns(x);
    for (Index n = 0; n < chains; ++n) {
      const int g = static_cast<int>(n / half);
      const Conditional& c = cond[g];
      const double t = c.u_free.dot(cols.col(n));
      active[g](n % half) += (c.a * t + c.b > 0) ? 1.0 : 0.0;
      response[g](n % half) += c.a * t;  // ⟨w_F, I_F⟩
      perp2[g](n % half) += (c.perp.transpose() * cols.col(n)).squaredNorm() / static_cast<double>(c.perp.cols());
    }
  }
  CHECK(fixed_bits_kept(start, x, masks));
  const double acceptance = static_cast<double>(accepted) / static_cast<double>(proposals);
  CHECK(acceptance > 0.2);
  CHECK(acceptance < 1.0);
  const auto unconditional = gconvnet::test::one_filter_closed_form(kNorm, kBias, kSigma);
  for (int g = 0; g < 2; ++g) {
    const Conditional& c = cond[g];
    const auto exact = gconvnet::test::one_filter_closed_form(c.a, c.b, kSigma);
    // Standard errors from independent chains (batch means with one batch per chain: honest whatever
    // the autocorrelation within a chain).
    const MeanSe p = mean_se(active[g] / static_cast<double>(samples));
    const MeanSe r = mean_se(response[g] / static_cast<double>(samples));
    const MeanSe v = mean_se(perp2[g] / static_cast<double>(samples));
    WARN("masked MALA, condition " << g << " (" << (g ? 20 : 12) << " of 36 fixed, |w_F| " << c.a << ", b' " << c.b
         << "): P(delta=1) " << p.mean << " ± " << p.se << " (exact " << exact.p_active << ", z "
         << (p.mean - exact.p_active) / p.se << "; unconditional " << unconditional.p_active << "), E<w_F, I_F> "
         << r.mean << " ± " << r.se << " (exact " << c.a * exact.mean_t << ", z "
         << (r.mean - c.a * exact.mean_t) / r.se << "), free w_F-perp variance " << v.mean << " ± " << v.se
         << " (exact " << kSigma * kSigma << "), acceptance " << acceptance);
    const double k = 4.0;  // k = 4 standard errors for each of the 3 × 2 statistics
    CHECK(std::abs(p.mean - exact.p_active) <= k * p.se);
    CHECK(std::abs(r.mean - c.a * exact.mean_t) <= k * r.se);
    CHECK(std::abs(v.mean - kSigma * kSigma) <= k * v.se);
    // the test can tell the conditional from the unconditional model
    CHECK(std::abs(p.mean - unconditional.p_active) > k * p.se);
  }
}

TEST_CASE("masked GRADE on the one-filter model reaches the modes of the conditional", "[sampling][grade][masked]") {
  // The conditional is the one-filter model on the free coordinates with filter w_F and bias b'; with
  // b' < 0 < σ²‖w_F‖² + b' its modes are I_F = 0 and I_F = σ²w_F, and GRADE keeps the side of t0 = −b'/‖w_F‖.
  EnergyModel model(Shape{1, 6, 6}, Conv<double>::fully_connected(1), ReLU<double>{});
  std::mt19937_64 engine(17);
  Vector<double> u(36);
  fill_standard_normal(engine, u.data(), 36);
  u.normalize();
  const Vector<double> w = kNorm * u;
  as_vector(model.layer<0>().weights()) = w;
  model.layer<0>().bias().setConstant(kBias);
  const Conditional c = make_conditional(w, 12, 1.5, engine);
  REQUIRE(c.b < 0);
  REQUIRE(kSigma * kSigma * c.a * c.a + c.b > 0);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 16, engine, 1.5);
  for (Index n = 0; n < 16; ++n)
    for (Index i = 0; i < 36; ++i)
      if (c.mask.data()[i]) x.data()[n * 36 + i] = c.fixed_values(i);
  const Batch<double> start = x;
  const Vector<double> t = as_columns(x).transpose() * c.u_free;
  const double t0 = -c.b / c.a;
  REQUIRE((t.array() > t0).any());
  REQUIRE((t.array() <= t0).any());
  GradeOptions options{0.5, 2000, kSigma, 1e-12, 1e-9};
  options.fixed = &c.mask;
  const GradeReport report = grade_descent(model, x, options);
  CHECK(report.all_converged());
  CHECK(report.all_auto_encoding());  // over the free pixels: Î_F = σ²B_F
  CHECK(fixed_bits_kept(start, x, c.mask));
  const Vector<double> mode = kSigma * kSigma * c.a * c.u_free;  // σ²w_F
  for (Index n = 0; n < 16; ++n) {
    const Vector<double> expected = c.fixed_values + (t(n) > t0 ? mode : Vector<double>::Zero(36));
    CHECK((as_columns(x).col(n) - expected).norm() <= 1e-10);
  }
  // the unmasked reconstruction error is not zero: the fixed pixels are not auto-encoded
  Batch<double> b;
  Vector<double> s;
  model.score_and_gradient(x, s, b);
  CHECK((as_columns(x).col(0) - kSigma * kSigma * as_columns(b).col(0)).norm() > 0.1);
}
