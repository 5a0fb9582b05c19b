// ReLU and Softplus (layers/relu.hpp, layers/softplus.hpp), and LayerPattern::count_differences.
#include <gconvnet/layers/layer_pattern.hpp>
#include <gconvnet/layers/relu.hpp>
#include <gconvnet/layers/softplus.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <catch2/catch.hpp>

#include "layers/reference.hpp"

using namespace gconvnet;

TEMPLATE_TEST_CASE("ReLU forward, its pattern and its top-down pass equal the definition", "[layers][relu]", float, double) {
  using S = TestType;
  std::mt19937_64 engine(31);
  const Shape shape{3, 7, 5};
  ReLU<S> relu;
  REQUIRE(relu.configure(shape) == shape);
  const Batch<S> x = ref::random_batch<S>(shape, 4, engine);
  const Batch<S> dy = ref::random_batch<S>(shape, 4, engine);
  Batch<S> y, dx;
  LayerPattern<S> p;
  relu.forward(x, y, p);
  relu.backward(p, dy, dx);
  REQUIRE(p.gate.size() == x.size());
  CHECK(p.switches.size() == 0);
  CHECK_FALSE(p.smooth);
  Index wrong = 0, on = 0;
  for (Index i = 0; i < x.size(); ++i) {
    const double xi = x.data()[i];
    const double delta = xi > 0 ? 1.0 : 0.0;  // eq. 6.4
    on += xi > 0;
    wrong += y.data()[i] != static_cast<S>(ref::relu(xi));
    wrong += p.gate.data()[i] != static_cast<S>(delta);
    wrong += dx.data()[i] != static_cast<S>(delta * dy.data()[i]);
  }
  CHECK(wrong == 0);
  CHECK(on > x.size() / 4);  // both states occur: the check is not vacuous
  CHECK(on < 3 * x.size() / 4);
  // the unit at exactly 0 is off: δ = 1(x > 0)
  Batch<S> zero(1, 1, 1, 1);
  zero.setZero();
  ReLU<S> r1;
  r1.configure(Shape{1, 1, 1});
  r1.forward(zero, y, p);
  CHECK(p.gate(0, 0, 0, 0) == S(0));
  // a NaN input stays NaN (the model's finite checks see it), its unit off
  zero(0, 0, 0, 0) = std::numeric_limits<S>::quiet_NaN();
  r1.forward(zero, y, p);
  CHECK(std::isnan(y(0, 0, 0, 0)));
  CHECK(p.gate(0, 0, 0, 0) == S(0));
  // an input of several elementwise blocks (each block its own loop)
  const Shape large{3, 100, 100};
  ReLU<S> r2;
  r2.configure(large);
  const Batch<S> xl = ref::random_batch<S>(large, 2, engine);
  REQUIRE(xl.size() > 3 * detail::elementwise_block);
  r2.forward(xl, y, p);
  wrong = 0;
  for (Index i = 0; i < xl.size(); ++i) {
    const S xi = xl.data()[i];
    wrong += y.data()[i] != (xi > 0 ? xi : S(0));
    wrong += p.gate.data()[i] != (xi > 0 ? S(1) : S(0));
  }
  CHECK(wrong == 0);
}

TEMPLATE_TEST_CASE("Softplus forward, its gate h' and its top-down pass equal the definition", "[layers][softplus]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 engine(32);
  const Shape shape{2, 6, 9};
  Softplus<S> sp;
  REQUIRE(sp.configure(shape) == shape);
  const Batch<S> x = ref::random_batch<S>(shape, 3, engine, 4.0);
  const Batch<S> dy = ref::random_batch<S>(shape, 3, engine);
  Batch<S> y, dx;
  LayerPattern<S> p;
  sp.forward(x, y, p);
  sp.backward(p, dy, dx);
  CHECK(p.smooth);
  Batch<double> ey(x.dimensions()), eg(x.dimensions()), edx(x.dimensions());
  for (Index i = 0; i < x.size(); ++i) {
    ey.data()[i] = ref::softplus(x.data()[i]);
    eg.data()[i] = ref::sigmoid(x.data()[i]);  // eq. 9.1
    edx.data()[i] = eg.data()[i] * dy.data()[i];
  }
  const double tol = std::is_same<S, float>::value ? 1e-6 : 1e-14;
  CHECK(ref::relative_error(y, ey) < tol);
  CHECK(ref::relative_error(p.gate, eg) < tol);
  CHECK(ref::relative_error(dx, edx) < tol);
}

TEMPLATE_TEST_CASE("Softplus is finite and accurate far out in both tails", "[layers][softplus]", float, double) {
  using S = TestType;
  // e^x overflows float near 88.7 and double near 709.8; the stable form must not.
  const S values[] = {S(-1000), S(-100), S(-30), S(-1e-3), S(0), S(1e-3), S(30), S(100), S(1000)};
  Batch<S> x(1, 1, 9, 1), y;
  for (int i = 0; i < 9; ++i) x(0, 0, i, 0) = values[i];
  Softplus<S> sp;
  sp.configure(Shape{1, 1, 9});
  LayerPattern<S> p;
  sp.forward(x, y, p);
  CHECK(all_finite(y));
  CHECK(all_finite(p.gate));
  for (int i = 0; i < 9; ++i) {
    CAPTURE(values[i]);
    CHECK(static_cast<double>(y(0, 0, i, 0)) == Approx(ref::softplus(values[i])).epsilon(1e-6).margin(1e-30));
    CHECK(static_cast<double>(p.gate(0, 0, i, 0)) == Approx(ref::sigmoid(values[i])).epsilon(1e-6).margin(1e-30));
  }
  CHECK(y(0, 0, 4, 0) == Approx(std::log(2.0)));
  CHECK(y(0, 0, 0, 0) >= S(0));
}

TEST_CASE("ReLU and Softplus gradients pass the finite-difference checker", "[layers][relu][softplus][gradient]") {
  std::mt19937_64 engine(33);
  const Shape shape{3, 8, 7};
  const auto relu = testing::check_layer_gradients(ReLU<double>{}, shape, 2, engine);
  INFO(relu.worst);
  CHECK(relu.passed);
  CHECK(relu.checked >= 290);   // of 300 sampled entries
  CHECK(relu.skipped <= 10);    // only units within 1e-6 of the kink
  const auto sp = testing::check_layer_gradients(Softplus<double>{}, shape, 2, engine);
  INFO(sp.worst);
  CHECK(sp.passed);
  CHECK(sp.checked == 300);
  CHECK(sp.skipped == 0);  // smooth: nothing is a kink
}

TEST_CASE("The gradient checker is not vacuous: it catches a wrong top-down pass", "[layers][gradient]") {
  // A ReLU whose top-down pass forgets to gate: dx = dy. The checker must fail it.
  struct LeakyBackward : ReLU<double> {
    void backward(const LayerPattern<double>&, const Batch<double>& dy, Batch<double>& dx) const { dx = dy; }
  };
  std::mt19937_64 engine(34);
  const auto r = testing::check_layer_gradients(LeakyBackward{}, Shape{2, 5, 5}, 2, engine);
  CHECK_FALSE(r.passed);
  CHECK(r.max_error > 0.1);
}

TEST_CASE("ReLU and Softplus reject an empty input shape", "[layers][relu][softplus][error]") {
  ReLU<double> relu;
  Softplus<float> sp;
  REQUIRE_ERROR(relu.configure(Shape{3, 0, 4}),
                Catch::Contains("ReLU::configure") && Catch::Contains("'input' is empty") && Catch::Contains("3x0x4"));
  REQUIRE_ERROR(sp.configure(Shape{0, 2, 4}), Catch::Contains("Softplus::configure") &&
                                                  Catch::Contains("'input' is empty") && Catch::Contains("0x2x4"));
}

TEST_CASE("LayerPattern counts flipped gates and moved switches, and smooth gates are not a piece", "[layers][pattern]") {
  LayerPattern<double> a, b;
  CHECK(a.empty());
  a.gate.resize(1, 2, 2, 1);
  a.gate.setValues({{{{1.0}, {0.0}}, {{1.0}, {1.0}}}});
  b = a;
  CHECK(a.count_differences(b) == 0);
  b.gate(0, 0, 1, 0) = 1.0;  // was 0
  CHECK(a.count_differences(b) == 1);
  a.switches.resize(1, 1, 2, 1);
  a.switches.setValues({{{{0}, {3}}}});
  b.switches = a.switches;
  b.switches(0, 0, 1, 0) = 2;
  CHECK(a.count_differences(b) == 2);
  LayerPattern<double> other_size;
  other_size.gate.resize(1, 3, 3, 1);
  CHECK(a.count_differences(other_size) == 9 + 2);
  a.smooth = b.smooth = true;
  CHECK(a.count_differences(b) == 1);  // only the switch
}
