// Conv's fast path (layers/detail/winograd.hpp, layers/detail/fast_conv.hpp): Winograd F(m×m, r×r)
// with polyphase decomposition of strided kernels must compute the same function as the im2col path
// and as naive loops — bottom-up, top-down and weight gradient — in double to 1e-10 (relative to the
// largest entry) and in float to the tolerance stated below; results must not depend on the thread
// count; and Theorem 1 must hold on the paper's net with every convolution on the fast path.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/layers/detail/fast_conv.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <catch2/catch.hpp>

using namespace gconvnet;

namespace {

using Weights = Eigen::Tensor<double, 4, Eigen::ColMajor>;

// Largest |a − b| over the largest |b| (b the reference).
template <class A, class B>
double relative_error(const A& a, const B& b) {
  const auto av = as_vector(a).template cast<double>();
  const auto bv = as_vector(b).template cast<double>();
  const double scale = bv.cwiseAbs().maxCoeff();
  return (av - bv).cwiseAbs().maxCoeff() / (scale > 0 ? scale : 1.0);
}

// y(k,u,v,n) = b_k + Σ_{c,i,j} w(k,c,i,j)·x(c, u·s − p + i, v·s − p + j, n): naive loops.
Batch<double> naive_conv(const Batch<double>& x, const Weights& w, const Vector<double>& b, Index s, Index p) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index K = w.dimension(0), r = w.dimension(2);
  const Index Ho = (H + 2 * p - r) / s + 1, Wo = (W + 2 * p - r) / s + 1;
  Batch<double> y(K, Ho, Wo, N);
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k) {
          double acc = b(k);
          for (Index j = 0; j < r; ++j)
            for (Index i = 0; i < r; ++i)
              for (Index c = 0; c < C; ++c) {
                const Index h = u * s - p + i, q = v * s - p + j;
                if (h >= 0 && h < H && q >= 0 && q < W) acc += w(k, c, i, j) * x(c, h, q, n);
              }
          y(k, u, v, n) = acc;
        }
  return y;
}

// The transposed convolution (top-down pass) and the weight gradient, naive loops.
Batch<double> naive_conv_transpose(const Batch<double>& dy, const Weights& w, const Shape& in, Index s, Index p) {
  const Index K = dy.dimension(0), Ho = dy.dimension(1), Wo = dy.dimension(2), N = dy.dimension(3);
  const Index r = w.dimension(2);
  Batch<double> dx(in.channels, in.height, in.width, N);
  dx.setZero();
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < r; ++j)
            for (Index i = 0; i < r; ++i)
              for (Index c = 0; c < in.channels; ++c) {
                const Index h = u * s - p + i, q = v * s - p + j;
                if (h >= 0 && h < in.height && q >= 0 && q < in.width) dx(c, h, q, n) += w(k, c, i, j) * dy(k, u, v, n);
              }
  return dx;
}

Weights naive_weight_gradient(const Batch<double>& x, const Batch<double>& dy, Index r, Index s, Index p) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index K = dy.dimension(0), Ho = dy.dimension(1), Wo = dy.dimension(2);
  Weights g(K, C, r, r);
  g.setZero();
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < r; ++j)
            for (Index i = 0; i < r; ++i)
              for (Index c = 0; c < C; ++c) {
                const Index h = u * s - p + i, q = v * s - p + j;
                if (h >= 0 && h < H && q >= 0 && q < W) g(k, c, i, j) += dy(k, u, v, n) * x(c, h, q, n);
              }
  return g;
}

template <class S, int R, class Engine>
void fill_normal(Eigen::Tensor<S, R, Eigen::ColMajor>& t, Engine& engine) {
  std::normal_distribution<double> normal(0.0, 1.0);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<S>(normal(engine));
}

struct Case {
  Shape input;
  Index filters, kernel, stride, padding, batch;
};

// Odd and even sizes, padding 0..r−1 (and beyond, where the top-down pass takes the other route),
// channels 1..7, batch 1..3; strided kernels whose polyphase kernel ⌈r/s⌉ is 3 or 5 (kernels that are
// not multiples of the stride exercise the zero-extended phases).
const std::vector<Case> cases = {
    {{1, 7, 9}, 2, 3, 1, 0, 1},   {{3, 9, 6}, 4, 3, 1, 1, 2},   {{5, 6, 11}, 3, 3, 1, 2, 3},
    {{2, 5, 5}, 7, 3, 1, 3, 1},   {{4, 9, 11}, 3, 5, 1, 0, 2},  {{7, 12, 7}, 2, 5, 1, 2, 1},
    {{2, 8, 9}, 5, 5, 1, 4, 3},   {{6, 10, 13}, 4, 5, 1, 1, 2}, {{3, 11, 10}, 1, 5, 1, 3, 1},
    {{3, 26, 29}, 4, 15, 3, 2, 2}, {{2, 20, 17}, 3, 9, 3, 1, 1}, {{1, 13, 14}, 6, 6, 2, 0, 2},
    {{3, 15, 12}, 2, 5, 2, 2, 3}, {{4, 19, 16}, 3, 7, 3, 3, 1}, {{2, 22, 21}, 3, 10, 2, 4, 2},
    {{3, 3, 4}, 2, 3, 1, 0, 1},   {{2, 10, 9}, 3, 7, 1, 3, 2},
};

// Conv and the three products of the fast path at output tile m (0: the layer's own choice).
template <class S>
struct FastResult {
  Batch<S> y, dx;
  Vector<S> gw;
  bool fast = false;
};

template <class S>
FastResult<S> run_fast(const Case& cc, const Weights& w, const Vector<double>& b, const Batch<double>& x,
                       const Batch<double>& dy, int m) {
  auto conv = Conv<S>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
  const Shape out = conv.configure(cc.input);
  conv.weights() = w.cast<S>();
  conv.bias() = b.cast<S>();
  FastResult<S> r;
  const Batch<S> xs = x.cast<S>(), dys = dy.cast<S>();
  if (m == 0) {
    conv.set_algorithm(ConvAlgorithm::winograd);
    r.fast = conv.active_algorithm() == ConvAlgorithm::winograd;
    LayerPattern<S> pattern;
    conv.forward(xs, r.y, pattern);
    conv.backward(pattern, dys, r.dx);
    Vector<S> blocks[2] = {Vector<S>::Zero(w.size()), Vector<S>::Zero(cc.filters)};
    conv.accumulate_gradient(dys, S(1), blocks);
    r.gw = blocks[0];
    return r;
  }
  detail::WinogradConv<S> fast;
  r.fast = detail::WinogradConv<S>::applicable(cc.kernel, cc.kernel, cc.stride, m);
  if (!r.fast) return r;
  fast.plan(cc.input, out, cc.kernel, cc.stride, cc.padding, m);
  fast.forward(conv.weights().data(), conv.bias().data(), xs, r.y);
  fast.backward(conv.weights().data(), dys, r.dx);
  r.gw = Vector<S>::Zero(w.size());
  fast.accumulate_gradient(dys, S(1), r.gw.data());
  return r;
}

}  // namespace

TEST_CASE("Winograd transforms F(m, r) compute the 1-D correlation exactly", "[perf_paths][winograd]") {
  std::mt19937_64 engine(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (auto [m, r] : std::vector<std::pair<int, int>>{{2, 3}, {2, 5}, {2, 7}, {4, 3}, {4, 5}, {6, 3}}) {
    CAPTURE(m, r);
    const auto t = detail::winograd_matrices(m, r);
    REQUIRE(t.alpha == m + r - 1);
    std::vector<double> g(static_cast<std::size_t>(r)), d(static_cast<std::size_t>(t.alpha));
    for (auto& v : g) v = normal(engine);
    for (auto& v : d) v = normal(engine);
    for (int i = 0; i < m; ++i) {
      double expected = 0, got = 0;
      for (int k = 0; k < r; ++k) expected += g[static_cast<std::size_t>(k)] * d[static_cast<std::size_t>(i + k)];
      for (int j = 0; j < t.alpha; ++j) {
        double gg = 0, bd = 0;
        for (int k = 0; k < r; ++k) gg += t.g[static_cast<std::size_t>(j * r + k)] * g[static_cast<std::size_t>(k)];
        for (int k = 0; k < t.alpha; ++k) bd += t.bt[static_cast<std::size_t>(j * t.alpha + k)] * d[static_cast<std::size_t>(k)];
        got += t.at[static_cast<std::size_t>(i * t.alpha + j)] * gg * bd;
      }
      CHECK(std::abs(got - expected) < 1e-13);
    }
  }
  // The classic F(2,3) of Lavin & Gray: Bᵀ rows (1,0,−1,0), (0,1,1,0), (0,−1,1,0), (0,−1,0,1).
  const auto t = detail::winograd_matrices(2, 3);
  const std::vector<double> bt{1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, -1, 0, 1};
  CHECK(t.bt == bt);
}

TEST_CASE("Conv on the Winograd path equals naive loops and im2col in double", "[perf_paths][winograd]") {
  std::mt19937_64 engine(2);
  for (const auto& cc : cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding, cc.batch);
    const Index Ho = (cc.input.height + 2 * cc.padding - cc.kernel) / cc.stride + 1;
    const Index Wo = (cc.input.width + 2 * cc.padding - cc.kernel) / cc.stride + 1;
    Weights w(cc.filters, cc.input.channels, cc.kernel, cc.kernel);
    fill_normal(w, engine);
    Vector<double> b = Vector<double>::Random(cc.filters);
    Batch<double> x = make_batch<double>(cc.input, cc.batch), dy(cc.filters, Ho, Wo, cc.batch);
    fill_normal(x, engine);
    fill_normal(dy, engine);
    const Batch<double> y_ref = naive_conv(x, w, b, cc.stride, cc.padding);
    const Batch<double> dx_ref = naive_conv_transpose(dy, w, cc.input, cc.stride, cc.padding);
    const Weights gw_ref = naive_weight_gradient(x, dy, cc.kernel, cc.stride, cc.padding);

    // the im2col path (the reference implementation) agrees with the loops
    auto im2col = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    im2col.configure(cc.input);
    im2col.set_algorithm(ConvAlgorithm::im2col);
    im2col.weights() = w;
    im2col.bias() = b;
    Batch<double> y0, dx0;
    LayerPattern<double> pattern;
    im2col.forward(x, y0, pattern);
    im2col.backward(pattern, dy, dx0);
    REQUIRE(relative_error(y0, y_ref) < 1e-12);

    for (int m : {0, 2, 4, 6}) {
      CAPTURE(m);
      const FastResult<double> r = run_fast<double>(cc, w, b, x, dy, m);
      if (m == 0) REQUIRE(r.fast);  // every case above has a supported polyphase kernel
      if (!r.fast) continue;
      CHECK(relative_error(r.y, y_ref) < 1e-10);
      CHECK(relative_error(r.y, y0) < 1e-10);
      CHECK(relative_error(r.dx, dx_ref) < 1e-10);
      CHECK(relative_error(r.dx, dx0) < 1e-10);
      const Eigen::Map<const Vector<double>> g(gw_ref.data(), gw_ref.size());
      CHECK((r.gw - g).cwiseAbs().maxCoeff() / g.cwiseAbs().maxCoeff() < 1e-10);
    }
  }
}

// Float: each product is a sum of C·r² terms (C_s·⌈r/s⌉² after polyphase) whose transforms amplify
// rounding by the size of the Winograd matrices: measured worst case 1e-5 of the largest entry (F(4,5)
// at 100 channels, bench shape), a few 1e-6 at these sizes. Tolerance 5e-5; im2col meets 2e-6.
TEST_CASE("Conv on the Winograd path agrees with the naive loops in float", "[perf_paths][winograd]") {
  std::mt19937_64 engine(3);
  double worst = 0;
  for (const auto& cc : cases) {
    CAPTURE(to_string(cc.input), cc.filters, cc.kernel, cc.stride, cc.padding, cc.batch);
    const Index Ho = (cc.input.height + 2 * cc.padding - cc.kernel) / cc.stride + 1;
    const Index Wo = (cc.input.width + 2 * cc.padding - cc.kernel) / cc.stride + 1;
    Weights w(cc.filters, cc.input.channels, cc.kernel, cc.kernel);
    fill_normal(w, engine);
    w = w.cast<float>().cast<double>();
    Vector<double> b = Vector<double>::Random(cc.filters).cast<float>().cast<double>();
    Batch<double> x = make_batch<double>(cc.input, cc.batch), dy(cc.filters, Ho, Wo, cc.batch);
    fill_normal(x, engine);
    fill_normal(dy, engine);
    x = x.cast<float>().cast<double>();
    dy = dy.cast<float>().cast<double>();
    const Batch<double> y_ref = naive_conv(x, w, b, cc.stride, cc.padding);
    const Batch<double> dx_ref = naive_conv_transpose(dy, w, cc.input, cc.stride, cc.padding);
    const Weights gw_ref = naive_weight_gradient(x, dy, cc.kernel, cc.stride, cc.padding);
    const Eigen::Map<const Vector<double>> g(gw_ref.data(), gw_ref.size());
    for (int m : {0, 2, 4, 6}) {
      CAPTURE(m);
      const FastResult<float> r = run_fast<float>(cc, w, b, x, dy, m);
      if (!r.fast) continue;
      const double e = std::max({relative_error(r.y, y_ref), relative_error(r.dx, dx_ref),
                                 (r.gw.cast<double>() - g).cwiseAbs().maxCoeff() / g.cwiseAbs().maxCoeff()});
      CHECK(e < 5e-5);
      worst = std::max(worst, e);
    }
  }
  WARN("worst float error of the Winograd path, relative to the largest entry: " << worst);
}

TEST_CASE("The Winograd path is chosen by shape and can be switched", "[perf_paths][winograd]") {
  auto conv = Conv<float>(64, 5).padding(2);
  conv.configure(Shape{100, 72, 72});
  CHECK(conv.algorithm() == ConvAlgorithm::automatic);
  CHECK(conv.active_algorithm() == ConvAlgorithm::winograd);
  conv.set_algorithm(ConvAlgorithm::im2col);
  CHECK(conv.active_algorithm() == ConvAlgorithm::im2col);
  conv.set_algorithm(ConvAlgorithm::winograd);
  CHECK(conv.active_algorithm() == ConvAlgorithm::winograd);
  // kernels without a supported polyphase form stay on im2col, even when Winograd is asked for
  for (auto [k, s] : std::vector<std::pair<Index, Index>>{{4, 1}, {2, 1}, {3, 2}, {1, 1}, {8, 2}}) {
    auto c = Conv<float>(3, k).stride(s).padding(1);
    c.configure(Shape{2, 16, 16});
    c.set_algorithm(ConvAlgorithm::winograd);
    CHECK(c.active_algorithm() == ConvAlgorithm::im2col);
  }
  Conv<float> whole = Conv<float>::fully_connected(3);
  whole.configure(Shape{2, 5, 5});
  whole.set_algorithm(ConvAlgorithm::winograd);
  CHECK(whole.active_algorithm() == ConvAlgorithm::im2col);
}

TEST_CASE("The Winograd path gives bit-identical results with 1 and 2 threads", "[perf_paths][winograd][threads]") {
#ifdef _OPENMP
  std::mt19937_64 engine(4);
  const int saved = omp_get_max_threads();
  const double saved_work = detail::parallel_min_work();
  detail::set_parallel_min_work(0);  // these small problems go to the team too
  // enough tiles for several chunks per thread, and a small problem
  for (const Case& cc : {Case{{8, 40, 37}, 16, 5, 1, 2, 3}, Case{{3, 50, 47}, 8, 15, 3, 2, 2}, Case{{4, 9, 9}, 5, 3, 1, 1, 1}}) {
    CAPTURE(to_string(cc.input), cc.kernel, cc.stride);
    auto conv = Conv<float>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    const Shape out = conv.configure(cc.input);
    conv.set_algorithm(ConvAlgorithm::winograd);
    fill_normal(conv.weights(), engine);
    Batch<float> x = make_batch<float>(cc.input, cc.batch), dy = make_batch<float>(out, cc.batch);
    fill_normal(x, engine);
    fill_normal(dy, engine);
    Batch<float> y[2], dx[2];
    Vector<float> gw[2];
    for (int t = 0; t < 2; ++t) {
      omp_set_num_threads(t + 1);
      LayerPattern<float> pattern;
      conv.forward(x, y[t], pattern);
      conv.backward(pattern, dy, dx[t]);
      Vector<float> blocks[2] = {Vector<float>::Zero(conv.weights().size()), Vector<float>::Zero(cc.filters)};
      conv.accumulate_gradient(dy, 1.f, blocks);
      gw[t] = blocks[0];
    }
    omp_set_num_threads(saved);
    detail::set_parallel_min_work(saved_work);
    CHECK(as_vector(y[0]) == as_vector(y[1]));
    CHECK(as_vector(dx[0]) == as_vector(dx[1]));
    CHECK(gw[0] == gw[1]);
  }
#else
  SUCCEED("built without OpenMP");
#endif
}

TEST_CASE("Theorem 1 holds on the paper's net with every convolution on the fast path", "[perf_paths][theorem1]") {
  // conv 3→100 15×15 s3 p2, ReLU, 100→64 5×5 p2, ReLU, 64→30 3×3 p2, ReLU on 3×35×32 images.
  auto net = [] {
    return EnergyModel(Shape{3, 35, 32}, Conv<double>(100, 15).stride(3).padding(2), ReLU<double>{}, Conv<double>(64, 5).padding(2),
                       ReLU<double>{}, Conv<double>(30, 3).padding(2), ReLU<double>{});
  };
  auto fast = net();
  auto slow = net();
  fast.layer<0>().set_algorithm(ConvAlgorithm::winograd);
  fast.layer<2>().set_algorithm(ConvAlgorithm::winograd);
  fast.layer<4>().set_algorithm(ConvAlgorithm::winograd);
  slow.layer<0>().set_algorithm(ConvAlgorithm::im2col);
  slow.layer<2>().set_algorithm(ConvAlgorithm::im2col);
  slow.layer<4>().set_algorithm(ConvAlgorithm::im2col);
  REQUIRE(fast.layer<0>().active_algorithm() == ConvAlgorithm::winograd);
  REQUIRE(fast.layer<2>().active_algorithm() == ConvAlgorithm::winograd);
  REQUIRE(fast.layer<4>().active_algorithm() == ConvAlgorithm::winograd);

  std::mt19937_64 engine(5);
  initialize_normal(fast, engine, 0.05);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (auto& p : fast.parameters())
    if (p.is_bias)
      for (Index i = 0; i < p.size(); ++i) p.data[i] = 0.3 * normal(engine);
  {
    auto from = fast.parameters();
    auto to = slow.parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].vector() = from[i].vector();
  }
  Batch<double> x = make_batch<double>(fast.input_shape(), 2);
  fill_normal(x, engine);

  Vector<double> f, f_slow;
  Batch<double> B, B_slow;
  fast.score_and_gradient(x, f, B);
  slow.score_and_gradient(x, f_slow, B_slow);
  const ActivationPattern<double> pattern = fast.bottom_up(x);
  const Reconstruction<double> rec = fast.top_down(pattern);
  double on = 0, units = 0;
  for (const auto& layer : pattern.layers)
    if (layer.gate.size() > 0) {
      on += as_vector(layer.gate).sum();
      units += static_cast<double>(layer.gate.size());
    }
  CHECK(on / units > 0.05);
  CHECK(on / units < 0.95);
  CHECK(pattern.layers.back().gate.size() > 0);
  for (Index n = 0; n < 2; ++n) {
    CAPTURE(n);
    const auto xn = as_columns(x).col(n);
    const double inner = xn.dot(as_columns(rec.B).col(n));
    const double scale = std::abs(rec.alpha(n)) + std::abs(inner);
    REQUIRE(scale > 1.0);
    CHECK(std::abs(f(n) - (rec.alpha(n) + inner)) <= 1e-10 * scale);  // Theorem 1
    CHECK(std::abs(f(n) - f_slow(n)) <= 1e-10 * scale);
  }
  CHECK(relative_error(B, rec.B) < 1e-10);
  CHECK(relative_error(B, B_slow) < 1e-10);

  // ∂f/∂w: the fast path against im2col, summed over both images
  auto g_fast = fast.zero_gradients(), g_slow = slow.zero_gradients();
  fast.accumulate_parameter_gradient(x, g_fast, 1.0);
  slow.accumulate_parameter_gradient(x, g_slow, 1.0);
  for (std::size_t i = 0; i < g_fast.blocks.size(); ++i) {
    CAPTURE(i);
    const double scale = g_slow.blocks[i].cwiseAbs().maxCoeff();
    REQUIRE(scale > 0);
    CHECK((g_fast.blocks[i] - g_slow.blocks[i]).cwiseAbs().maxCoeff() <= 1e-10 * scale);
  }
}

TEST_CASE("Weights changed in place between calls are seen by the kept filter transforms", "[perf_paths][winograd]") {
  std::mt19937_64 engine(6);
  for (const Case& cc : {Case{{3, 11, 10}, 4, 5, 1, 2, 2}, Case{{2, 20, 17}, 3, 9, 3, 1, 1}}) {
    CAPTURE(to_string(cc.input), cc.kernel, cc.stride);
    auto fast = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    auto slow = Conv<double>(cc.filters, cc.kernel).stride(cc.stride).padding(cc.padding);
    const Shape out = fast.configure(cc.input);
    slow.configure(cc.input);
    fast.set_algorithm(ConvAlgorithm::winograd);
    slow.set_algorithm(ConvAlgorithm::im2col);
    Batch<double> x = make_batch<double>(cc.input, cc.batch), dy = make_batch<double>(out, cc.batch);
    fill_normal(x, engine);
    fill_normal(dy, engine);
    for (int round = 0; round < 3; ++round) {
      CAPTURE(round);
      // round 1: one weight changes (through the parameter view, as an optimizer does); round 2: all
      if (round == 0) fill_normal(fast.weights(), engine);
      if (round == 1) fast.parameter(0).data[fast.weights().size() / 2] += 0.5;
      if (round == 2) fast.parameter(0).vector() *= -0.75;
      slow.weights() = fast.weights();
      Batch<double> y1, y2, dx1, dx2;
      LayerPattern<double> pattern;
      fast.forward(x, y1, pattern);
      slow.forward(x, y2, pattern);
      fast.backward(pattern, dy, dx1);
      slow.backward(pattern, dy, dx2);
      CHECK(relative_error(y1, y2) < 1e-10);
      CHECK(relative_error(dx1, dx2) < 1e-10);
    }
  }
}
