// The documented errors of sampling/ (docs/errors.md): one test case per entry.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using reliability::expect_error;

namespace {

using Model = EnergyModel<Conv<double>, ReLU<double>>;

Model tiny_model() {
  Model model(Shape{1, 6, 6}, Conv<double>(2, 3).padding(1), ReLU<double>{});
  std::mt19937_64 engine(1);
  initialize_normal(model, engine, 0.2);
  return model;
}

Batch<double> ones(const Shape& s, Index n) {
  Batch<double> b = make_batch<double>(s, n);
  b.setConstant(1.0);
  return b;
}

}  // namespace

TEST_CASE("sampling.step_size, reference_sigma, steps", "[reliability][errors][sampling]") {
  Model model = tiny_model();
  std::mt19937_64 engine(2);
  Batch<double> x = ones(model.input_shape(), 2);
  LangevinWorkspace<double> ws;
  CHECK_THAT(expect_error("sampling.step_size", [&] { langevin(model, x, LangevinOptions{0.0, 3, 1.0}, engine, ws); }),
             Catch::StartsWith("langevin: ") && Contains("is 0,"));
  CHECK_THAT(expect_error("sampling.step_size", [&] { grade_descent(model, x, GradeOptions{-1.0}); }),
             Catch::StartsWith("grade_descent: "));
  CHECK_THAT(expect_error("sampling.reference_sigma",
                          [&] { langevin(model, x, LangevinOptions{0.3, 3, std::nan("")}, engine, ws); }),
             Contains("is nan"));
  CHECK_THAT(expect_error("sampling.steps", [&] { langevin(model, x, LangevinOptions{0.3, -1, 1.0}, engine, ws); }),
             Contains("'options.steps' is -1"));
  CHECK_THAT(expect_error("sampling.steps", [&] { grade_descent(model, x, GradeOptions{1.0, -5}); }),
             Contains("'options.max_steps' is -5"));
  CHECK(as_vector(x).isApproxToConstant(1.0, 0.0));  // refused calls leave the chains alone
}

TEST_CASE("sampling.chains_shape", "[reliability][errors][sampling]") {
  Model model = tiny_model();
  std::mt19937_64 engine(3);
  Batch<double> wrong = ones(Shape{3, 6, 6}, 2);
  CHECK_THAT(expect_error("sampling.chains_shape", [&] { langevin(model, wrong, LangevinOptions{}, engine); }),
             Contains("has shape 3x6x6x2, expected 1x6x6xN"));
  Batch<double> none = make_batch<double>(model.input_shape(), 0);
  CHECK_THAT(expect_error("sampling.chains_shape", [&] { grade_descent(model, none); }), Contains("1x6x6x0"));
}

TEST_CASE("sampling.grade.tolerance, autoencoding_tolerance", "[reliability][errors][sampling]") {
  Model model = tiny_model();
  Batch<double> x = ones(model.input_shape(), 1);
  CHECK_THAT(expect_error("sampling.grade.tolerance", [&] { grade_descent(model, x, GradeOptions{1.0, 5, 1.0, -1.0}); }),
             Contains("is -1"));
  expect_error("sampling.grade.autoencoding_tolerance", [&] {
    grade_descent(model, x, GradeOptions{1.0, 5, 1.0, 1e-6, std::numeric_limits<double>::infinity()});
  });
}

TEST_CASE("sampling.chain_diverged", "[reliability][errors][sampling]") {
  Model model = tiny_model();
  std::mt19937_64 engine(4);
  Batch<double> x = ones(model.input_shape(), 3);
  x(0, 2, 2, 1) = std::nan("");
  CHECK_THAT(expect_error("sampling.chain_diverged", [&] { langevin(model, x, LangevinOptions{0.3, 2, 1.0}, engine); }),
             Contains("chain 1 became NaN or Inf at step 0 (plain Langevin step)"));
  // a step size far too large: ε²/(2σ²) = 5000, every chain grows ~5000-fold per step until it overflows
  Batch<double> y = ones(model.input_shape(), 2);
  CHECK_THAT(expect_error("sampling.chain_diverged", [&] { langevin(model, y, LangevinOptions{100.0, 200, 1.0}, engine); }),
             Contains("chain 0 became NaN or Inf at step "));
  Batch<double> z = ones(model.input_shape(), 2);
  z(0, 0, 0, 0) = std::numeric_limits<double>::infinity();
  CHECK_THAT(expect_error("sampling.chain_diverged", [&] { grade_descent(model, z); }), Contains("(GRADE step)"));
}

TEST_CASE("sampling.mala_energy_diverged", "[reliability][errors][sampling]") {
  // Finite proposals whose energy overflows: weights of 1e160 make f(I') ≈ 1e160 · 9 · ‖I'‖ with
  // ‖I'‖ ≈ (ε²/2)·‖B‖ ≈ 1e160, beyond the largest double.
  Model model = tiny_model();
  for (auto& p : model.parameters()) p.vector().setConstant(p.is_bias ? 0.0 : 1e160);
  std::mt19937_64 engine(5);
  Batch<double> x = ones(model.input_shape(), 2);
  CHECK_THAT(expect_error("sampling.mala_energy_diverged",
                          [&] { langevin(model, x, LangevinOptions{0.3, 3, 1.0, true}, engine); }),
             Contains("at step 0 (MALA proposal energy "));
}

TEST_CASE("sampling.fixed_shape", "[reliability][errors][sampling][masked]") {
  Model model = tiny_model();
  std::mt19937_64 engine(4);
  Batch<double> x = ones(model.input_shape(), 3);
  PixelMask two = make_batch<std::uint8_t>(model.input_shape(), 2);
  two.setZero();
  PixelMask other = make_batch<std::uint8_t>(Shape{1, 6, 5}, 1);
  other.setZero();
  LangevinOptions options;
  options.fixed = &two;
  CHECK_THAT(expect_error("sampling.fixed_shape", [&] { langevin(model, x, options, engine); }),
             Catch::Equals("langevin: argument 'options.fixed' has shape 1x6x6x2, expected 1x6x6x1 (one mask for every "
                           "chain) or 1x6x6x3 (one per chain)"));
  options.metropolis = true;
  options.fixed = &other;
  CHECK_THAT(expect_error("sampling.fixed_shape", [&] { langevin(model, x, options, engine); }),
             Contains("has shape 1x6x5x1"));
  GradeOptions grade;
  grade.fixed = &two;
  CHECK_THAT(expect_error("sampling.fixed_shape", [&] { grade_descent(model, x, grade); }),
             Catch::StartsWith("grade_descent: argument 'options.fixed'"));
  CHECK(as_vector(x).isApproxToConstant(1.0, 0.0));  // refused calls leave the chains alone
}
