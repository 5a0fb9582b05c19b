// Bad input at the samplers' door: gconvnet::Error naming the function, the argument, what was
// expected and what came; the chains are left untouched.
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace gconvnet;
using Catch::Matchers::Contains;
using Catch::Matchers::Message;

namespace {

auto tiny_model() {
  EnergyModel model(Shape{1, 6, 6}, Conv<double>(2, 3).padding(1), ReLU<double>{});
  std::mt19937_64 engine(1);
  initialize_normal(model, engine, 0.2);
  return model;
}

}  // namespace

TEST_CASE("samplers reject a non-positive or non-finite step size", "[sampling][errors]") {
  auto model = tiny_model();
  std::mt19937_64 engine(2);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 2, engine);
  const Batch<double> before = x;
  LangevinWorkspace<double> ws;
  CHECK_THROWS_MATCHES(langevin(model, x, LangevinOptions{0.0, 3, 1.0}, engine, ws), Error,
                       Message("langevin: argument 'options.step_size' is 0, expected a finite value > 0"));
  CHECK_THROWS_MATCHES(langevin(model, x, LangevinOptions{-0.5, 3, 1.0, true}, engine, ws), Error,
                       Message("langevin: argument 'options.step_size' is -0.5, expected a finite value > 0"));
  CHECK_THROWS_WITH(langevin(model, x, LangevinOptions{std::numeric_limits<double>::infinity(), 3, 1.0}, engine, ws),
                    Contains("'options.step_size' is inf"));
  CHECK_THROWS_MATCHES(grade_descent(model, x, GradeOptions{0.0}), Error,
                       Message("grade_descent: argument 'options.step_size' is 0, expected a finite value > 0"));
  CHECK(as_vector(x) == as_vector(before));
}

TEST_CASE("samplers reject a non-positive or non-finite reference sigma", "[sampling][errors]") {
  auto model = tiny_model();
  std::mt19937_64 engine(3);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 2, engine);
  const Batch<double> before = x;
  LangevinWorkspace<double> ws;
  CHECK_THROWS_MATCHES(langevin(model, x, LangevinOptions{0.3, 3, 0.0}, engine, ws), Error,
                       Message("langevin: argument 'options.reference_sigma' is 0, expected a finite value > 0"));
  CHECK_THROWS_MATCHES(langevin(model, x, LangevinOptions{0.3, 3, -1.0, true}, engine, ws), Error,
                       Message("langevin: argument 'options.reference_sigma' is -1, expected a finite value > 0"));
  CHECK_THROWS_WITH(langevin(model, x, LangevinOptions{0.3, 3, std::nan("")}, engine, ws),
                    Contains("'options.reference_sigma' is nan"));
  CHECK_THROWS_MATCHES(grade_descent(model, x, GradeOptions{1.0, 10, -2.0}), Error,
                       Message("grade_descent: argument 'options.reference_sigma' is -2, expected a finite value > 0"));
  CHECK(as_vector(x) == as_vector(before));
}

TEST_CASE("samplers reject a negative number of steps or tolerance", "[sampling][errors]") {
  auto model = tiny_model();
  std::mt19937_64 engine(4);
  Batch<double> x = gconvnet::test::noise_chains<double>(model.input_shape(), 2, engine);
  const Batch<double> before = x;
  LangevinWorkspace<double> ws;
  CHECK_THROWS_MATCHES(langevin(model, x, LangevinOptions{0.3, -1, 1.0}, engine, ws), Error,
                       Message("langevin: argument 'options.steps' is -1, expected >= 0"));
  CHECK_THROWS_MATCHES(grade_descent(model, x, GradeOptions{1.0, -5, 1.0}), Error,
                       Message("grade_descent: argument 'options.max_steps' is -5, expected >= 0"));
  CHECK_THROWS_MATCHES(grade_descent(model, x, GradeOptions{1.0, 5, 1.0, -1e-6}), Error,
                       Message("grade_descent: argument 'options.tolerance' is -1e-06, expected a finite value >= 0"));
  CHECK_THROWS_MATCHES(
      grade_descent(model, x, GradeOptions{1.0, 5, 1.0, 1e-6, -1.0}), Error,
      Message("grade_descent: argument 'options.autoencoding_tolerance' is -1, expected a finite value >= 0"));
  CHECK(as_vector(x) == as_vector(before));
  // Zero steps is allowed and changes nothing.
  langevin(model, x, LangevinOptions{0.3, 0, 1.0}, engine, ws);
  CHECK(as_vector(x) == as_vector(before));
}

TEST_CASE("samplers reject chains of the wrong shape", "[sampling][errors]") {
  auto model = tiny_model();
  std::mt19937_64 engine(5);
  LangevinWorkspace<double> ws;
  Batch<double> wrong_size = make_batch<double>(Shape{1, 5, 6}, 3);
  wrong_size.setZero();
  CHECK_THROWS_MATCHES(langevin(model, wrong_size, LangevinOptions{}, engine, ws), Error,
                       Message("langevin: argument 'chains' has shape 1x5x6x3, expected 1x6x6xN with N >= 1 (one "
                               "image of the model's input shape per chain)"));
  Batch<double> wrong_channels = make_batch<double>(Shape{3, 6, 6}, 2);
  wrong_channels.setZero();
  CHECK_THROWS_WITH(langevin(model, wrong_channels, LangevinOptions{0.3, 2, 1.0, true}, engine, ws),
                    Contains("argument 'chains' has shape 3x6x6x2, expected 1x6x6xN"));
  Batch<double> none = make_batch<double>(Shape{1, 6, 6}, 0);
  CHECK_THROWS_WITH(langevin(model, none, LangevinOptions{}, engine, ws),
                    Contains("argument 'chains' has shape 1x6x6x0, expected 1x6x6xN with N >= 1"));
  CHECK_THROWS_MATCHES(grade_descent(model, wrong_size, GradeOptions{}), Error,
                       Message("grade_descent: argument 'chains' has shape 1x5x6x3, expected 1x6x6xN with N >= 1 "
                               "(one image of the model's input shape per chain)"));
}
