// Conv with circular padding (PaddingMode::circular, the periodic boundary): forward, top-down pass
// and weight gradient against naive periodic loops on both compute paths (im2col and Winograd), finite
// differences, the adjoint identity, translation equivariance on the torus, describe(), and the checks
// of the torus geometry.
#include <gconvnet/layers/conv.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "layers/reference.hpp"

using namespace gconvnet;

namespace {

struct TorusCase {
  Shape input;
  Index filters, kernel, stride, padding;
};

// Odd sizes and strides; kernels larger than the input; the polyphase kernels ⌈k/s⌉ = 3, 5, 7 of the
// Winograd path and kernels it does not take (3 at stride 3, 4 at stride 3, 9 at stride 1), p = H.
const std::vector<TorusCase> torus_cases = {
    {{1, 5, 5}, 2, 3, 1, 1},   {{2, 7, 9}, 3, 5, 1, 2},   {{3, 9, 15}, 2, 7, 3, 2},  {{2, 15, 9}, 3, 9, 3, 4},
    {{1, 21, 15}, 2, 15, 3, 6}, {{2, 10, 6}, 3, 5, 2, 2},  {{3, 9, 9}, 4, 3, 3, 1},   {{3, 6, 9}, 2, 4, 3, 1},
    {{1, 3, 3}, 2, 5, 1, 2},   {{1, 4, 4}, 2, 9, 1, 4},   {{2, 5, 7}, 3, 1, 1, 0},   {{2, 7, 7}, 2, 7, 1, 3},
};

Conv<double> circular(const TorusCase& c) {
  return Conv<double>(c.filters, c.kernel).stride(c.stride).padding(c.padding, PaddingMode::circular);
}

template <class S>
Conv<S> circular_as(const TorusCase& c) {
  return Conv<S>(c.filters, c.kernel).stride(c.stride).padding(c.padding, PaddingMode::circular);
}

template <class S>
double tolerance() {
  return std::is_same<S, float>::value ? 2e-5 : 1e-12;
}

// Rolls every image of x by (dh, dw) on the torus: out(c, h, w) = x(c, (h − dh) mod H, (w − dw) mod W).
Batch<double> roll(const Batch<double>& x, Index dh, Index dw) {
  Batch<double> out(x.dimensions());
  const Index H = x.dimension(1), W = x.dimension(2);
  for (Index n = 0; n < x.dimension(3); ++n)
    for (Index w = 0; w < W; ++w)
      for (Index h = 0; h < H; ++h)
        for (Index c = 0; c < x.dimension(0); ++c)
          out(c, h, w, n) = x(c, ref::wrap_index(h - dh, H), ref::wrap_index(w - dw, W), n);
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("Circular Conv equals the naive periodic loops on both paths (forward, top-down, weight gradient)",
                   "[layers][conv][circular]", float, double) {
  using S = TestType;
  std::mt19937_64 engine(31);
  Index winograd_cases = 0;
  for (const auto& cc : torus_cases) {
    for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
      CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding, static_cast<int>(algorithm));
      Conv<S> conv = circular_as<S>(cc);
      conv.set_algorithm(algorithm);
      const Shape out = conv.configure(cc.input);
      REQUIRE(out == Shape{cc.filters, cc.input.height / cc.stride, cc.input.width / cc.stride});
      if (algorithm == ConvAlgorithm::im2col) CHECK(conv.active_algorithm() == ConvAlgorithm::im2col);
      if (conv.active_algorithm() == ConvAlgorithm::winograd) ++winograd_cases;
      ref::fill_normal(conv.weights(), engine);
      ref::fill_normal(conv.bias(), engine);
      const ref::Weights w = conv.weights().template cast<double>();
      const Batch<S> x = ref::random_batch<S>(cc.input, 3, engine);

      Batch<S> y;
      LayerPattern<S> pattern;
      conv.forward(x, y, pattern);
      const Batch<double> expected =
          ref::conv_periodic(ref::to_double(x), w, conv.bias().template cast<double>(), cc.stride, cc.padding);
      REQUIRE(shape_of(y) == out);
      CHECK(ref::relative_error(y, expected) < tolerance<S>());

      const Batch<S> dy = ref::random_batch<S>(out, 3, engine);
      Batch<S> dx;
      conv.backward(pattern, dy, dx);
      REQUIRE(shape_of(dx) == cc.input);
      CHECK(ref::relative_error(dx, ref::conv_periodic_transpose(ref::to_double(dy), w, cc.input, cc.stride,
                                                                 cc.padding)) < tolerance<S>());

      std::vector<Vector<S>> blocks = {Vector<S>::Zero(conv.parameter(0).size()), Vector<S>::Zero(cc.filters)};
      conv.accumulate_gradient(dy, S(1), blocks.data());
      const ref::Weights gw = ref::conv_periodic_weight_gradient(ref::to_double(x), ref::to_double(dy), cc.kernel,
                                                                 cc.kernel, cc.stride, cc.padding);
      CHECK(ref::relative_error(blocks[0], gw) < tolerance<S>());
      Vector<double> gb = Vector<double>::Zero(cc.filters);
      for (Index n = 0; n < 3; ++n)
        for (Index v = 0; v < out.width; ++v)
          for (Index u = 0; u < out.height; ++u)
            for (Index k = 0; k < cc.filters; ++k) gb(k) += static_cast<double>(dy(k, u, v, n));
      CHECK(ref::relative_error(blocks[1], gb) < tolerance<S>());
    }
  }
  // the Winograd path ran on the cases whose polyphase kernel it takes (3, 5 and 7)
  CHECK(winograd_cases == 8);
}

TEST_CASE("Circular Conv: the top-down pass is the adjoint of the forward pass's linear part",
          "[layers][conv][circular]") {
  std::mt19937_64 engine(32);
  for (const auto& cc : torus_cases) {
    for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
      CAPTURE(to_string(cc.input), cc.kernel, cc.stride, cc.padding, static_cast<int>(algorithm));
      Conv<double> conv = circular(cc);
      conv.set_algorithm(algorithm);
      const Shape out = conv.configure(cc.input);
      ref::fill_normal(conv.weights(), engine);
      const Batch<double> x = ref::random_batch<double>(cc.input, 2, engine);
      const Batch<double> y = ref::random_batch<double>(out, 2, engine);
      Batch<double> cx, bty;
      LayerPattern<double> pattern;
      conv.forward(x, cx, pattern);
      conv.backward(pattern, y, bty);
      const double lhs = as_vector(cx).dot(as_vector(y)), rhs = as_vector(x).dot(as_vector(bty));
      CHECK(std::abs(lhs - rhs) <= 1e-12 * as_vector(cx).norm() * as_vector(y).norm());
    }
  }
}

TEST_CASE("Circular Conv gradients pass the finite-difference checker", "[layers][conv][circular][gradient]") {
  std::mt19937_64 engine(33);
  for (const auto& cc : torus_cases) {
    CAPTURE(to_string(cc.input), cc.kernel, cc.stride, cc.padding);
    const auto r = testing::check_layer_gradients(circular(cc), cc.input, 2, engine);
    INFO(r.worst);
    CHECK(r.passed);
    CHECK(r.max_error < 1e-6);
    CHECK(r.skipped == 0);
    Conv<double> probe = circular(cc);
    probe.configure(cc.input);
    CHECK(r.checked == std::min<Index>(cc.input.size() * 2, 300) + std::min<Index>(probe.parameter(0).size(), 300) +
                           cc.filters);
  }
}

TEST_CASE("Circular Conv is translation equivariant on the torus: rolling the input by the stride rolls the output",
          "[layers][conv][circular]") {
  std::mt19937_64 engine(34);
  for (const auto& cc : torus_cases) {
    for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
      CAPTURE(to_string(cc.input), cc.kernel, cc.stride, cc.padding, static_cast<int>(algorithm));
      Conv<double> conv = circular(cc);
      conv.set_algorithm(algorithm);
      conv.configure(cc.input);
      ref::fill_normal(conv.weights(), engine);
      ref::fill_normal(conv.bias(), engine);
      const Batch<double> x = ref::random_batch<double>(cc.input, 2, engine);
      Batch<double> y, y_rolled;
      LayerPattern<double> pattern;
      conv.forward(x, y, pattern);
      // by (s, 2s) pixels → by (1, 2) outputs
      conv.forward(roll(x, cc.stride, 2 * cc.stride), y_rolled, pattern);
      CHECK(ref::relative_error(y_rolled, roll(y, 1, 2)) < 1e-12);
    }
  }
  // the check can fail: zero padding is not equivariant on the torus
  Conv<double> zero = Conv<double>(2, 5).padding(2);
  zero.configure(Shape{1, 7, 7});
  ref::fill_normal(zero.weights(), engine);
  const Batch<double> x = ref::random_batch<double>(Shape{1, 7, 7}, 1, engine);
  Batch<double> y, y_rolled;
  LayerPattern<double> pattern;
  zero.forward(x, y, pattern);
  zero.forward(roll(x, 1, 2), y_rolled, pattern);
  CHECK(ref::relative_error(y_rolled, roll(y, 1, 2)) > 1e-3);
}

TEST_CASE("Circular Conv differs from zero padding only at the border", "[layers][conv][circular]") {
  std::mt19937_64 engine(35);
  Conv<double> zero = Conv<double>(3, 5).padding(2);
  Conv<double> torus = Conv<double>(3, 5).padding(2, PaddingMode::circular);
  CHECK(zero.configure(Shape{2, 9, 11}) == torus.configure(Shape{2, 9, 11}));
  ref::fill_normal(zero.weights(), engine);
  ref::fill_normal(zero.bias(), engine);
  torus.weights() = zero.weights();
  torus.bias() = zero.bias();
  const Batch<double> x = ref::random_batch<double>(Shape{2, 9, 11}, 2, engine);
  Batch<double> yz, yt;
  LayerPattern<double> pattern;
  zero.forward(x, yz, pattern);
  torus.forward(x, yt, pattern);
  for (Index n = 0; n < 2; ++n)
    for (Index v = 0; v < 11; ++v)
      for (Index u = 0; u < 9; ++u)
        for (Index k = 0; k < 3; ++k) {
          const bool interior = u >= 2 && u < 7 && v >= 2 && v < 9;
          if (interior)
            CHECK(yt(k, u, v, n) == Approx(yz(k, u, v, n)).epsilon(1e-12).margin(1e-12));  // sums of 50 terms of ~1
          else
            CHECK(std::abs(yt(k, u, v, n) - yz(k, u, v, n)) > 1e-6);
        }
}

TEST_CASE("Circular Conv: setter, describe and workspace", "[layers][conv][circular]") {
  Conv<float> c = Conv<float>(5, 3).padding(7).padding(1, PaddingMode::circular);
  CHECK(c.padding() == 1);
  CHECK(c.padding_mode() == PaddingMode::circular);
  CHECK(c.describe() == "Conv 5 3x3 stride 1 pad 1 circular");
  CHECK(Conv<float>(5, 4).stride(3).padding(2).padding_mode() == PaddingMode::zero);
  // zero padding describes itself exactly as before (checkpoints store this text)
  CHECK(Conv<float>(5, 4).stride(3).padding(2, PaddingMode::zero).describe() == "Conv 5 4x4 stride 3 pad 2");
  CHECK(c.configure(Shape{2, 8, 8}) == Shape{5, 8, 8});
  // the padded copy of the input and of its gradient are kept
  Batch<float> x = make_batch<float>(Shape{2, 8, 8}, 2), y, dx;
  x.setConstant(1.0f);
  LayerPattern<float> pattern;
  c.set_algorithm(ConvAlgorithm::im2col);
  c.forward(x, y, pattern);
  c.backward(pattern, y, dx);
  CHECK(c.workspace_size() >= 2 * (2 * 10 * 10 * 2));
}

TEST_CASE("Circular Conv refuses a geometry that does not tile the torus", "[layers][conv][circular][error]") {
  REQUIRE_ERROR(Conv<double>(4, 3).padding(-1, PaddingMode::circular),
                Catch::Contains("Conv::padding: argument 'padding' is -1, expected >= 0"));
  // p larger than the input
  REQUIRE_ERROR((Conv<double>(2, 9).padding(4, PaddingMode::circular).configure(Shape{1, 3, 5})),
                Catch::Equals("Conv::configure: argument 'padding' is 4 (circular), larger than the input 1x3x5; "
                              "expected at most 3"));
  // a height that is not a multiple of the stride
  REQUIRE_ERROR((Conv<double>(2, 5).stride(2).padding(2, PaddingMode::circular).configure(Shape{1, 9, 8})),
                Catch::Equals("Conv::configure: argument 'input' is 1x9x8; circular padding at stride 2 needs a height "
                              "and width that are multiples of the stride"));
  // the paper's first layer, conv:100:15:3:2, on the torus: the output would be 69, expected 72
  REQUIRE_ERROR((Conv<double>(3, 15).stride(3).padding(2, PaddingMode::circular).configure(Shape{1, 216, 216})),
                Catch::Equals("Conv::configure: argument 'padding' is 2 (circular): kernel 15x15 at stride 3 gives a "
                              "69x69 output on the input 1x216x216, expected 72x72 (one output per stride on the "
                              "torus); use padding 6 to 7"));
  REQUIRE_ERROR((Conv<double>(3, 3).padding(2, PaddingMode::circular).configure(Shape{1, 8, 8})),
                Catch::EndsWith("gives a 10x10 output on the input 1x8x8, expected 8x8 (one output per stride on the "
                                "torus); use padding 1"));
  REQUIRE_ERROR((Conv<double>(3, 4).padding(2, PaddingMode::circular).configure(Shape{1, 8, 8})),
                Catch::EndsWith("use an odd kernel or a stride >= 2 (no padding tiles the torus with kernel 4 at "
                                "stride 1)"));
  // a kernel over the whole input does not tile the torus (one output)
  REQUIRE_ERROR((Conv<double>::fully_connected(2).padding(0, PaddingMode::circular).configure(Shape{1, 4, 6})),
                Catch::Contains("kernel 4x6 at stride 1 gives a 1x1 output on the input 1x4x6, expected 4x6") &&
                    Catch::Contains("kernel 4 at stride 1) (height) and an odd kernel"));
  // every padding of the stated range works
  for (Index p : {6, 7}) CHECK(Conv<double>(3, 15).stride(3).padding(p, PaddingMode::circular).configure(Shape{1, 216, 216}) ==
                               Shape{3, 72, 72});
}
