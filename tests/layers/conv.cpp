// Conv (layers/conv.hpp): forward, top-down pass, parameter gradient and bias term against naive loops
// and finite differences; the adjoint identity; bad arguments.
#include <gconvnet/layers/conv.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "layers/reference.hpp"

using namespace gconvnet;

namespace {

struct ConvCase {
  Shape input;
  Index filters, kernel, stride, padding;
};

// Stride and padding, a non-square input, several channels, 1×1, stride larger than the kernel, and
// kernels over the whole (padded) input.
const std::vector<ConvCase> conv_cases = {
    {{1, 5, 5}, 1, 3, 1, 0},  {{3, 9, 7}, 4, 3, 2, 1},  {{2, 8, 11}, 5, 4, 3, 2},
    {{3, 10, 6}, 2, 1, 1, 0}, {{2, 11, 12}, 3, 2, 3, 0}, {{4, 7, 9}, 3, 5, 1, 2},
    {{3, 6, 6}, 2, Conv<double>::whole_input, 1, 0},       {{2, 5, 7}, 3, Conv<double>::whole_input, 1, 1},
};

template <class S>
ref::Weights weights_of(const Conv<S>& c) {
  return c.weights().template cast<double>();
}

template <class S>
double tolerance() {
  return std::is_same<S, float>::value ? 2e-5 : 1e-12;
}

}  // namespace

TEMPLATE_TEST_CASE("Conv forward equals the naive convolution loop", "[layers][conv]", float, double) {
  using S = TestType;
  std::mt19937_64 engine(11);
  for (const auto& cc : conv_cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding);
    auto conv = Conv<S>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    const Shape out = conv.configure(cc.input);
    ref::fill_normal(conv.weights(), engine);
    ref::fill_normal(conv.bias(), engine);
    const Batch<S> x = ref::random_batch<S>(cc.input, 3, engine);
    Batch<S> y;
    LayerPattern<S> pattern;
    conv.forward(x, y, pattern);

    const Batch<double> expected =
        ref::conv(ref::to_double(x), weights_of(conv), conv.bias().template cast<double>(), cc.stride, cc.padding);
    REQUIRE(shape_of(y) == shape_of(expected));
    REQUIRE(shape_of(y) == out);
    REQUIRE(batch_size(y) == 3);
    CHECK(pattern.empty());
    CHECK(ref::relative_error(y, expected) < tolerance<S>());
  }
}

TEMPLATE_TEST_CASE("Conv top-down pass equals the naive transposed convolution", "[layers][conv]", float, double) {
  using S = TestType;
  std::mt19937_64 engine(12);
  for (const auto& cc : conv_cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding);
    auto conv = Conv<S>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    const Shape out = conv.configure(cc.input);
    ref::fill_normal(conv.weights(), engine);
    const Batch<S> dy = ref::random_batch<S>(out, 2, engine);
    Batch<S> dx;
    conv.backward(LayerPattern<S>{}, dy, dx);
    const Batch<double> expected =
        ref::conv_transpose(ref::to_double(dy), weights_of(conv), cc.input, cc.stride, cc.padding);
    REQUIRE(shape_of(dx) == cc.input);
    CHECK(ref::relative_error(dx, expected) < tolerance<S>());
  }
}

TEST_CASE("Conv top-down pass is the adjoint of its linear part: <Conv(x), y> = <x, backward(y)>", "[layers][conv]") {
  std::mt19937_64 engine(13);
  for (const auto& cc : conv_cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding);
    auto conv = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    const Shape out = conv.configure(cc.input);
    ref::fill_normal(conv.weights(), engine);
    conv.bias().setZero();  // the linear part
    const Batch<double> x = ref::random_batch<double>(cc.input, 2, engine);
    const Batch<double> y = ref::random_batch<double>(out, 2, engine);
    Batch<double> cx, bty;
    LayerPattern<double> pattern;
    conv.forward(x, cx, pattern);
    conv.backward(pattern, y, bty);
    const double lhs = as_vector(cx).dot(as_vector(y));
    const double rhs = as_vector(x).dot(as_vector(bty));
    const double scale = as_vector(cx).norm() * as_vector(y).norm();
    CHECK(std::abs(lhs - rhs) <= 1e-12 * scale);
  }
}

TEST_CASE("Conv parameter gradient and bias term equal their naive sums", "[layers][conv]") {
  // ∂⟨dy, y⟩/∂w(k,c,i,j) = Σ dy(k,u,v,n)·x(c, u·s−p+i, v·s−p+j, n); ∂/∂b_k = Σ dy(k,·,·,·);
  // bias_term(dy, n) = Σ_k b_k Σ_{u,v} dy(k,u,v,n).
  std::mt19937_64 engine(14);
  const ConvCase cc{{3, 9, 8}, 4, 3, 2, 1};
  auto conv = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
  const Shape out = conv.configure(cc.input);
  ref::fill_normal(conv.weights(), engine);
  ref::fill_normal(conv.bias(), engine);
  const Batch<double> x = ref::random_batch<double>(cc.input, 2, engine);
  const Batch<double> dy = ref::random_batch<double>(out, 2, engine);
  Batch<double> y;
  LayerPattern<double> pattern;
  conv.forward(x, y, pattern);
  std::vector<Vector<double>> blocks = {Vector<double>::Constant(conv.parameter(0).size(), 1.0),
                                        Vector<double>::Constant(cc.filters, 1.0)};
  conv.accumulate_gradient(dy, 0.5, blocks.data());  // accumulates: 1 + 0.5·gradient

  ref::Weights gw(cc.filters, 3, 3, 3);
  gw.setZero();
  Vector<double> gb = Vector<double>::Zero(cc.filters);
  for (Index n = 0; n < 2; ++n)
    for (Index v = 0; v < out.width; ++v)
      for (Index u = 0; u < out.height; ++u)
        for (Index k = 0; k < cc.filters; ++k) {
          gb(k) += dy(k, u, v, n);
          for (Index j = 0; j < 3; ++j)
            for (Index i = 0; i < 3; ++i)
              for (Index c = 0; c < 3; ++c) {
                const Index h = u * 2 - 1 + i, w = v * 2 - 1 + j;
                if (h >= 0 && h < 9 && w >= 0 && w < 8) gw(k, c, i, j) += dy(k, u, v, n) * x(c, h, w, n);
              }
        }
  Vector<double> expected_w = Vector<double>::Ones(gw.size()) + 0.5 * as_vector(gw);
  CHECK(ref::relative_error(blocks[0], expected_w) < 1e-12);
  CHECK(ref::relative_error(blocks[1], (Vector<double>::Ones(cc.filters) + 0.5 * gb).eval()) < 1e-12);

  for (Index n = 0; n < 2; ++n) {
    double expected = 0;
    for (Index v = 0; v < out.width; ++v)
      for (Index u = 0; u < out.height; ++u)
        for (Index k = 0; k < cc.filters; ++k) expected += conv.bias()(k) * dy(k, u, v, n);
    CHECK(conv.bias_term(dy, n) == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("Conv gradients pass the finite-difference checker", "[layers][conv][gradient]") {
  std::mt19937_64 engine(15);
  for (const auto& cc : conv_cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding);
    const auto r = testing::check_layer_gradients(Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding),
                                                  cc.input, 2, engine);
    INFO(r.worst);
    CHECK(r.passed);
    CHECK(r.max_error < 1e-6);
    CHECK(r.skipped == 0);  // a convolution has no pattern: nothing to skip
    // every input entry, weight and bias is compared (each tensor capped at max_entries = 300)
    auto probe = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    probe.configure(cc.input);
    const Index expected = std::min<Index>(cc.input.size() * 2, 300) +
                           std::min<Index>(probe.parameter(0).size(), 300) + cc.filters;
    CHECK(r.checked == expected);
  }
}

TEST_CASE("Conv's named options: defaults, chained on a temporary or a variable, read back", "[layers][conv]") {
  const Conv<float> plain(8, 5);
  CHECK(plain.filters() == 8);
  CHECK(plain.stride() == 1);
  CHECK(plain.padding() == 0);
  CHECK(plain.in_channels() == 0);
  // On a temporary the setters return Conv&&, so the chain moves into a variable or a model.
  static_assert(std::is_same_v<decltype(Conv<float>(8, 5).stride(2)), Conv<float>&&>);
  const auto chained = Conv<float>(8, 5).padding(2).stride(3).in_channels(3);
  CHECK(chained.stride() == 3);
  CHECK(chained.padding() == 2);
  CHECK(chained.in_channels() == 3);
  // On a variable they return Conv& and change it in place; the order does not matter.
  Conv<float> c(8, 5);
  static_assert(std::is_same_v<decltype(c.stride(2)), Conv<float>&>);
  CHECK(&c.stride(3).padding(2).in_channels(3) == &c);
  CHECK(c.describe() == chained.describe());
  CHECK(c.describe() == "Conv 8 5x5 stride 3 pad 2");
  Shape in{3, 20, 20};
  CHECK(c.configure(in) == (Shape{8, 7, 7}));  // (20 + 4 − 5)/3 + 1
  // Once configured (in a model), the geometry is fixed.
  REQUIRE_ERROR(c.stride(1), Catch::Contains("Conv::stride: the layer is already configured (Conv 8 5x5 stride 3 pad 2)"));
  REQUIRE_ERROR(c.padding(0), Catch::Contains("Conv::padding: the layer is already configured"));
  REQUIRE_ERROR(c.in_channels(0), Catch::Contains("Conv::in_channels: the layer is already configured"));
  CHECK(c.stride() == 3);
  CHECK(c.padding() == 2);
  // A refused value leaves the option as it was.
  Conv<float> d(4, 3);
  REQUIRE_ERROR(d.stride(0), Catch::Contains("Conv::stride"));
  CHECK(d.stride() == 1);
}

TEST_CASE("Conv output shapes, fully connected kernels, parameters and MACs", "[layers][conv]") {
  auto c = Conv<float>(5, 4).stride(3).padding(2);
  // (11 + 4 − 4)/3 + 1 = 4 (floor), (8 + 4 − 4)/3 + 1 = 3
  CHECK(c.configure(Shape{2, 11, 8}) == Shape{5, 4, 3});
  CHECK(c.kernel_height() == 4);
  CHECK(c.kernel_width() == 4);
  CHECK(c.macs() == 5 * 4 * 3 * (2 * 4 * 4));
  const auto w = c.parameter(0);
  CHECK(w.name == "weight");
  CHECK_FALSE(w.is_bias);
  CHECK(w.dims == std::vector<Index>{5, 2, 4, 4});
  CHECK(w.data == c.weights().data());
  const auto b = c.parameter(1);
  CHECK(b.name == "bias");
  CHECK(b.is_bias);
  CHECK(b.dims == std::vector<Index>{5});
  CHECK(c.describe() == "Conv 5 4x4 stride 3 pad 2");

  auto fc = Conv<double>::fully_connected(7);
  CHECK(fc.describe() == "Conv 7 whole stride 1 pad 0");
  CHECK(fc.configure(Shape{3, 6, 9}) == Shape{7, 1, 1});
  CHECK(fc.kernel_height() == 6);
  CHECK(fc.kernel_width() == 9);
  CHECK(fc.parameter(0).dims == std::vector<Index>{7, 3, 6, 9});

  // Configuring again with the same input keeps the weights; a new input shape re-zeroes them.
  fc.weights().setConstant(2.0);
  fc.configure(Shape{3, 6, 9});
  CHECK(fc.weights()(0, 0, 0, 0) == 2.0);
  fc.configure(Shape{3, 5, 9});
  CHECK(fc.weights()(0, 0, 0, 0) == 0.0);
}

TEST_CASE("Conv rejects zero stride, zero filters, bad kernel and padding with a message", "[layers][conv][error]") {
  REQUIRE_ERROR(Conv<double>(4, 3).stride(0),
                Catch::Contains("Conv::stride") && Catch::Contains("'stride'") && Catch::Contains("is 0") &&
                    Catch::Contains("expected >= 1"));
  REQUIRE_ERROR(Conv<double>(0, 3),
                Catch::Contains("Conv::Conv") && Catch::Contains("'filters'") && Catch::Contains("is 0") &&
                    Catch::Contains("expected >= 1"));
  REQUIRE_ERROR(Conv<double>(4, 0),
                Catch::Contains("Conv::Conv") && Catch::Contains("'kernel'") && Catch::Contains("is 0") &&
                    Catch::Contains("expected >= 1"));
  REQUIRE_ERROR(Conv<double>(4, 3).padding(-1),
                Catch::Contains("Conv::padding") && Catch::Contains("'padding'") && Catch::Contains("is -1") &&
                    Catch::Contains("expected >= 0"));
  REQUIRE_ERROR(Conv<double>(4, 3).in_channels(-2),
                Catch::Contains("Conv::in_channels") && Catch::Contains("'in_channels'") && Catch::Contains("is -2"));
}

TEST_CASE("Conv::configure rejects a kernel larger than the padded input", "[layers][conv][error]") {
  auto c = Conv<double>(4, 7).padding(1);
  REQUIRE_ERROR(c.configure(Shape{3, 4, 9}), Catch::Contains("Conv::configure") && Catch::Contains("kernel 7x7") &&
                                                 Catch::Contains("larger than the padded input 6x11") &&
                                                 Catch::Contains("3x4x9"));
  // Exactly the padded size is fine: one output row.
  CHECK(Conv<double>(4, 6).padding(1).configure(Shape{3, 4, 9}) == Shape{4, 1, 6});
}

TEST_CASE("Conv::configure rejects an input whose channels differ from the declared in_channels", "[layers][conv][error]") {
  auto c = Conv<double>(4, 3).in_channels(3);
  REQUIRE_ERROR(c.configure(Shape{1, 8, 8}), Catch::Contains("Conv::configure") && Catch::Contains("'input'") &&
                                                 Catch::Contains("has 1 channels") &&
                                                 Catch::Contains("layer expects 3"));
  CHECK(c.configure(Shape{3, 8, 8}) == Shape{4, 6, 6});
  REQUIRE_ERROR(Conv<double>(4, 3).configure(Shape{0, 8, 8}),
                Catch::Contains("Conv::configure") && Catch::Contains("'input' is empty") && Catch::Contains("0x8x8"));
}
