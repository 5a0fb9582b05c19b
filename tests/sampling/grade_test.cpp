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
