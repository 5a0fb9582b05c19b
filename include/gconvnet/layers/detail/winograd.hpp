// gconvnet/layers/detail/winograd.hpp — not API. Winograd (Cook–Toom) minimal filtering F(m×m, r×r)
// for stride-1 multi-channel correlation, as used by Conv's fast path (layers/detail/fast_conv.hpp).
//
// One-dimensional F(m, r) computes m outputs of an r-tap correlation, y_i = Σ_k g_k d_{i+k}, from
// α = m + r − 1 inputs with α multiplications:
//   y = Aᵀ [ (G g) ⊙ (Bᵀ d) ],
// built from the polynomial product s = g·h evaluated at α − 1 finite points (0, ±1, ±2, ±1/2, …)
// and at ∞ (the leading coefficient): with E_h (α×m), E_g (α×r) the evaluation matrices and V (α×α)
// the interpolation (Vandermonde) matrix, s = V⁻¹[(E_g g) ⊙ (E_h h)]; correlation is the transpose
// with respect to h, so Aᵀ = E_hᵀ, G = E_g, Bᵀ = V⁻ᵀ. The matrices are built in exact rational
// arithmetic, each transform position j rescaled so that row j of Bᵀ holds coprime integers.
// Two dimensions nest the one-dimensional transform: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.
//
// Over C input and K output channels and T tiles, the products become one GEMM per transform
// position ξ = (a, b):  M[ξ] (K×T) = U[ξ] (K×C) · V[ξ] (C×T), with U = G w Gᵀ (filters) and
// V = Bᵀ d B (input tiles); the output of each tile is Aᵀ M A.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <type_traits>
#include <vector>

#include "gconvnet/core/tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

// Eigen's packet types carry alignment attributes that GCC drops (and warns about) in template arguments.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

namespace gconvnet::detail {

/// An exact rational with 64-bit parts, always reduced, denominator > 0 (small matrices only).
struct Fraction {
  long long num = 0, den = 1;
  Fraction() = default;
  Fraction(long long n, long long d = 1) : num(n), den(d) { reduce(); }
  void reduce() {
    if (den < 0) num = -num, den = -den;
    const long long g = std::gcd(num < 0 ? -num : num, den);
    if (g > 1) num /= g, den /= g;
  }
  friend Fraction operator+(Fraction a, Fraction b) { return Fraction(a.num * b.den + b.num * a.den, a.den * b.den); }
  friend Fraction operator-(Fraction a, Fraction b) { return Fraction(a.num * b.den - b.num * a.den, a.den * b.den); }
  friend Fraction operator*(Fraction a, Fraction b) { return Fraction(a.num * b.num, a.den * b.den); }
  friend Fraction operator/(Fraction a, Fraction b) { return Fraction(a.num * b.den, a.den * b.num); }
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

/// The matrices of F(m, r): at (m×α), g (α×r), bt (α×α), row-major, in double.
struct WinogradMatrices {
  int m = 0, r = 0, alpha = 0;
  std::vector<double> at, g, bt;
};

/// The finite interpolation points 0, 1, −1, 2, −2, 1/2, −1/2, 3, −3, 1/3, −1/3, … (first `count`).
inline std::vector<Fraction> winograd_points(int count) {
  std::vector<Fraction> p{Fraction(0)};
  for (long long k = 1; static_cast<int>(p.size()) < count; ++k) {
    p.push_back(Fraction(k));
    p.push_back(Fraction(-k));
    if (k > 1) {
      p.push_back(Fraction(1, k));
      p.push_back(Fraction(-1, k));
    }
  }
  p.resize(static_cast<std::size_t>(count));
  return p;
}

/// Builds F(m, r) (m ≥ 1, r ≥ 1, m + r − 1 ≤ 10) from the points of winograd_points and ∞.
inline WinogradMatrices winograd_matrices(int m, int r) {
  const int a = m + r - 1;
  const std::vector<Fraction> p = winograd_points(a - 1);
  auto power = [](Fraction x, int e) {
    Fraction y(1);
    for (int i = 0; i < e; ++i) y = y * x;
    return y;
  };
  // V (α×α): rows are the points (last row ∞ picks the leading coefficient); invert by Gauss–Jordan.
  std::vector<Fraction> v(static_cast<std::size_t>(a * a)), inv(static_cast<std::size_t>(a * a));
  for (int j = 0; j < a; ++j)
    for (int i = 0; i < a; ++i) {
      v[static_cast<std::size_t>(j * a + i)] = j < a - 1 ? power(p[static_cast<std::size_t>(j)], i) : Fraction(i == a - 1);
      inv[static_cast<std::size_t>(j * a + i)] = Fraction(i == j);
    }
  for (int col = 0; col < a; ++col) {
    int piv = col;
    while (v[static_cast<std::size_t>(piv * a + col)].num == 0) ++piv;
    for (int i = 0; i < a; ++i) {
      std::swap(v[static_cast<std::size_t>(piv * a + i)], v[static_cast<std::size_t>(col * a + i)]);
      std::swap(inv[static_cast<std::size_t>(piv * a + i)], inv[static_cast<std::size_t>(col * a + i)]);
    }
    const Fraction d = v[static_cast<std::size_t>(col * a + col)];
    for (int i = 0; i < a; ++i) {
      v[static_cast<std::size_t>(col * a + i)] = v[static_cast<std::size_t>(col * a + i)] / d;
      inv[static_cast<std::size_t>(col * a + i)] = inv[static_cast<std::size_t>(col * a + i)] / d;
    }
    for (int row = 0; row < a; ++row) {
      if (row == col) continue;
      const Fraction f = v[static_cast<std::size_t>(row * a + col)];
      if (f.num == 0) continue;
      for (int i = 0; i < a; ++i) {
        v[static_cast<std::size_t>(row * a + i)] = v[static_cast<std::size_t>(row * a + i)] - f * v[static_cast<std::size_t>(col * a + i)];
        inv[static_cast<std::size_t>(row * a + i)] = inv[static_cast<std::size_t>(row * a + i)] - f * inv[static_cast<std::size_t>(col * a + i)];
      }
    }
  }
  WinogradMatrices w;
  w.m = m, w.r = r, w.alpha = a;
  w.at.resize(static_cast<std::size_t>(m * a));
  w.g.resize(static_cast<std::size_t>(a * r));
  w.bt.resize(static_cast<std::size_t>(a * a));
  for (int j = 0; j < a; ++j) {
    // Row j of Bᵀ is column j of V⁻¹; scale it to coprime integers and G's row j by the inverse.
    long long lcm = 1, gcd = 0;
    for (int i = 0; i < a; ++i) {
      const Fraction e = inv[static_cast<std::size_t>(i * a + j)];
      lcm = std::lcm(lcm, e.den);
      gcd = std::gcd(gcd, e.num < 0 ? -e.num : e.num);
    }
    const Fraction scale(lcm, gcd == 0 ? 1 : gcd);
    for (int i = 0; i < a; ++i) w.bt[static_cast<std::size_t>(j * a + i)] = (inv[static_cast<std::size_t>(i * a + j)] * scale).value();
    for (int k = 0; k < r; ++k) {
      const Fraction e = j < a - 1 ? power(p[static_cast<std::size_t>(j)], k) : Fraction(k == r - 1);
      w.g[static_cast<std::size_t>(j * r + k)] = (e / scale).value();
    }
    for (int i = 0; i < m; ++i)
      w.at[static_cast<std::size_t>(i * a + j)] =
          j < a - 1 ? power(p[static_cast<std::size_t>(j)], i).value() : static_cast<double>(i == m - 1);
  }
  return w;
}

/// F(m×m, r×r) in scalar S: the matrices, and the Kronecker products that transform whole filter
/// banks with one GEMM: kron(a + α·b, i + r·j) = G(a, i)·G(b, j); kron_flipped uses G(a, r−1−i)·G(b, r−1−j).
template <class S>
struct WinogradPlan {
  int m = 0, r = 0, alpha = 0;
  std::vector<S> at, g, bt;
  Matrix<S> kron, kron_flipped;

  WinogradPlan() = default;
  WinogradPlan(int m_, int r_) {
    const WinogradMatrices w = winograd_matrices(m_, r_);
    m = w.m, r = w.r, alpha = w.alpha;
    at.assign(w.at.begin(), w.at.end());
    g.assign(w.g.begin(), w.g.end());
    bt.assign(w.bt.begin(), w.bt.end());
    kron.resize(alpha * alpha, r * r);
    kron_flipped.resize(alpha * alpha, r * r);
    for (int b = 0; b < alpha; ++b)
      for (int a = 0; a < alpha; ++a)
        for (int j = 0; j < r; ++j)
          for (int i = 0; i < r; ++i) {
            kron(a + alpha * b, i + r * j) = static_cast<S>(w.g[static_cast<std::size_t>(a * r + i)] * w.g[static_cast<std::size_t>(b * r + j)]);
            kron_flipped(a + alpha * b, i + r * j) = static_cast<S>(w.g[static_cast<std::size_t>(a * r + r - 1 - i)] *
                                                                    w.g[static_cast<std::size_t>(b * r + r - 1 - j)]);
          }
  }
  Index positions() const { return static_cast<Index>(alpha) * alpha; }
};

/// Calls k(Packet{}, c) for channel blocks [c, c + size(Packet)) covering [0, C): full SIMD packets,
/// then half and quarter packets, then scalars (so no channel count wastes work).
template <class S, class Kernel>
inline void winograd_channel_blocks(Index C, Kernel&& k) {
  using Eigen::internal::unpacket_traits;
  using P = typename Eigen::internal::packet_traits<S>::type;
  using H = typename unpacket_traits<P>::half;
  using Q = typename unpacket_traits<H>::half;
  constexpr Index np = unpacket_traits<P>::size, nh = unpacket_traits<H>::size, nq = unpacket_traits<Q>::size;
  Index c = 0;
  for (; c + np <= C; c += np) k(P{}, c);
  if constexpr (nh < np)
    for (; c + nh <= C; c += nh) k(H{}, c);
  if constexpr (nq < nh)
    for (; c + nq <= C; c += nq) k(Q{}, c);
  if constexpr (nq > 1)
    for (; c < C; ++c) k(S{}, c);
}

// Bᵀ d B for one tile: d(i, j) = x[C·i + col_stride·j + c]; the result for position ξ = a + α·b goes
// to v[ξ·v_stride + c]. bt is α×α row-major.
template <int A, class S>
inline void winograd_input_tile(const S* bt, const S* x, Index C, Index col_stride, S* v, Index v_stride) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(C, [&](auto packet, Index c) {
    using Packet = decltype(packet);
    Packet t[A][A];  // t[a][j] = Σ_i Bᵀ(a, i) d(i, j)
    for (int j = 0; j < A; ++j) {
      Packet d[A];
      for (int i = 0; i < A; ++i) d[i] = ploadu<Packet>(x + c + C * i + col_stride * j);
      for (int a = 0; a < A; ++a) {
        Packet acc = pmul(pset1<Packet>(bt[a * A]), d[0]);
        for (int i = 1; i < A; ++i) acc = pmadd(pset1<Packet>(bt[a * A + i]), d[i], acc);
        t[a][j] = acc;
      }
    }
    for (int b = 0; b < A; ++b)
      for (int a = 0; a < A; ++a) {
        Packet acc = pmul(t[a][0], pset1<Packet>(bt[b * A]));
        for (int j = 1; j < A; ++j) acc = pmadd(t[a][j], pset1<Packet>(bt[b * A + j]), acc);
        pstoreu(v + (a + A * b) * v_stride + c, acc);
      }
  });
}

// Y = Aᵀ M A for one tile: M(ξ) = mt[ξ·m_stride + k]; output pixel (i, j) (only i < rows, j < cols)
// goes to y[K·i + col_stride·j + k], plus bias[k] when bias is not null. at is m×α row-major.
template <int A, int Mo, class S>
inline void winograd_output_tile(const S* at, const S* mt, Index m_stride, Index K, const S* bias, S* y,
                                 Index col_stride, int rows, int cols) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(K, [&](auto packet, Index k) {
    using Packet = decltype(packet);
    Packet t[Mo][A];  // t[i][b] = Σ_a Aᵀ(i, a) M(a, b)
    for (int b = 0; b < A; ++b) {
      Packet d[A];
      for (int a = 0; a < A; ++a) d[a] = ploadu<Packet>(mt + (a + A * b) * m_stride + k);
      for (int i = 0; i < Mo; ++i) {
        Packet acc = pmul(pset1<Packet>(at[i * A]), d[0]);
        for (int a = 1; a < A; ++a) acc = pmadd(pset1<Packet>(at[i * A + a]), d[a], acc);
        t[i][b] = acc;
      }
    }
    const Packet bb = bias ? ploadu<Packet>(bias + k) : pset1<Packet>(S(0));
    for (int j = 0; j < cols; ++j)
      for (int i = 0; i < rows; ++i) {
        Packet acc = bb;
        for (int b = 0; b < A; ++b) acc = pmadd(t[i][b], pset1<Packet>(at[j * A + b]), acc);
        pstoreu(y + k + K * i + col_stride * j, acc);
      }
  });
}

// A dY Aᵀ for one tile (the adjoint of the output transform): dY(i, j) = dy[K·i + col_stride·j + k]
// for i < rows, j < cols and 0 beyond; the result for position ξ goes to mt[ξ·m_stride + k].
template <int A, int Mo, class S>
inline void winograd_output_adjoint_tile(const S* at, const S* dy, Index K, Index col_stride, int rows, int cols,
                                         S* mt, Index m_stride) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(K, [&](auto packet, Index k) {
    using Packet = decltype(packet);
    Packet t[A][Mo];  // t[a][j] = Σ_i Aᵀ(i, a) dY(i, j)
    for (int j = 0; j < Mo; ++j) {
      Packet d[Mo];
      for (int i = 0; i < Mo; ++i)
        d[i] = i < rows && j < cols ? ploadu<Packet>(dy + k + K * i + col_stride * j) : pset1<Packet>(S(0));
      for (int a = 0; a < A; ++a) {
        Packet acc = pmul(pset1<Packet>(at[a]), d[0]);
        for (int i = 1; i < Mo; ++i) acc = pmadd(pset1<Packet>(at[i * A + a]), d[i], acc);
        t[a][j] = acc;
      }
    }
    for (int b = 0; b < A; ++b)
      for (int a = 0; a < A; ++a) {
        Packet acc = pmul(t[a][0], pset1<Packet>(at[b]));
        for (int j = 1; j < Mo; ++j) acc = pmadd(t[a][j], pset1<Packet>(at[j * A + b]), acc);
        pstoreu(mt + (a + A * b) * m_stride + k, acc);
      }
  });
}

/// Geometry of one stride-1 correlation on a padded input: xp is (C, Hp, Wp, N) ColMajor with
/// Hp ≥ tiles_y·m + r − 1 and Wp ≥ tiles_x·m + r − 1; output y(k, u, v, n) for u < Ho, v < Wo.
struct WinogradGeometry {
  Index C = 0, K = 0, Hp = 0, Wp = 0, N = 0, Ho = 0, Wo = 0;
  Index tiles_y = 0, tiles_x = 0;
  Index tiles() const { return tiles_y * tiles_x * N; }
};

/// Per-thread buffers for the tile transforms and products of one chunk of tiles.
template <class S>
struct WinogradScratch {
  std::vector<Vector<S>> v, m;  // one per thread: α²·C·chunk and α²·K·chunk
};

/// Number of OpenMP threads a parallel region will use (1 without OpenMP).
inline int winograd_max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int winograd_thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Tiles per chunk: about 3 MB of transformed tiles and products per thread (the stages of one chunk
/// meet in L2/L3; the products need enough columns to amortise the packing of U). Measured on Zen 4.
inline Index winograd_chunk(Index alpha, Index C, Index K) {
  const Index per_tile = alpha * alpha * (C + K);
  return std::clamp<Index>((Index{768} * 1024) / per_tile, 16, 256) / 8 * 8;
}

// Tile t → (n, tx, ty) with ty fastest.
inline void winograd_tile_coordinates(const WinogradGeometry& geo, Index t, Index& ty, Index& tx, Index& n) {
  ty = t % geo.tiles_y;
  const Index rest = t / geo.tiles_y;
  tx = rest % geo.tiles_x;
  n = rest / geo.tiles_x;
}

/// Problems with at most this many tiles run as one block whose stages (input transform, the α²
/// products, output transform) are each shared among the threads; larger ones as independent chunks.
constexpr Index winograd_small_problem = 256;

/// y(k, u, v, n) = bias_k + Σ_{c,i,j} w(k, c, i, j)·xp(c, u + i, v + j, n) with U = transformed
/// filters (α² blocks of K×C, ColMajor, block ξ at U + ξ·K·C). Large problems: chunks of tiles shared
/// among the OpenMP threads, each chunk transformed, multiplied and transformed back by one thread in
/// its own buffers. Small problems: one block, each stage shared. Which of the two is used depends
/// on the problem only, and every product is computed the same way whichever thread takes it, so the
/// result does not depend on the thread count.
template <int A, int Mo, class S>
void winograd_correlate_impl(const WinogradPlan<S>& plan, const WinogradGeometry& geo, const S* xp, const S* U,
                             const S* bias, S* y, WinogradScratch<S>& scratch) {
  const Index C = geo.C, K = geo.K, T = geo.tiles();
  const bool small = T <= winograd_small_problem;
  const Index chunk = small ? T : std::min(winograd_chunk(A, C, K), T);
  const Index chunks = (T + chunk - 1) / chunk;
  const int threads = small ? 1 : winograd_max_threads();
  if (static_cast<int>(scratch.v.size()) < threads) {
    scratch.v.resize(static_cast<std::size_t>(threads));
    scratch.m.resize(static_cast<std::size_t>(threads));
  }
  for (int th = 0; th < threads; ++th) {
    auto& v = scratch.v[static_cast<std::size_t>(th)];
    auto& m = scratch.m[static_cast<std::size_t>(th)];
    if (v.size() < A * A * C * chunk) v.resize(A * A * C * chunk);
    if (m.size() < A * A * K * chunk) m.resize(A * A * K * chunk);
  }
  const Index x_col = C * geo.Hp, x_image = x_col * geo.Wp;
  const Index y_col = K * geo.Ho, y_image = y_col * geo.Wo;
  // The three stages on tiles [t0, t0 + tb) with buffers v, m (leading block size `chunk`).
  auto transform_in = [&](Index t0, Index t, S* v) {
    Index ty, tx, n;
    winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
    winograd_input_tile<A>(plan.bt.data(), xp + C * (ty * Mo) + x_col * (tx * Mo) + x_image * n, C, x_col, v + C * t,
                           C * chunk);
  };
  auto multiply = [&](Index xi, Index tb, const S* v, S* m) {
    Eigen::Map<const Matrix<S>> u(U + xi * K * C, K, C);
    Eigen::Map<const Matrix<S>> vv(v + xi * C * chunk, C, tb);
    Eigen::Map<Matrix<S>> mm(m + xi * K * chunk, K, tb);
    mm.noalias() = u * vv;
  };
  auto transform_out = [&](Index t0, Index t, const S* m) {
    Index ty, tx, n;
    winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
    const Index u0 = ty * Mo, v0 = tx * Mo;
    winograd_output_tile<A, Mo>(plan.at.data(), m + K * t, K * chunk, K, bias, y + K * u0 + y_col * v0 + y_image * n,
                                y_col, static_cast<int>(std::min<Index>(Mo, geo.Ho - u0)),
                                static_cast<int>(std::min<Index>(Mo, geo.Wo - v0)));
  };
  if (small) {
    S* v = scratch.v[0].data();
    S* m = scratch.m[0].data();
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index t = 0; t < T; ++t) transform_in(0, t, v);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index xi = 0; xi < A * A; ++xi) multiply(xi, T, v, m);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index t = 0; t < T; ++t) transform_out(0, t, m);
    }
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (Index ch = 0; ch < chunks; ++ch) {
    const int th = winograd_thread_id();
    S* v = scratch.v[static_cast<std::size_t>(th)].data();
    S* m = scratch.m[static_cast<std::size_t>(th)].data();
    const Index t0 = ch * chunk, tb = std::min(chunk, T - t0);
    for (Index t = 0; t < tb; ++t) transform_in(t0, t, v);
    for (Index xi = 0; xi < A * A; ++xi) multiply(xi, tb, v, m);
    for (Index t = 0; t < tb; ++t) transform_out(t0, t, m);
  }
}

/// dU[ξ] += Σ_tiles (A dY Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ: the gradient of Σ ⟨dy, y⟩ with respect to the
/// transformed filters U (α² blocks of K×C). Chunks of tiles are transformed in parallel, then the α²
/// products are shared among the threads, so every block is summed over the chunks in one fixed order.
template <int A, int Mo, class S>
void winograd_filter_gradient_impl(const WinogradPlan<S>& plan, const WinogradGeometry& geo, const S* xp, const S* dy,
                                   S* dU, Vector<S>& vbuf, Vector<S>& mbuf) {
  const Index C = geo.C, K = geo.K, T = geo.tiles();
  const Index chunk = std::min<Index>(256, T);
  if (vbuf.size() < A * A * C * chunk) vbuf.resize(A * A * C * chunk);
  if (mbuf.size() < A * A * K * chunk) mbuf.resize(A * A * K * chunk);
  S* v = vbuf.data();
  S* m = mbuf.data();
  const Index x_col = C * geo.Hp, x_image = x_col * geo.Wp;
  const Index y_col = K * geo.Ho, y_image = y_col * geo.Wo;
  for (Index t0 = 0; t0 < T; t0 += chunk) {
    const Index tb = std::min(chunk, T - t0);
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index t = 0; t < tb; ++t) {
        Index ty, tx, n;
        winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
        const Index u0 = ty * Mo, v0 = tx * Mo;
        winograd_input_tile<A>(plan.bt.data(), xp + C * u0 + x_col * v0 + x_image * n, C, x_col, v + C * t,
                               C * chunk);
        winograd_output_adjoint_tile<A, Mo>(plan.at.data(), dy + K * u0 + y_col * v0 + y_image * n, K, y_col,
                                            static_cast<int>(std::min<Index>(Mo, geo.Ho - u0)),
                                            static_cast<int>(std::min<Index>(Mo, geo.Wo - v0)), m + K * t,
                                            K * chunk);
      }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index xi = 0; xi < A * A; ++xi) {
        Eigen::Map<Matrix<S>> du(dU + xi * K * C, K, C);
        Eigen::Map<const Matrix<S>> mm(m + xi * K * chunk, K, tb);
        Eigen::Map<const Matrix<S>> vv(v + xi * C * chunk, C, tb);
        du.noalias() += mm * vv.transpose();
      }
    }
  }
}

/// Calls f(std::integral_constant<int, α>{}, std::integral_constant<int, m>{}) for the supported
/// plans F(2,3), F(2,5), F(2,7), F(4,3), F(4,5), F(6,3); returns false for any other.
template <class F>
bool winograd_dispatch(int m, int r, F&& f) {
  using std::integral_constant;
  const int a = m + r - 1;
  if (m == 2 && a == 4) return f(integral_constant<int, 4>{}, integral_constant<int, 2>{}), true;
  if (m == 2 && a == 6) return f(integral_constant<int, 6>{}, integral_constant<int, 2>{}), true;
  if (m == 2 && a == 8) return f(integral_constant<int, 8>{}, integral_constant<int, 2>{}), true;
  if (m == 4 && a == 6) return f(integral_constant<int, 6>{}, integral_constant<int, 4>{}), true;
  if (m == 4 && a == 8) return f(integral_constant<int, 8>{}, integral_constant<int, 4>{}), true;
  if (m == 6 && a == 8) return f(integral_constant<int, 8>{}, integral_constant<int, 6>{}), true;
  return false;
}

/// Whether winograd_dispatch supports F(m, r).
inline bool winograd_supported(int m, int r) {
  const int a = m + r - 1;
  return (m == 2 && (a == 4 || a == 6 || a == 8)) || (m == 4 && (a == 6 || a == 8)) || (m == 6 && a == 8);
}

}  // namespace gconvnet::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
