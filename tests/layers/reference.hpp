// Naive-loop references for the layers and small helpers shared by the layer and model tests.
//
// Every reference is written straight from the layer's definition (conv.hpp, max_pool.hpp, …), one
// output entry at a time, in double, without any of the library's layout tricks (im2col, GEMM,
// switches as flat indices), so that agreement means the optimised code computes the definition.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>

#include <catch2/catch.hpp>

namespace ref {

using gconvnet::Batch;
using gconvnet::Index;
using gconvnet::Shape;
using gconvnet::Vector;
using Weights = Eigen::Tensor<double, 4, Eigen::ColMajor>;  // (filters, channels, kernel_h, kernel_w)

/// Fills any tensor or matrix (anything with data() and size()) with N(0, sigma²) draws.
template <class T, class Engine>
void fill_normal(T& t, Engine& engine, double sigma = 1.0) {
  std::normal_distribution<double> normal(0.0, sigma);
  using S = std::remove_reference_t<decltype(*t.data())>;
  for (Index i = 0; i < static_cast<Index>(t.size()); ++i) t.data()[i] = static_cast<S>(normal(engine));
}

/// A batch of n images of shape s, N(0, sigma²) entries.
template <class S, class Engine>
Batch<S> random_batch(const Shape& s, Index n, Engine& engine, double sigma = 1.0) {
  Batch<S> b = gconvnet::make_batch<S>(s, n);
  fill_normal(b, engine, sigma);
  return b;
}

/// Any tensor converted to double.
template <class S, int R>
Eigen::Tensor<double, R, Eigen::ColMajor> to_double(const Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  return t.template cast<double>();
}

/// max_i |a_i − b_i| / max(1e-300, max_i |b_i|): the error of `a` relative to the size of `b`.
template <class A, class B>
double relative_error(const A& a, const B& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 0;
  for (Index i = 0; i < static_cast<Index>(a.size()); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b.data()[i])));
  }
  return diff / std::max(scale, 1e-300);
}

/// Conv (conv.hpp): y(k,u,v,n) = b_k + Σ_{c,i,j} w(k,c,i,j)·x(c, u·s − p + i, v·s − p + j, n), zero padding.
inline Batch<double> conv(const Batch<double>& x, const Weights& w, const Vector<double>& b, Index stride,
                          Index pad) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index K = w.dimension(0), kh = w.dimension(2), kw = w.dimension(3);
  REQUIRE(w.dimension(1) == C);
  const Index Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
  Batch<double> y(K, Ho, Wo, N);
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k) {
          double acc = b(k);
          for (Index j = 0; j < kw; ++j)
            for (Index i = 0; i < kh; ++i) {
              const Index h = u * stride - pad + i, c0 = v * stride - pad + j;
              if (h < 0 || h >= H || c0 < 0 || c0 >= W) continue;
              for (Index c = 0; c < C; ++c) acc += w(k, c, i, j) * x(c, h, c0, n);
            }
          y(k, u, v, n) = acc;
        }
  return y;
}

/// The transpose of conv's linear part: dx(c,h,w,n) = Σ w(k,c,i,j)·dy(k,u,v,n) over u·s − p + i = h,
/// v·s − p + j = w (a scatter, written independently of the library's gather).
inline Batch<double> conv_transpose(const Batch<double>& dy, const Weights& w, const Shape& in, Index stride,
                                    Index pad) {
  const Index K = dy.dimension(0), Ho = dy.dimension(1), Wo = dy.dimension(2), N = dy.dimension(3);
  const Index kh = w.dimension(2), kw = w.dimension(3);
  Batch<double> dx(in.channels, in.height, in.width, N);
  dx.setZero();
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < kw; ++j)
            for (Index i = 0; i < kh; ++i) {
              const Index h = u * stride - pad + i, c0 = v * stride - pad + j;
              if (h < 0 || h >= in.height || c0 < 0 || c0 >= in.width) continue;
              for (Index c = 0; c < in.channels; ++c) dx(c, h, c0, n) += w(k, c, i, j) * dy(k, u, v, n);
            }
  return dx;
}

/// ((a mod m) + m) mod m: the index on the torus.
inline Index wrap_index(Index a, Index m) { return ((a % m) + m) % m; }

/// Conv with circular padding (conv.hpp, PaddingMode::circular):
/// y(k,u,v,n) = b_k + Σ_{c,i,j} w(k,c,i,j)·x(c, (u·s − p + i) mod H, (v·s − p + j) mod W, n), output (H/s)×(W/s).
inline Batch<double> conv_periodic(const Batch<double>& x, const Weights& w, const Vector<double>& b, Index stride,
                                   Index pad) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index K = w.dimension(0), kh = w.dimension(2), kw = w.dimension(3);
  REQUIRE(w.dimension(1) == C);
  REQUIRE(H % stride == 0);
  REQUIRE(W % stride == 0);
  const Index Ho = H / stride, Wo = W / stride;
  Batch<double> y(K, Ho, Wo, N);
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k) {
          double acc = b(k);
          for (Index j = 0; j < kw; ++j)
            for (Index i = 0; i < kh; ++i) {
              const Index h = wrap_index(u * stride - pad + i, H), c0 = wrap_index(v * stride - pad + j, W);
              for (Index c = 0; c < C; ++c) acc += w(k, c, i, j) * x(c, h, c0, n);
            }
          y(k, u, v, n) = acc;
        }
  return y;
}

/// The transpose of conv_periodic's linear part (a scatter onto the torus).
inline Batch<double> conv_periodic_transpose(const Batch<double>& dy, const Weights& w, const Shape& in, Index stride,
                                             Index pad) {
  const Index K = dy.dimension(0), Ho = dy.dimension(1), Wo = dy.dimension(2), N = dy.dimension(3);
  const Index kh = w.dimension(2), kw = w.dimension(3);
  Batch<double> dx(in.channels, in.height, in.width, N);
  dx.setZero();
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < kw; ++j)
            for (Index i = 0; i < kh; ++i) {
              const Index h = wrap_index(u * stride - pad + i, in.height);
              const Index c0 = wrap_index(v * stride - pad + j, in.width);
              for (Index c = 0; c < in.channels; ++c) dx(c, h, c0, n) += w(k, c, i, j) * dy(k, u, v, n);
            }
  return dx;
}

/// ∂⟨dy, y⟩/∂w(k,c,i,j) = Σ_{u,v,n} dy(k,u,v,n)·x(c, (u·s − p + i) mod H, (v·s − p + j) mod W, n) of conv_periodic.
inline Weights conv_periodic_weight_gradient(const Batch<double>& x, const Batch<double>& dy, Index kh, Index kw,
                                             Index stride, Index pad) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index K = dy.dimension(0), Ho = dy.dimension(1), Wo = dy.dimension(2);
  Weights g(K, C, kh, kw);
  g.setZero();
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index k = 0; k < K; ++k)
          for (Index j = 0; j < kw; ++j)
            for (Index i = 0; i < kh; ++i) {
              const Index h = wrap_index(u * stride - pad + i, H), c0 = wrap_index(v * stride - pad + j, W);
              for (Index c = 0; c < C; ++c) g(k, c, i, j) += dy(k, u, v, n) * x(c, h, c0, n);
            }
  return g;
}

/// MaxPool (max_pool.hpp): y(c,u,v,n) = max over the k×k window at (u·s, v·s), no padding.
/// `argmax` receives the (row, column) of the first maximum in column-major window order.
inline Batch<double> max_pool(const Batch<double>& x, Index k, Index s,
                              Eigen::Tensor<Index, 5, Eigen::ColMajor>* argmax = nullptr) {
  const Index C = x.dimension(0), H = x.dimension(1), W = x.dimension(2), N = x.dimension(3);
  const Index Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
  Batch<double> y(C, Ho, Wo, N);
  if (argmax) argmax->resize(2, C, Ho, Wo, N);
  for (Index n = 0; n < N; ++n)
    for (Index v = 0; v < Wo; ++v)
      for (Index u = 0; u < Ho; ++u)
        for (Index c = 0; c < C; ++c) {
          double best = -std::numeric_limits<double>::infinity();
          Index bh = -1, bw = -1;
          for (Index j = 0; j < k; ++j)
            for (Index i = 0; i < k; ++i)
              if (x(c, u * s + i, v * s + j, n) > best) {
                best = x(c, u * s + i, v * s + j, n);
                bh = u * s + i;
                bw = v * s + j;
              }
          y(c, u, v, n) = best;
          if (argmax) {
            (*argmax)(0, c, u, v, n) = bh;
            (*argmax)(1, c, u, v, n) = bw;
          }
        }
  return y;
}

/// h(r) = max(r, 0).
inline double relu(double r) { return r > 0 ? r : 0.0; }
/// h(r) = log(1 + e^r), written in long double from the definition (no stabilising rewrite), so it
/// is only used where e^r does not overflow long double (|r| < 11000).
inline double softplus(double r) { return static_cast<double>(std::log1p(std::exp(static_cast<long double>(r)))); }
/// h′(r) = 1/(1 + e^{−r}).
inline double sigmoid(double r) { return static_cast<double>(1.0L / (1.0L + std::exp(-static_cast<long double>(r)))); }

}  // namespace ref

/// Requires that `expr` throws gconvnet::Error whose message matches `matcher` (Catch::Contains…).
#define REQUIRE_ERROR(expr, matcher)                    \
  do {                                                  \
    REQUIRE_THROWS_AS(expr, gconvnet::Error);           \
    REQUIRE_THROWS_WITH(expr, matcher);                 \
  } while (false)
