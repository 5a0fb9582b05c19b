// Reproducibility, observers and diagnostics of the samplers.
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace gconvnet;

namespace {

template <class S>
bool bit_identical(const Batch<S>& a, const Batch<S>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(S) * static_cast<std::size_t>(a.size())) == 0;
}

template <class S>
auto small_model(std::uint64_t seed) {
  EnergyModel model(Shape{2, 8, 8}, Conv<S>(4, 3).padding(1), ReLU<S>{}, MaxPool<S>(2), Conv<S>(3, 3).padding(1), ReLU<S>{});
  std::mt19937_64 engine(seed);
  initialize_normal(model, engine, 0.3, 0.05);
  return model;
}

template <class S>
Batch<S> run(bool metropolis, std::uint64_t seed, Index steps_per_call, Index calls) {
  auto model = small_model<S>(1);
  std::mt19937_64 engine(seed);
  Batch<S> x = gconvnet::test::noise_chains<S>(model.input_shape(), 5, engine);
  LangevinWorkspace<S> ws;
  for (Index c = 0; c < calls; ++c) langevin(model, x, LangevinOptions{0.4, steps_per_call, 1.0, metropolis}, engine, ws);
  return x;
}

}  // namespace

TEMPLATE_TEST_CASE("Langevin and MALA: one seed gives bit-identical chains, another seed different ones",
                   "[sampling][langevin][mala][reproducibility]", float, double) {
  for (bool metropolis : {false, true}) {
    INFO("metropolis " << metropolis);
    const Batch<TestType> a = run<TestType>(metropolis, 42, 12, 1);
    const Batch<TestType> b = run<TestType>(metropolis, 42, 12, 1);
    const Batch<TestType> c = run<TestType>(metropolis, 43, 12, 1);
    CHECK(all_finite(a));
    CHECK(bit_identical(a, b));
    CHECK_FALSE(bit_identical(a, c));
    // No hidden distribution state between calls: 12 steps at once = 4 calls of 3 steps.
    CHECK(bit_identical(a, run<TestType>(metropolis, 42, 3, 4)));
  }
}

TEST_CASE("an observer sees every state and changes nothing", "[sampling][langevin][mala][diagnostics]") {
  for (bool metropolis : {false, true}) {
    INFO("metropolis " << metropolis);
    auto model = small_model<double>(3);
    std::mt19937_64 e1(9), e2(9);
    Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 4, e1);
    Batch<double> y = x;
    e2 = e1;
    const Batch<double> start = x;
    const LangevinOptions options{0.5, 6, 0.8, metropolis};
    LangevinWorkspace<double> w1, w2;
    langevin(model, x, options, e1, w1);

    std::vector<Index> steps;
    SamplerDiagnostics first, last;
    const LangevinReport report = langevin(model, y, options, e2, w2, [&](const SamplerDiagnostics& d) {
      if (steps.empty()) first = d;
      last = d;
      steps.push_back(d.step);
    });
    CHECK(bit_identical(x, y));
    CHECK(steps == std::vector<Index>{0, 1, 2, 3, 4, 5, 6});
    CHECK(report.steps == 6);
    CHECK(report.proposals == (metropolis ? 24 : 0));
    CHECK(last.proposals == report.proposals);
    CHECK(last.accepted == report.accepted);
    if (metropolis) CHECK(w2.accepted.sum() == report.accepted);

    // The first and last states as the observer saw them, recomputed from the chains.
    for (const auto& [d, chains] : {std::pair<const SamplerDiagnostics&, const Batch<double>&>{first, start},
                                    std::pair<const SamplerDiagnostics&, const Batch<double>&>{last, y}}) {
      const Vector<double> u = model.energy(chains, 0.8);
      const Vector<double> f = model.score(chains);
      const ActivationPattern<double> delta = model.bottom_up(chains);
      const Reconstruction<double> rec = model.top_down(delta);
      CHECK(d.energy.isApprox(u, 1e-13));
      CHECK(d.score.isApprox(f, 1e-13));
      for (Index n = 0; n < 4; ++n)
        CHECK(d.reconstruction_error(n) ==
              Approx((as_columns(chains).col(n) - 0.64 * as_columns(rec.B).col(n)).norm()).epsilon(1e-12));
      CHECK(d.gated_layers == std::vector<Index>{1, 4});
      REQUIRE(d.active_fraction.size() == 2);
      CHECK(d.active_fraction[0] == Approx(delta.active_fraction(1)).epsilon(1e-14));
      CHECK(d.active_fraction[1] == Approx(delta.active_fraction(4)).epsilon(1e-14));
    }
  }
}

TEST_CASE("NaN or Inf stops every sampler with NumericalError naming the step and the chain",
          "[sampling][errors]") {
  auto model = small_model<double>(5);
  std::mt19937_64 engine(1);
  SECTION("a chain that starts with NaN") {
    Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 4, engine);
    as_columns(x)(7, 2) = std::numeric_limits<double>::quiet_NaN();
    LangevinWorkspace<double> ws;
    Batch<double> y = x;
    CHECK_THROWS_MATCHES(langevin(model, y, LangevinOptions{0.3, 5, 1.0}, engine, ws), NumericalError,
                         Catch::Matchers::Message("langevin: chain 2 became NaN or Inf at step 0 (plain Langevin "
                                                  "step); try a smaller step_size or learning rate"));
    y = x;
    CHECK_THROWS_MATCHES(langevin(model, y, LangevinOptions{0.3, 5, 1.0, true}, engine, ws), NumericalError,
                         Catch::Matchers::Message("langevin: chain 2 became NaN or Inf at step 0 (MALA proposal); "
                                                  "try a smaller step_size or learning rate"));
    y = x;
    CHECK_THROWS_MATCHES(grade_descent(model, y, GradeOptions{}), NumericalError,
                         Catch::Matchers::Message("grade_descent: chain 2 became NaN or Inf at step 0 (GRADE step); "
                                                  "try a smaller step_size or learning rate"));
  }
  SECTION("chains that diverge: a step far too large for σ") {
    // shrink = 1 − ε²/(2σ²) = −4999 per step: |I| overflows double after about 84 steps.
    const LangevinOptions options{1.0, 200, 0.01};
    Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 3, engine);
    LangevinWorkspace<double> ws;
    CHECK_THROWS_WITH(langevin(model, x, options, engine, ws),
                      Catch::Matchers::StartsWith("langevin: chain ") &&
                          Catch::Matchers::Contains(" became NaN or Inf at step "));
    Batch<double> z = gconvnet::test::noise_chains<double>(model.input_shape(), 3, engine);
    CHECK_THROWS_WITH(grade_descent(model, z, GradeOptions{1.0, 200, 0.01}),
                      Catch::Matchers::StartsWith("grade_descent: chain ") &&
                          Catch::Matchers::Contains(" became NaN or Inf at step "));
  }
}

TEST_CASE("fill_standard_normal: N(0, 1) by moments, tails and a chi-square histogram, and any split gives the "
          "same numbers",
          "[sampling][random]") {
  std::mt19937_64 engine(77);
  Vector<double> v(400000);
  fill_standard_normal(engine, v.data(), v.size());
  const double n = static_cast<double>(v.size());
  const double mean = v.mean();
  const double var = (v.array() - mean).square().sum() / (n - 1);
  // k = 4: SE(mean) = 1/√n, SE(variance) = √(2/n), SE(4th moment) = √(96/n).
  CHECK(std::abs(mean) <= 4 / std::sqrt(n));
  CHECK(std::abs(var - 1) <= 4 * std::sqrt(2 / n));
  CHECK(std::abs(v.array().square().square().mean() - 3) <= 4 * std::sqrt(96 / n));
  // Tail frequencies, including beyond the ziggurat's R = 3.44 where its separate tail sampler works;
  // SE = √(p(1 − p)/n), k = 4.
  for (double c : {1.0, 2.0, 3.0, 3.442619855899, 4.0}) {
    const double p = std::erfc(c / std::sqrt(2.0));
    const double tail = (v.array().abs() > c).cast<double>().mean();
    INFO("P(|Z| > " << c << ") = " << tail << ", exact " << p);
    CHECK(std::abs(tail - p) <= 4 * std::sqrt(p * (1 - p) / n));
  }
  // Chi-square over 64 equal-probability bins (bin of z: floor(64 Φ(z))): 63 degrees of freedom; the
  // 1 − 1e-4 quantile is ≈ 114 (Wilson–Hilferty), so the bound fails a correct sampler once in 10⁴ seeds.
  std::vector<double> counts(64, 0.0);
  for (Index i = 0; i < v.size(); ++i) {
    const int bin = std::min(63, static_cast<int>(64 * gconvnet::test::normal_cdf(v(i))));
    counts[static_cast<std::size_t>(bin)] += 1;
  }
  double chi2 = 0;
  for (double c : counts) chi2 += (c - n / 64) * (c - n / 64) / (n / 64);
  INFO("chi-square " << chi2 << " on 63 degrees of freedom");
  CHECK(chi2 < 114);
  // No state between calls: the same engine state gives the same numbers however the fill is split.
  std::mt19937_64 a(5), b(5);
  Vector<float> one(11), two(11);
  fill_standard_normal(a, one.data(), 11);
  fill_standard_normal(b, two.data(), 4);
  fill_standard_normal(b, two.data() + 4, 7);
  CHECK(one == two);
  CHECK(a() == b());
  // A 32-bit engine works too.
  std::mt19937 e32(1);
  Vector<double> w(4000);
  fill_standard_normal(e32, w.data(), w.size());
  CHECK(std::abs(w.mean()) <= 4 / std::sqrt(4000.0));
  CHECK(std::abs((w.array() - w.mean()).square().mean() - 1) <= 4 * std::sqrt(2 / 4000.0));
  // uniform01 lies in [0, 1) with mean 1/2 (SE √(1/12n)).
  Vector<double> u(100000);
  for (Index i = 0; i < u.size(); ++i) u(i) = uniform01(engine);
  CHECK(u.minCoeff() >= 0.0);
  CHECK(u.maxCoeff() < 1.0);
  CHECK(std::abs(u.mean() - 0.5) <= 4 * std::sqrt(1.0 / (12 * 100000.0)));
}

TEST_CASE("every langevin overload returns its LangevinReport, the same for the same engine state",
          "[sampling][langevin]") {
  EnergyModel model(Shape{1, 6, 6}, Conv<double>(2, 3).padding(1), ReLU<double>{});
  std::mt19937_64 init(11);
  initialize_normal(model, init, 0.2);
  const auto& cm = model;  // the samplers take the model by const reference
  std::mt19937_64 start(12);
  const Batch<double> x0 = gconvnet::test::noise_chains<double>(model.input_shape(), 3, start);
  for (const bool metropolis : {false, true}) {
    CAPTURE(metropolis);
    const LangevinOptions options{0.3, 4, 1.0, metropolis};
    Batch<double> a = x0, b = x0, c = x0;
    std::mt19937_64 ea(13), eb(13), ec(13);
    LangevinWorkspace<double> wa, wb;
    Index observed = 0;
    const LangevinReport ra = langevin(cm, a, options, ea, wa, [&](const SamplerDiagnostics&) { ++observed; });
    const LangevinReport rb = langevin(cm, b, options, eb, wb);
    const LangevinReport rc = langevin(cm, c, options, ec);
    CHECK(observed == 5);  // the chains as given, then after each of the 4 steps
    for (const LangevinReport* r : {&ra, &rb, &rc}) {
      CHECK(r->steps == 4);
      CHECK(r->proposals == (metropolis ? 12 : 0));
      CHECK(r->accepted == ra.accepted);
    }
    CHECK(wb.report.accepted == rb.accepted);  // and left in the workspace
    CHECK(as_vector(a) == as_vector(b));
    CHECK(as_vector(b) == as_vector(c));
  }
}
