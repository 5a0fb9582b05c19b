// GRADE descent (eq. 6.10 without noise) and the auto-encoding local modes of Prop. 2.
//
// Why some models are "convex": with ReLU, f is piecewise linear. If every weight above the first layer
// is ≥ 0, f is convex (a nonnegative combination and max-pooling of convex functions, through the
// convex nondecreasing ReLU), so U = ‖I‖²/(2σ²) − f is a quadratic minus a convex function. Then
//   U(I − ηg) ≤ U(I) − η(1 − η/(2σ²))‖g‖²   with η = ε²/2 and g = ∇U(I)
// (the convex −f lies under its tangent), so the energy never increases for ε ≤ 2σ, and no local minimum
// sits on a kink: GRADE stops at the mean of a Gaussian piece, Î = σ²·B_{w,δ(Î)}. With signed weights in
// the upper layers f has concave kinks, U has V-shaped valleys along them, and a minimum on such a kink
// is not differentiable: GRADE then hops across the kink forever with a small energy rise at each hop
// (∝ ε², measured by the last test case) and Prop. 2, which needs the gradient, does not apply there.
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using namespace gconvnet;

namespace {

// Makes every weight above the first layer nonnegative (f convex, see above).
template <class Model>
void make_upper_weights_nonnegative(Model& model) {
  for (auto& p : model.parameters())
    if (!p.is_bias && p.layer > 0) p.vector() = p.vector().cwiseAbs();
}

// Watches a GRADE run: counts the steps at which any chain's energy rose by more than rounding.
struct EnergyWatch {
  Vector<double> previous;
  Index increases = 0, observations = 0;
  double worst = 0;
  void operator()(const SamplerDiagnostics& d) {
    ++observations;
    if (previous.size() == d.energy.size())
      for (Index n = 0; n < d.energy.size(); ++n) {
        // Rounding slack: U is a sum of O(d) terms of size up to |U|, evaluated in double.
        const double rise = d.energy(n) - previous(n);
        if (rise > 1e-12 * (1 + std::abs(previous(n)))) {
          ++increases;
          worst = std::max(worst, rise);
        }
      }
    previous = d.energy;
  }
};

// Independent check of Prop. 2 at the final states: bottom-up δ(Î), top-down B_{w,δ}, ‖Î − σ²B‖; and
// Î is a strict local minimum inside its piece: for a perturbation h small enough that δ(Î ± h) = δ(Î),
// U(Î ± h) − U(Î) = ‖h‖²/(2σ²) (Theorem 1 with ∇U(Î) = 0; Hessian I/σ²). Pieces can be thin (a unit whose
// response at Î is near 0), so h starts at 1e-3·‖Î‖ and is halved until the pattern holds.
template <class Model>
void check_modes(Model& model, const Batch<double>& modes, double sigma, std::mt19937_64& engine) {
  const ActivationPattern<double> delta = model.bottom_up(modes);
  const Reconstruction<double> rec = model.top_down(delta);
  const auto x = as_columns(modes);
  const auto b = as_columns(rec.B);
  const Vector<double> u0 = model.energy(modes, sigma);
  for (Index n = 0; n < x.cols(); ++n) {
    const double scale = std::max(1.0, x.col(n).norm());
    CHECK((x.col(n) - sigma * sigma * b.col(n)).norm() <= 1e-8 * scale);
    const Batch<double> mode = as_batch(image_of(modes, n));
    const ActivationPattern<double> own = model.bottom_up(mode);
    Batch<double> h = gconvnet::test::noise_chains<double>(model.input_shape(), 1, engine);
    as_vector(h) *= 1e-3 * scale / as_vector(h).norm();
    for (int halvings = 0;; ++halvings) {
      REQUIRE(halvings < 40);
      Batch<double> plus = mode, minus = mode;
      as_vector(plus) += as_vector(h);
      as_vector(minus) -= as_vector(h);
      if (model.bottom_up(plus) == own && model.bottom_up(minus) == own) {
        const double expected = as_vector(h).squaredNorm() / (2 * sigma * sigma);
        const double margin = 1e-12 * (1 + std::abs(u0(n)));
        CHECK(model.energy(plus, sigma)(0) - u0(n) == Approx(expected).epsilon(1e-3).margin(margin));
        CHECK(model.energy(minus, sigma)(0) - u0(n) == Approx(expected).epsilon(1e-3).margin(margin));
        break;
      }
      as_vector(h) *= 0.5;
    }
  }
}

}  // namespace

TEST_CASE("GRADE on random convex multi-layer models reaches auto-encoding modes (Prop. 2) and the energy "
          "never increases",
          "[sampling][grade]") {
  const double sigma = 0.9;
  const GradeOptions options{0.5 * sigma, 5000, sigma, 1e-11, 1e-8};
  for (const std::string spec : {"conv:4:3:1:1,relu,conv:2:3:1:1,relu", "conv:4:3:1:1,relu,maxpool:2,conv:3:3:1:1,relu"}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      DynamicModel<double> model(Shape{1, 8, 8}, parse_layers<double>(spec));
      std::mt19937_64 engine(seed);
      initialize_normal(model, engine, 0.3, -0.1);
      make_upper_weights_nonnegative(model);
      Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 6, engine, 2 * sigma);
      const Vector<double> start_energy = model.energy(x, sigma);
      EnergyWatch watch;
      GradeWorkspace<double> ws;
      const GradeReport report = grade_descent(model, x, options, ws, watch);
      INFO(spec << ", seed " << seed << ": " << report.steps << " steps, largest reconstruction error "
                << report.reconstruction_error.maxCoeff() << ", energy rises " << watch.increases);
      CHECK(report.all_converged());
      CHECK(report.all_auto_encoding());
      CHECK(watch.increases == 0);
      CHECK(watch.observations == report.steps + 1);
      CHECK((report.energy.array() < start_energy.array()).all());
      CHECK(report.energy.isApprox(model.energy(x, sigma), 1e-12));
      check_modes(model, x, sigma, engine);
    }
  }
}

TEST_CASE("GRADE on the one-filter model finds its two modes exactly", "[sampling][grade]") {
  // p(I) ∝ exp(max(⟨w,I⟩ + b, 0)) N(0, σ²) with b < 0 < ‖w‖²σ² + b has exactly two modes: Î = 0 (δ = 0)
  // and Î = σ²w (δ = 1). GRADE keeps the side of t = ⟨I,u⟩ relative to t0 = −b/‖w‖ (it contracts toward
  // the piece's mean, which lies in the piece), so a start with t > t0 ends at σ²w and the others at 0.
  const double sigma = 0.8, bias = -2.5;
  EnergyModel model(Shape{1, 6, 6}, Conv<double>::fully_connected(1), ReLU<double>{});
  std::mt19937_64 engine(7);
  Vector<double> w(36);
  fill_standard_normal(engine, w.data(), 36);
  w *= 2.5 / w.norm();
  as_vector(model.layer<0>().weights()) = w;
  model.layer<0>().bias().setConstant(bias);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 16, engine, 1.5);
  const Vector<double> t = as_columns(x).transpose() * w.normalized();
  const double t0 = -bias / w.norm();
  REQUIRE((t.array() > t0).any());
  REQUIRE((t.array() <= t0).any());
  const GradeReport report = grade_descent(model, x, GradeOptions{0.5, 2000, sigma, 1e-12, 1e-9});
  CHECK(report.all_converged());
  CHECK(report.all_auto_encoding());
  const double rho = 1 - 0.25 / (2 * sigma * sigma);
  for (Index n = 0; n < 16; ++n) {
    const Vector<double> expected = t(n) > t0 ? Vector<double>(sigma * sigma * w) : Vector<double>::Zero(36);
    CHECK((as_columns(x).col(n) - expected).norm() <= 1e-10);
    // On its piece the distance to the mode shrinks by ρ = 1 − ε²/(2σ²) per step; the update falls
    // below 1e-12 after about log(1e-12)/log(ρ) steps (more when the start is far).
    CHECK(report.chain_steps(n) <= static_cast<Index>(std::log(1e-14) / std::log(rho)) + 2);
  }
}

TEST_CASE("GRADE with a smooth nonlinearity reaches Î = σ²·∂f/∂I(Î) (Prop. 2 for general h)", "[sampling][grade]") {
  // Softplus makes f smooth, so Prop. 2 holds at every local minimum whatever the signs of the weights;
  // the step is a plain gradient step on a smooth U and the energy decreases at a small enough ε.
  const double sigma = 1.0;
  DynamicModel<double> model(Shape{1, 8, 8}, parse_layers<double>("conv:4:3:1:1,softplus,conv:2:3:1:1,softplus"));
  std::mt19937_64 engine(4);
  initialize_normal(model, engine, 0.3, -0.1);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 6, engine, 2.0);
  EnergyWatch watch;
  GradeWorkspace<double> ws;
  const GradeReport report = grade_descent(model, x, GradeOptions{0.5, 5000, sigma, 1e-11, 1e-8}, ws, watch);
  CHECK(report.all_converged());
  CHECK(report.all_auto_encoding());
  CHECK(watch.increases == 0);
}

TEST_CASE("GRADE on signed random multi-layer models: converged chains are auto-encoding and minima on "
          "kinks are measured",
          "[sampling][grade]") {
  const double sigma = 0.9;
  Index chains = 0, converged = 0;
  Index rises = 0;
  double worst = 0;
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    DynamicModel<double> model(Shape{1, 8, 8}, parse_layers<double>("conv:4:3:1:1,relu,conv:2:3:1:1,relu"));
    std::mt19937_64 engine(seed);
    initialize_normal(model, engine, 0.3, -0.1);
    Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 6, engine, 2 * sigma);
    const Vector<double> start_energy = model.energy(x, sigma);
    EnergyWatch watch;
    GradeWorkspace<double> ws;
    const GradeReport report = grade_descent(model, x, GradeOptions{0.2 * sigma, 1500, sigma, 1e-11, 1e-8}, ws, watch);
    for (Index n = 0; n < 6; ++n) {
      ++chains;
      if (report.converged[static_cast<std::size_t>(n)]) {
        ++converged;
        CHECK(report.auto_encoding[static_cast<std::size_t>(n)]);
      }
    }
    CHECK((report.energy.array() < start_energy.array()).all());
    rises += watch.increases;
    worst = std::max(worst, watch.worst);
  }
  WARN("GRADE (eps = 0.2 sigma) on signed 2-layer random models: " << converged << " of " << chains
       << " chains reached an auto-encoding mode; the rest still change pattern at the step budget "
       << "(minima on kinks, see the file comment; " << rises << " energy rises, largest " << worst << ")");
  CHECK(converged > 0);
}

TEST_CASE("GRADE stops at its step budget and reports it", "[sampling][grade]") {
  EnergyModel model(Shape{1, 6, 6}, Conv<double>(3, 3).padding(1), ReLU<double>{});
  std::mt19937_64 engine(3);
  initialize_normal(model, engine, 0.5, 0.1);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 3, engine);
  const GradeReport report = grade_descent(model, x, GradeOptions{0.3, 3, 1.0, 1e-12, 1e-8});
  CHECK(report.steps == 3);
  CHECK_FALSE(report.all_converged());
  CHECK((report.chain_steps.array() == 3).all());
  CHECK(report.energy.size() == 3);
  CHECK(report.reconstruction_error.size() == 3);
  // No steps: the chains are returned untouched and described.
  Batch<double> y = x;
  const GradeReport none = grade_descent(model, y, GradeOptions{0.3, 0, 1.0});
  CHECK(none.steps == 0);
  CHECK(as_vector(y) == as_vector(x));
  CHECK(none.energy.isApprox(model.energy(x, 1.0), 1e-14));
}

// The size of the GRADE step itself. Every test above ends at a fixed point Î = σ²B, which a step of
// any size (ε²/2)·c, 0 < c < 4σ²/ε², also reaches — a step off by a constant factor would pass them.
// These pin the factor: one step I' = I − (ε²/2)(I/σ² − B_{w,δ(I)}) with ε = √2σ is exactly σ²B_{w,δ(I)},
// and on a piece where δ stays fixed, I_t − σ²B = ρ^t (I_0 − σ²B) with ρ = 1 − ε²/(2σ²).
TEST_CASE("one GRADE step at eps = sqrt(2) sigma lands on sigma^2 B_{w,delta(I)}", "[sampling][grade]") {
  for (const double sigma : {0.7, 1.3}) {
    INFO("sigma " << sigma);
    DynamicModel<double> model(Shape{2, 8, 8}, parse_layers<double>("conv:4:3:1:1,relu,maxpool:2,conv:3:3:1:1,relu"));
    std::mt19937_64 engine(17);
    initialize_normal(model, engine, 0.3, 0.05);
    const Batch<double> start = gconvnet::test::noise_chains<double>(model.input_shape(), 5, engine, 2 * sigma);
    Vector<double> scores;
    Batch<double> B;  // ∂f/∂I = B_{w,δ(I)} at the start (Theorem 1)
    model.score_and_gradient(start, scores, B);
    Batch<double> x = start;
    grade_descent(model, x, GradeOptions{std::sqrt(2.0) * sigma, 1, sigma, 0.0, 0.0});
    // ε²/(2σ²) = 1 up to the rounding of √2: the step is (1 − ε²/(2σ²))·I + (ε²/2)·B = σ²B ± 1e-16·|I|.
    const double scale = 1 + as_vector(start).cwiseAbs().maxCoeff();
    CHECK((as_vector(x) - sigma * sigma * as_vector(B)).cwiseAbs().maxCoeff() <= 1e-12 * scale);
    CHECK((as_vector(x) - as_vector(start)).norm() > 1);  // it moved
  }
}

TEST_CASE("GRADE on a fixed piece: one step to sigma^2 B, then contraction by 1 - eps^2/(2 sigma^2)",
          "[sampling][grade]") {
  // The prototype model (K = 3 filters over the whole 1×5×5 image, then ReLU) with biases that keep the
  // pattern δ = (1, 0, 1) from I_0 to σ²B, B = w_0 + w_2: the piece is an intersection of half-spaces,
  // hence convex, so it holds the whole segment once it holds both ends.
  const double sigma = 0.7;
  EnergyModel model(Shape{1, 5, 5}, Conv<double>::fully_connected(3), ReLU<double>{});
  std::mt19937_64 engine(23);
  initialize_normal(model, engine, 0.3, 0.0);
  auto& conv = model.layer<0>();
  const Batch<double> start = gconvnet::test::noise_chains<double>(model.input_shape(), 1, engine, 3.0);
  Matrix<double> w(25, 3);  // filter k as column k (the weights' ColMajor layout per filter differs)
  for (Index k = 0; k < 3; ++k)
    for (Index i = 0; i < 25; ++i) w(i, k) = conv.weights()(k, 0, i % 5, i / 5);
  Vector<double> x0(25);
  for (Index i = 0; i < 25; ++i) x0(i) = start(0, i % 5, i / 5, 0);
  const Vector<double> mode = sigma * sigma * (w.col(0) + w.col(2));  // σ²B for δ = (1, 0, 1)
  const bool on[3] = {true, false, true};
  for (Index k = 0; k < 3; ++k) {
    const double lo = std::min(w.col(k).dot(x0), w.col(k).dot(mode)), hi = std::max(w.col(k).dot(x0), w.col(k).dot(mode));
    conv.bias()(k) = on[k] ? 1.0 - lo : -1.0 - hi;  // a margin of 1 at both ends
  }
  const ActivationPattern<double> delta0 = model.bottom_up(start);
  Vector<double> scores;
  Batch<double> B;
  model.score_and_gradient(start, scores, B);
  Vector<double> b(25);
  for (Index i = 0; i < 25; ++i) b(i) = B(0, i % 5, i / 5, 0);
  REQUIRE((b - (w.col(0) + w.col(2))).cwiseAbs().maxCoeff() <= 1e-15);  // the pattern is (1, 0, 1)
  auto flat = [](const Batch<double>& x) {
    Vector<double> v(25);
    for (Index i = 0; i < 25; ++i) v(i) = x(0, i % 5, i / 5, 0);
    return v;
  };

  // ε = √2σ: one step onto the mode, which is auto-encoding (δ unchanged there).
  Batch<double> x = start;
  const GradeReport one = grade_descent(model, x, GradeOptions{std::sqrt(2.0) * sigma, 1, sigma, 0.0, 1e-12});
  CHECK((flat(x) - mode).cwiseAbs().maxCoeff() <= 1e-12 * (1 + x0.cwiseAbs().maxCoeff()));
  CHECK(model.bottom_up(x) == delta0);
  CHECK(one.reconstruction_error(0) <= 1e-12 * (1 + x0.norm()));
  CHECK(one.all_auto_encoding());

  // ε = 0.5: I_t − σ²B = ρ^t (I_0 − σ²B), step after step (tolerance 0: no chain stops early).
  const double eps = 0.5, rho = 1 - eps * eps / (2 * sigma * sigma);
  x = start;
  for (int t = 1; t <= 6; ++t) {
    grade_descent(model, x, GradeOptions{eps, 1, sigma, 0.0, 0.0});
    REQUIRE(model.bottom_up(x) == delta0);
    const Vector<double> expected = mode + std::pow(rho, t) * (x0 - mode);
    INFO("step " << t << ", rho " << rho);
    CHECK((flat(x) - expected).cwiseAbs().maxCoeff() <= 1e-12 * (1 + x0.cwiseAbs().maxCoeff()));
  }
  // The same six steps in one call.
  Batch<double> y = start;
  const GradeReport six = grade_descent(model, y, GradeOptions{eps, 6, sigma, 0.0, 0.0});
  CHECK(six.steps == 6);
  CHECK((flat(y) - (mode + std::pow(rho, 6) * (x0 - mode))).cwiseAbs().maxCoeff() <= 1e-12 * (1 + x0.cwiseAbs().maxCoeff()));
}
