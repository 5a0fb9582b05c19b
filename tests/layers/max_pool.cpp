// MaxPool (layers/max_pool.hpp): forward and switches against naive loops, the top-down routing,
// finite differences, ties and bad arguments.
#include <gconvnet/layers/max_pool.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "layers/reference.hpp"

using namespace gconvnet;

namespace {

struct PoolCase {
  Shape input;
  Index kernel, stride;
};

// Overlapping windows (stride < kernel), gaps (stride > kernel), stride = kernel, non-square inputs.
const std::vector<PoolCase> pool_cases = {
    {{2, 9, 9}, 3, 2}, {{3, 11, 8}, 2, 3}, {{1, 6, 10}, 2, 2}, {{4, 7, 5}, 3, 1}, {{2, 5, 5}, 5, 1},
};

}  // namespace

TEMPLATE_TEST_CASE("MaxPool forward and switches equal the naive window maximum", "[layers][maxpool]", float, double) {
  using S = TestType;
  std::mt19937_64 engine(21);
  for (const auto& pc : pool_cases) {
    CAPTURE(to_string(pc.input), pc.kernel, pc.stride);
    MaxPool<S> pool(pc.kernel, pc.stride);
    const Shape out = pool.configure(pc.input);
    const Batch<S> x = ref::random_batch<S>(pc.input, 3, engine);
    Batch<S> y;
    LayerPattern<S> pattern;
    pool.forward(x, y, pattern);
    Eigen::Tensor<Index, 5, Eigen::ColMajor> argmax;
    const Batch<double> expected = ref::max_pool(ref::to_double(x), pc.kernel, pc.stride, &argmax);
    REQUIRE(shape_of(y) == out);
    REQUIRE(shape_of(y) == shape_of(expected));
    CHECK(ref::relative_error(y, expected) == 0.0);  // a selection: exact
    CHECK(pattern.gate.size() == 0);
    REQUIRE(pattern.switches.size() == y.size());
    // switches are flat indices c + C·(row + H·column) within the image
    const Index C = pc.input.channels, H = pc.input.height;
    Index wrong = 0;
    for (Index n = 0; n < 3; ++n)
      for (Index v = 0; v < out.width; ++v)
        for (Index u = 0; u < out.height; ++u)
          for (Index c = 0; c < C; ++c)
            wrong += pattern.switches(c, u, v, n) != c + C * (argmax(0, c, u, v, n) + H * argmax(1, c, u, v, n));
    CHECK(wrong == 0);
  }
}

TEMPLATE_TEST_CASE("MaxPool top-down pass routes each unit to its switch and adds overlaps", "[layers][maxpool]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 engine(22);
  for (const auto& pc : pool_cases) {
    CAPTURE(to_string(pc.input), pc.kernel, pc.stride);
    MaxPool<S> pool(pc.kernel, pc.stride);
    const Shape out = pool.configure(pc.input);
    const Batch<S> x = ref::random_batch<S>(pc.input, 2, engine);
    Batch<S> y, dx;
    LayerPattern<S> pattern;
    pool.forward(x, y, pattern);
    const Batch<S> dy = ref::random_batch<S>(out, 2, engine);
    dx.resize(pc.input.channels, pc.input.height, pc.input.width, 2);
    dx.setConstant(S(99));  // must be overwritten, not accumulated into
    pool.backward(pattern, dy, dx);

    Eigen::Tensor<Index, 5, Eigen::ColMajor> argmax;
    ref::max_pool(ref::to_double(x), pc.kernel, pc.stride, &argmax);
    Batch<double> expected(pc.input.channels, pc.input.height, pc.input.width, 2);
    expected.setZero();
    for (Index n = 0; n < 2; ++n)
      for (Index v = 0; v < out.width; ++v)
        for (Index u = 0; u < out.height; ++u)
          for (Index c = 0; c < pc.input.channels; ++c)
            expected(c, argmax(0, c, u, v, n), argmax(1, c, u, v, n), n) += dy(c, u, v, n);
    CHECK(ref::relative_error(dx, expected) < (std::is_same<S, float>::value ? 1e-6 : 1e-15));
  }
}

TEST_CASE("MaxPool gradients pass the finite-difference checker", "[layers][maxpool][gradient]") {
  std::mt19937_64 engine(23);
  for (const auto& pc : pool_cases) {
    CAPTURE(to_string(pc.input), pc.kernel, pc.stride);
    const auto r = testing::check_layer_gradients(MaxPool<double>(pc.kernel, pc.stride), pc.input, 2, engine);
    INFO(r.worst);
    CHECK(r.passed);
    CHECK(r.checked == std::min<Index>(2 * pc.input.size(), 300));
    // continuous random inputs: a ±1e-6 step moves a switch only for near-ties, which are rare
    CHECK(r.skipped <= r.checked / 50);
  }
}

TEST_CASE("MaxPool breaks ties at the first maximum in window order", "[layers][maxpool]") {
  MaxPool<double> pool(2);
  REQUIRE(pool.configure(Shape{1, 2, 2}) == Shape{1, 1, 1});
  Batch<double> x(1, 2, 2, 1), y;
  x.setConstant(1.0);
  LayerPattern<double> p;
  pool.forward(x, y, p);
  CHECK(y(0, 0, 0, 0) == 1.0);
  CHECK(p.switches(0, 0, 0, 0) == 0);
  x(0, 1, 1, 0) = 2.0;  // row 1, column 1: flat index 0 + 1·(1 + 2·1) = 3
  pool.forward(x, y, p);
  CHECK(p.switches(0, 0, 0, 0) == 3);
  CHECK(pool.describe() == "MaxPool 2x2 stride 2");  // stride 0 means stride = kernel
  CHECK(pool.stride() == 2);
}

TEST_CASE("MaxPool rejects a zero kernel, a negative stride and a kernel larger than the input", "[layers][maxpool][error]") {
  REQUIRE_ERROR(MaxPool<double>(0),
                Catch::Contains("MaxPool::MaxPool") && Catch::Contains("'kernel' is 0") && Catch::Contains("expected >= 1"));
  REQUIRE_ERROR(MaxPool<double>(2, -1), Catch::Contains("MaxPool::MaxPool") && Catch::Contains("'stride' is -1") &&
                                            Catch::Contains("expected >= 1"));
  MaxPool<double> pool(5, 1);
  REQUIRE_ERROR(pool.configure(Shape{2, 4, 9}), Catch::Contains("MaxPool::configure") && Catch::Contains("kernel 5x5") &&
                                                    Catch::Contains("larger than the input 2x4x9"));
  REQUIRE_ERROR(pool.configure(Shape{2, 0, 9}),
                Catch::Contains("MaxPool::configure") && Catch::Contains("'input' is empty") && Catch::Contains("2x0x9"));
}
