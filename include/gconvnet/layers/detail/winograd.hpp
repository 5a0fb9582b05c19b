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
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/detail/gemm.hpp"

// Eigen's packet types carry alignment attributes that GCC drops (and warns about) in template arguments.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

namespace gconvnet::detail {

/// An exact rational with 64-bit parts, always reduced, denominator > 0 (small matrices only).
struct Fraction {
  long long num = 0, den = 1;
  constexpr Fraction() = default;
  constexpr Fraction(long long n, long long d = 1) : num(n), den(d) { reduce(); }
  constexpr void reduce() {
    if (den < 0) num = -num, den = -den;
    const long long g = std::gcd(num < 0 ? -num : num, den);
    if (g > 1) num /= g, den /= g;
  }
  friend constexpr Fraction operator+(Fraction a, Fraction b) { return Fraction(a.num * b.den + b.num * a.den, a.den * b.den); }
  friend constexpr Fraction operator-(Fraction a, Fraction b) { return Fraction(a.num * b.den - b.num * a.den, a.den * b.den); }
  friend constexpr Fraction operator*(Fraction a, Fraction b) { return Fraction(a.num * b.num, a.den * b.den); }
  friend constexpr Fraction operator/(Fraction a, Fraction b) { return Fraction(a.num * b.den, a.den * b.num); }
  constexpr double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

/// Largest α = m + r − 1 the tables hold.
constexpr int winograd_max_alpha = 10;

/// F(m, r) in fixed arrays, row-major: at (m×α), g (α×r), bt (α×α). Points p and −p make pairs of
/// transform positions: bt_partner[a] is the row a' with Bᵀ(a', c) = (−1)^c·Bᵀ(a, c), at_partner[a]
/// the column a' with Aᵀ(i, a') = (−1)^i·Aᵀ(i, a), −1 where there is none; the transforms use them to
/// compute such pairs from one even and one odd partial sum.
struct WinogradTable {
  int m = 0, r = 0, alpha = 0;
  double at[winograd_max_alpha * winograd_max_alpha] = {};
  double g[winograd_max_alpha * winograd_max_alpha] = {};
  double bt[winograd_max_alpha * winograd_max_alpha] = {};
  int bt_partner[winograd_max_alpha] = {};
  int at_partner[winograd_max_alpha] = {};
};

/// The j-th finite interpolation point: 0, 1, −1, 2, −2, 1/2, −1/2, 3, −3, 1/3, −1/3, …
constexpr Fraction winograd_point(int j) {
  if (j == 0) return Fraction(0);
  int index = 1;
  for (long long k = 1;; ++k) {
    if (j == index) return Fraction(k);
    if (j == index + 1) return Fraction(-k);
    index += 2;
    if (k > 1) {
      if (j == index) return Fraction(1, k);
      if (j == index + 1) return Fraction(-1, k);
      index += 2;
    }
  }
}

constexpr Fraction winograd_power(Fraction x, int e) {
  Fraction y(1);
  for (int i = 0; i < e; ++i) y = y * x;
  return y;
}

/// Builds F(m, r) (m ≥ 1, r ≥ 1, m + r − 1 ≤ winograd_max_alpha) from the points above and ∞.
constexpr WinogradTable winograd_table(int m, int r) {
  constexpr int n = winograd_max_alpha;
  const int a = m + r - 1;
  // V (α×α): rows are the points (last row ∞ picks the leading coefficient); invert by Gauss–Jordan.
  Fraction v[n * n] = {}, inv[n * n] = {};
  for (int j = 0; j < a; ++j)
    for (int i = 0; i < a; ++i) {
      v[j * n + i] = j < a - 1 ? winograd_power(winograd_point(j), i) : Fraction(i == a - 1);
      inv[j * n + i] = Fraction(i == j);
    }
  for (int col = 0; col < a; ++col) {
    int piv = col;
    while (v[piv * n + col].num == 0) ++piv;
    for (int i = 0; i < a; ++i) {
      const Fraction t = v[piv * n + i], u = inv[piv * n + i];
      v[piv * n + i] = v[col * n + i], inv[piv * n + i] = inv[col * n + i];
      v[col * n + i] = t, inv[col * n + i] = u;
    }
    const Fraction d = v[col * n + col];
    for (int i = 0; i < a; ++i) v[col * n + i] = v[col * n + i] / d, inv[col * n + i] = inv[col * n + i] / d;
    for (int row = 0; row < a; ++row) {
      const Fraction f = v[row * n + col];
      if (row == col || f.num == 0) continue;
      for (int i = 0; i < a; ++i) {
        v[row * n + i] = v[row * n + i] - f * v[col * n + i];
        inv[row * n + i] = inv[row * n + i] - f * inv[col * n + i];
      }
    }
  }
  WinogradTable w;
  w.m = m, w.r = r, w.alpha = a;
  for (int j = 0; j < a; ++j) {
    // Row j of Bᵀ is column j of V⁻¹; scale it to coprime integers and G's row j by the inverse.
    long long lcm = 1, gcd = 0;
    for (int i = 0; i < a; ++i) {
      const Fraction e = inv[i * n + j];
      lcm = lcm / std::gcd(lcm, e.den) * e.den;
      gcd = std::gcd(gcd, e.num < 0 ? -e.num : e.num);
    }
    const Fraction scale(lcm, gcd == 0 ? 1 : gcd);
    for (int i = 0; i < a; ++i) w.bt[j * a + i] = (inv[i * n + j] * scale).value();
    for (int k = 0; k < r; ++k)
      w.g[j * r + k] = ((j < a - 1 ? winograd_power(winograd_point(j), k) : Fraction(k == r - 1)) / scale).value();
    for (int i = 0; i < m; ++i)
      w.at[i * a + j] = j < a - 1 ? winograd_power(winograd_point(j), i).value() : static_cast<double>(i == m - 1);
  }
  for (int j = 0; j < a; ++j) {
    w.bt_partner[j] = w.at_partner[j] = -1;
    for (int q = 0; q < a; ++q) {
      if (q == j) continue;
      bool rows = false, cols = false, same_rows = true, same_cols = true;
      for (int c = 0; c < a; ++c) {
        same_rows = same_rows && w.bt[q * a + c] == (c % 2 ? -w.bt[j * a + c] : w.bt[j * a + c]);
        rows = rows || (c % 2 == 1 && w.bt[j * a + c] != 0);
      }
      for (int i = 0; i < m; ++i) {
        same_cols = same_cols && w.at[i * a + q] == (i % 2 ? -w.at[i * a + j] : w.at[i * a + j]);
        cols = cols || (i % 2 == 1 && w.at[i * a + j] != 0);
      }
      if (same_rows && rows) w.bt_partner[j] = q;
      if (same_cols && cols) w.at_partner[j] = q;
    }
  }
  return w;
}

/// F(m, r) as a compile-time constant, for the tile transforms.
template <int A, int Mo>
struct WinogradConstants {
  static constexpr WinogradTable table = winograd_table(Mo, A - Mo + 1);
};

/// The matrices of F(m, r): at (m×α), g (α×r), bt (α×α), row-major, in double.
struct WinogradMatrices {
  int m = 0, r = 0, alpha = 0;
  std::vector<double> at, g, bt;
};

/// F(m, r) in vectors (m ≥ 1, r ≥ 1, m + r − 1 ≤ winograd_max_alpha).
inline WinogradMatrices winograd_matrices(int m, int r) {
  const WinogradTable t = winograd_table(m, r);
  WinogradMatrices w;
  w.m = m, w.r = r, w.alpha = t.alpha;
  w.at.assign(t.at, t.at + m * t.alpha);
  w.g.assign(t.g, t.g + t.alpha * r);
  w.bt.assign(t.bt, t.bt + t.alpha * t.alpha);
  return w;
}

/// F(m×m, r×r) in scalar S for the filter transforms: whole filter banks are transformed with one
/// GEMM by kron(a + α·b, i + r·j) = G(a, i)·G(b, j); kron_flipped uses G(a, r−1−i)·G(b, r−1−j).
template <class S>
struct WinogradPlan {
  int m = 0, r = 0, alpha = 0;
  Matrix<S> kron, kron_flipped;

  WinogradPlan() = default;
  WinogradPlan(int m_, int r_) {
    const WinogradTable w = winograd_table(m_, r_);
    m = w.m, r = w.r, alpha = w.alpha;
    kron.resize(alpha * alpha, r * r);
    kron_flipped.resize(alpha * alpha, r * r);
    for (int b = 0; b < alpha; ++b)
      for (int a = 0; a < alpha; ++a)
        for (int j = 0; j < r; ++j)
          for (int i = 0; i < r; ++i) {
            kron(a + alpha * b, i + r * j) = static_cast<S>(w.g[a * r + i] * w.g[b * r + j]);
            kron_flipped(a + alpha * b, i + r * j) = static_cast<S>(w.g[a * r + r - 1 - i] * w.g[b * r + r - 1 - j]);
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

// y = Bᵀ x (α values) with the constants of F(m, r): zero entries skipped, ±1 as additions, and each
// pair of rows (points p, −p) from one even and one odd partial sum. Every branch here depends on
// the constants only and disappears once the loops are unrolled.
template <int A, int Mo, class Packet>
EIGEN_ALWAYS_INLINE void winograd_apply_bt(const Packet* x, Packet* y) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<Packet>::type;
  constexpr const WinogradTable& T = WinogradConstants<A, Mo>::table;
#pragma GCC unroll 16
  for (int a = 0; a < A; ++a) {
    const int p = T.bt_partner[a];
    if (p >= 0 && p < a) continue;
    Packet part[2] = {pset1<Packet>(S(0)), pset1<Packet>(S(0))};
    bool used[2] = {false, false};
#pragma GCC unroll 16
    for (int c = 0; c < A; ++c) {
      const double v = T.bt[a * A + c];
      if (v == 0) continue;
      const int k = p >= 0 ? (c & 1) : 0;
      if (!used[k]) part[k] = v == 1 ? x[c] : v == -1 ? pnegate(x[c]) : pmul(pset1<Packet>(static_cast<S>(v)), x[c]);
      else part[k] = v == 1 ? padd(part[k], x[c]) : v == -1 ? psub(part[k], x[c]) : pmadd(pset1<Packet>(static_cast<S>(v)), x[c], part[k]);
      used[k] = true;
    }
    if (p >= 0) {
      y[a] = padd(part[0], part[1]);
      y[p] = psub(part[0], part[1]);
    } else {
      y[a] = part[0];
    }
  }
}

// y = Aᵀ x (m values from α): each pair of columns (points p, −p) enters through its sum (even rows)
// and difference (odd rows).
template <int A, int Mo, class Packet>
EIGEN_ALWAYS_INLINE void winograd_apply_at(const Packet* x, Packet* y) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<Packet>::type;
  constexpr const WinogradTable& T = WinogradConstants<A, Mo>::table;
  bool used[Mo] = {};
#pragma GCC unroll 16
  for (int i = 0; i < Mo; ++i) y[i] = pset1<Packet>(S(0));
#pragma GCC unroll 16
  for (int a = 0; a < A; ++a) {
    const int p = T.at_partner[a];
    if (p >= 0 && p < a) continue;
    Packet sum = x[a], difference = x[a];
    if (p >= 0) {
      sum = padd(x[a], x[p]);
      difference = psub(x[a], x[p]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < Mo; ++i) {
      const double v = T.at[i * A + a];
      if (v == 0) continue;
      const Packet& term = (i & 1) ? difference : sum;
      if (!used[i]) y[i] = v == 1 ? term : pmul(pset1<Packet>(static_cast<S>(v)), term);
      else y[i] = v == 1 ? padd(y[i], term) : v == -1 ? psub(y[i], term) : pmadd(pset1<Packet>(static_cast<S>(v)), term, y[i]);
      used[i] = true;
    }
  }
}

// y = A x (α values from m; A = (Aᵀ)ᵀ): pairs of rows from one even and one odd partial sum.
template <int A, int Mo, class Packet>
EIGEN_ALWAYS_INLINE void winograd_apply_a(const Packet* x, Packet* y) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<Packet>::type;
  constexpr const WinogradTable& T = WinogradConstants<A, Mo>::table;
#pragma GCC unroll 16
  for (int a = 0; a < A; ++a) {
    const int p = T.at_partner[a];
    if (p >= 0 && p < a) continue;
    Packet part[2] = {pset1<Packet>(S(0)), pset1<Packet>(S(0))};
    bool used[2] = {false, false};
#pragma GCC unroll 16
    for (int i = 0; i < Mo; ++i) {
      const double v = T.at[i * A + a];
      if (v == 0) continue;
      const int k = p >= 0 ? (i & 1) : 0;
      if (!used[k]) part[k] = v == 1 ? x[i] : v == -1 ? pnegate(x[i]) : pmul(pset1<Packet>(static_cast<S>(v)), x[i]);
      else part[k] = v == 1 ? padd(part[k], x[i]) : v == -1 ? psub(part[k], x[i]) : pmadd(pset1<Packet>(static_cast<S>(v)), x[i], part[k]);
      used[k] = true;
    }
    if (p >= 0) {
      y[a] = padd(part[0], part[1]);
      y[p] = psub(part[0], part[1]);
    } else {
      y[a] = part[0];
    }
  }
}

// Bᵀ d B for one tile: d(i, j) = x[C·i + col_stride·j + c]; the result for position ξ = a + α·b goes
// to v[ξ·v_stride + c].
template <int A, int Mo, class S>
inline void winograd_input_tile(const S* x, Index C, Index col_stride, S* v, Index v_stride) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(C, [&](auto packet, Index c) {
    using Packet = decltype(packet);
    Packet t[A][A];  // t[j][a] = (Bᵀ d)(a, j)
#pragma GCC unroll 16
    for (int j = 0; j < A; ++j) {
      Packet d[A];
#pragma GCC unroll 16
      for (int i = 0; i < A; ++i) d[i] = ploadu<Packet>(x + c + C * i + col_stride * j);
      winograd_apply_bt<A, Mo>(d, t[j]);
    }
#pragma GCC unroll 16
    for (int a = 0; a < A; ++a) {
      Packet row[A], out[A];
#pragma GCC unroll 16
      for (int j = 0; j < A; ++j) row[j] = t[j][a];
      winograd_apply_bt<A, Mo>(row, out);
#pragma GCC unroll 16
      for (int b = 0; b < A; ++b) pstoreu(v + (a + A * b) * v_stride + c, out[b]);
    }
  });
}

// Y = Aᵀ M A for one tile: M(ξ) = mt[ξ·m_stride + k]; output pixel (i, j) (only i < rows, j < cols)
// goes to y[K·i + col_stride·j + k], plus bias[k] when bias is not null.
template <int A, int Mo, class S>
inline void winograd_output_tile(const S* mt, Index m_stride, Index K, const S* bias, S* y, Index col_stride, int rows,
                                 int cols) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(K, [&](auto packet, Index k) {
    using Packet = decltype(packet);
    Packet t[A][Mo];  // t[b][i] = (Aᵀ M)(i, b)
#pragma GCC unroll 16
    for (int b = 0; b < A; ++b) {
      Packet d[A];
#pragma GCC unroll 16
      for (int a = 0; a < A; ++a) d[a] = ploadu<Packet>(mt + (a + A * b) * m_stride + k);
      winograd_apply_at<A, Mo>(d, t[b]);
    }
    const Packet bb = bias ? ploadu<Packet>(bias + k) : pset1<Packet>(typename unpacket_traits<Packet>::type(0));
#pragma GCC unroll 16
    for (int i = 0; i < Mo; ++i) {
      if (i >= rows) break;
      Packet row[A], out[Mo];
#pragma GCC unroll 16
      for (int b = 0; b < A; ++b) row[b] = t[b][i];
      winograd_apply_at<A, Mo>(row, out);
#pragma GCC unroll 16
      for (int j = 0; j < Mo; ++j)
        if (j < cols) pstoreu(y + k + K * i + col_stride * j, padd(out[j], bb));
    }
  });
}

// A dY Aᵀ for one tile (the adjoint of the output transform): dY(i, j) = dy[K·i + col_stride·j + k]
// for i < rows, j < cols and 0 beyond; the result for position ξ goes to mt[ξ·m_stride + k].
template <int A, int Mo, class S>
inline void winograd_output_adjoint_tile(const S* dy, Index K, Index col_stride, int rows, int cols, S* mt,
                                         Index m_stride) {
  using namespace Eigen::internal;
  winograd_channel_blocks<S>(K, [&](auto packet, Index k) {
    using Packet = decltype(packet);
    using Scalar = typename unpacket_traits<Packet>::type;
    Packet t[Mo][A];  // t[j][a] = (A dY)(a, j)
#pragma GCC unroll 16
    for (int j = 0; j < Mo; ++j) {
      Packet d[Mo];
#pragma GCC unroll 16
      for (int i = 0; i < Mo; ++i)
        d[i] = i < rows && j < cols ? ploadu<Packet>(dy + k + K * i + col_stride * j) : pset1<Packet>(Scalar(0));
      winograd_apply_a<A, Mo>(d, t[j]);
    }
#pragma GCC unroll 16
    for (int a = 0; a < A; ++a) {
      Packet row[Mo], out[A];
#pragma GCC unroll 16
      for (int j = 0; j < Mo; ++j) row[j] = t[j][a];
      winograd_apply_a<A, Mo>(row, out);
#pragma GCC unroll 16
      for (int b = 0; b < A; ++b) pstoreu(mt + (a + A * b) * m_stride + k, out[b]);
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

/// The transformed filters of one correlation (α² blocks of K×C) packed for the chunks' products
/// (gemm_packed_lhs), block ξ at ξ·packing.size(K): packed once, not once per chunk; again only when
/// the owner marks the filters changed (valid = false) or the chunk size asks for another packing.
template <class S>
struct WinogradPackedFilters {
  LhsPacking packing;
  Vector<S> data;
  bool valid = false;
};

/// Tiles per chunk at most: about 3 MB of transformed tiles and products per thread (the stages of one
/// chunk meet in L2/L3; the products need enough columns to run at the kernel's speed). Measured on Zen 4.
inline Index winograd_chunk(Index alpha, Index C, Index K) {
  const Index per_tile = alpha * alpha * (C + K);
  return std::clamp<Index>((Index{768} * 1024) / per_tile, 16, 256) / 8 * 8;
}

/// Problems with at most this many tiles run as one block whose stages (input transform, the α²
/// products, output transform) are each shared among the threads; larger ones as independent chunks.
constexpr Index winograd_small_problem = 256;
/// A large correlation is cut into about winograd_large_chunks chunks (three for each of 16 threads)
/// of at least winograd_min_large_chunk tiles (wider products run faster, so fewer, larger chunks are
/// cheaper on one thread) and at most the cache limit winograd_chunk; its last quarter, up to
/// winograd_tail_chunks chunks, is cut into chunks of winograd_tail_chunk tiles, so that threads
/// handed the chunks dynamically finish together whatever their number (2 to 16).
constexpr Index winograd_large_chunks = 48;
constexpr Index winograd_min_large_chunk = 64;
constexpr Index winograd_tail_chunk = 32;
constexpr Index winograd_tail_chunks = 32;
/// Tiles per step of the weight gradient: each step's α² products sum over this many tiles, and steps
/// are summed in order.
constexpr Index winograd_gradient_chunk = 256;

/// How a correlation over T tiles is cut. shared: one block of T tiles whose three stages are shared
/// among the threads (stage by stage). Otherwise `chunks` chunks, each transformed, multiplied and
/// transformed back by one thread: first `large_chunks` of `large` tiles, then chunks of `small`
/// tiles (the last one shorter). Depends on the problem only,
/// never on the thread count.
struct WinogradCut {
  bool shared = true;
  Index large = 0, large_chunks = 0, small = 0, chunks = 0;
  /// First tile of chunk c.
  Index begin(Index c) const { return c < large_chunks ? c * large : large_chunks * large + (c - large_chunks) * small; }
  /// Tiles of chunk c (of T in all).
  Index size(Index c, Index T) const { return std::min(c < large_chunks ? large : small, T - begin(c)); }
};

inline WinogradCut winograd_correlate_cut(Index alpha, Index C, Index K, Index T) {
  WinogradCut c;
  if (T <= winograd_small_problem) {
    c.large = c.small = T, c.chunks = 1;
    return c;
  }
  c.shared = false;
  const Index limit = std::min(winograd_chunk(alpha, C, K), T);
  c.large = std::clamp<Index>((pieces_of(T, winograd_large_chunks) + 7) / 8 * 8, std::min(winograd_min_large_chunk, limit),
                              limit);
  c.small = std::min(winograd_tail_chunk, c.large);
  const Index tail = std::min(T / 4, winograd_tail_chunks * c.small);
  c.large_chunks = (T - tail) / c.large;
  c.chunks = c.large_chunks + pieces_of(T - c.large_chunks * c.large, c.small);
  return c;
}

/// The cut of the weight gradient's products dU[ξ] (K×C) += M[ξ] (K×tb)·V[ξ]ᵀ (tb×C): per step of tb
/// tiles, α²·split.pieces pieces (position ξ, block of rows or columns of dU[ξ]).
inline GemmSplit winograd_gradient_split(Index alpha, Index C, Index K, Index tb) {
  return gemm_split(K, C, tb, std::max<Index>(1, pieces_of(gemm_target_pieces, alpha * alpha)));
}

// Tile t → (n, tx, ty) with ty fastest.
inline void winograd_tile_coordinates(const WinogradGeometry& geo, Index t, Index& ty, Index& tx, Index& n) {
  ty = t % geo.tiles_y;
  const Index rest = t / geo.tiles_y;
  tx = rest % geo.tiles_x;
  n = rest / geo.tiles_x;
}

/// Estimated one-core nanoseconds of the tile transforms (in and out) of a correlation over T tiles,
/// of its products, and of both.
inline double winograd_transform_work(Index alpha, Index C, Index K, Index T) {
  return cost::scalar * 2 * static_cast<double>(alpha * alpha) * static_cast<double>(C + K) * static_cast<double>(T);
}
inline double winograd_product_work(Index alpha, Index C, Index K, Index T) {
  return cost::mac * static_cast<double>(alpha * alpha) * static_cast<double>(C * K) * static_cast<double>(T);
}
inline double winograd_work(Index alpha, Index C, Index K, Index T) {
  return winograd_transform_work(alpha, C, K, T) + winograd_product_work(alpha, C, K, T);
}

/// y(k, u, v, n) = bias_k + Σ_{c,i,j} w(k, c, i, j)·xp(c, u + i, v + j, n) with U = transformed
/// filters (α² blocks of K×C, ColMajor, block ξ at U + ξ·K·C; `packed` holds them packed for the
/// products, refreshed here if not valid), cut by winograd_correlate_cut: chunks
/// (large ones, then a tail of small ones) shared among the OpenMP threads, each transformed, multiplied and transformed back by one thread in
/// its own buffers; or, for small problems, one block whose stages are each shared. The cut depends on
/// the problem only and every product is computed by one thread (gemm), so the result does not depend
/// on the thread count; work is handed out dynamically, so a thread that the system holds back (a
/// loaded machine) does not hold up the others.
template <int A, int Mo, class S>
void winograd_correlate_impl(const WinogradGeometry& geo, const S* xp, const S* U, WinogradPackedFilters<S>& packed,
                             const S* bias, S* y, WinogradScratch<S>& scratch) {
  const Index C = geo.C, K = geo.K, T = geo.tiles();
  const WinogradCut cut = winograd_correlate_cut(A, C, K, T);
  const Index chunk = cut.large;  // the buffers' stride: tiles of the largest chunk
  const double work = winograd_work(A, C, K, T);
  // U packed as the products of `chunk` tiles pack it (rows = 0: their depth is blocked, no packing)
  const LhsPacking packing = lhs_packing<S>(K, chunk, C);
  const Index packed_size = packing.size(K);
  if (packing.rows > 0 && (!packed.valid || packed.packing != packing)) {
    if (packed.data.size() < A * A * packed_size) packed.data.resize(A * A * packed_size);
    S* out = packed.data.data();
    parallel_for(Index{A * A}, cost::scalar * 2 * static_cast<double>(A * A * K * C), [&](Index xi) {
      pack_lhs(K, C, U + xi * K * C, K, packing, out + xi * packed_size);
    });
    packed.packing = packing;
    packed.valid = true;
  }
  // The buffers of every thread that may take a chunk (one for the shared block).
  const int buffers = cut.shared ? 1 : max_threads();
  if (static_cast<int>(scratch.v.size()) < buffers) {
    scratch.v.resize(static_cast<std::size_t>(buffers));
    scratch.m.resize(static_cast<std::size_t>(buffers));
  }
  for (int th = 0; th < buffers; ++th) {
    auto& v = scratch.v[static_cast<std::size_t>(th)];
    auto& m = scratch.m[static_cast<std::size_t>(th)];
    if (v.size() < A * A * C * chunk) v.resize(A * A * C * chunk);
    if (m.size() < A * A * K * chunk) m.resize(A * A * K * chunk);
  }
  const Index x_col = C * geo.Hp, x_image = x_col * geo.Wp;
  const Index y_col = K * geo.Ho, y_image = y_col * geo.Wo;
  // The three stages on tile t0 + t, with buffers v, m (blocks of `chunk` tiles).
  auto transform_in = [&](Index t0, Index t, S* v) {
    Index ty, tx, n;
    winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
    winograd_input_tile<A, Mo>(xp + C * (ty * Mo) + x_col * (tx * Mo) + x_image * n, C, x_col, v + C * t, C * chunk);
  };
  auto multiply = [&](Index xi, Index tb, const S* v, S* m) {
    std::fill(m + xi * K * chunk, m + xi * K * chunk + K * tb, S(0));
    if (packing.rows > 0)
      gemm_packed_lhs(K, tb, C, S(1), U + xi * K * C, K, packing, packed.data.data() + xi * packed_size,
                      v + xi * C * chunk, C, m + xi * K * chunk, K);
    else
      gemm(K, tb, C, S(1), U + xi * K * C, K, false, v + xi * C * chunk, C, false, m + xi * K * chunk, K);
  };
  auto transform_out = [&](Index t0, Index t, const S* m) {
    Index ty, tx, n;
    winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
    const Index u0 = ty * Mo, v0 = tx * Mo;
    winograd_output_tile<A, Mo>(m + K * t, K * chunk, K, bias, y + K * u0 + y_col * v0 + y_image * n, y_col,
                                static_cast<int>(std::min<Index>(Mo, geo.Ho - u0)),
                                static_cast<int>(std::min<Index>(Mo, geo.Wo - v0)));
  };
  if (cut.shared) {
    S* v = scratch.v[0].data();
    S* m = scratch.m[0].data();
    parallel_region(A * A, work, [&](bool team) {
      team_for(T, team, [&](Index t) { transform_in(0, t, v); });
      team_for(Index{A * A}, team, [&](Index xi) { multiply(xi, T, v, m); });
      team_for(T, team, [&](Index t) { transform_out(0, t, m); });
    });
    return;
  }
  parallel_for(cut.chunks, work, [&](Index ch) {
    S* v = scratch.v[static_cast<std::size_t>(thread_index())].data();
    S* m = scratch.m[static_cast<std::size_t>(thread_index())].data();
    const Index t0 = cut.begin(ch), tb = cut.size(ch, T);
    for (Index t = 0; t < tb; ++t) transform_in(t0, t, v);
    for (Index xi = 0; xi < A * A; ++xi) multiply(xi, tb, v, m);
    for (Index t = 0; t < tb; ++t) transform_out(t0, t, m);
  });
}

/// dU[ξ] += Σ_tiles (A dY Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ: the gradient of Σ ⟨dy, y⟩ with respect to the
/// transformed filters U (α² blocks of K×C). In steps of winograd_gradient_chunk tiles, summed in
/// order: the tiles of a step are transformed in parallel, then its products are shared among the
/// threads as the pieces of winograd_gradient_split (position ξ, block of dU[ξ]), each one gemm over
/// all the step's tiles. Every entry of dU is thus summed in one fixed order whatever the thread count.
template <int A, int Mo, class S>
void winograd_filter_gradient_impl(const WinogradGeometry& geo, const S* xp, const S* dy, S* dU, Vector<S>& vbuf,
                                   Vector<S>& mbuf) {
  const Index C = geo.C, K = geo.K, T = geo.tiles();
  const Index chunk = std::min<Index>(winograd_gradient_chunk, T);
  if (vbuf.size() < A * A * C * chunk) vbuf.resize(A * A * C * chunk);
  if (mbuf.size() < A * A * K * chunk) mbuf.resize(A * A * K * chunk);
  S* v = vbuf.data();
  S* m = mbuf.data();
  const Index x_col = C * geo.Hp, x_image = x_col * geo.Wp;
  const Index y_col = K * geo.Ho, y_image = y_col * geo.Wo;
  const GemmSplit split = winograd_gradient_split(A, C, K, chunk);
  const Index pieces = A * A * split.pieces;
  parallel_region(pieces, winograd_work(A, C, K, T), [&](bool team) {
    for (Index t0 = 0; t0 < T; t0 += chunk) {
      const Index tb = std::min(chunk, T - t0);
      team_for(tb, team, [&](Index t) {
        Index ty, tx, n;
        winograd_tile_coordinates(geo, t0 + t, ty, tx, n);
        const Index u0 = ty * Mo, v0 = tx * Mo;
        winograd_input_tile<A, Mo>(xp + C * u0 + x_col * v0 + x_image * n, C, x_col, v + C * t, C * chunk);
        winograd_output_adjoint_tile<A, Mo>(dy + K * u0 + y_col * v0 + y_image * n, K, y_col,
                                            static_cast<int>(std::min<Index>(Mo, geo.Ho - u0)),
                                            static_cast<int>(std::min<Index>(Mo, geo.Wo - v0)), m + K * t,
                                            K * chunk);
      });
      team_for(pieces, team, [&](Index piece) {
        const Index xi = piece / split.pieces, begin = (piece % split.pieces) * split.size;
        const S* mm = m + xi * K * chunk;  // K × tb
        const S* vv = v + xi * C * chunk;  // C × tb
        S* du = dU + xi * K * C;           // K × C
        if (split.by_rows) {
          const Index len = std::min(split.size, K - begin);
          gemm(len, C, tb, S(1), mm + begin, K, false, vv, C, true, du + begin, K);
        } else {
          const Index len = std::min(split.size, C - begin);
          gemm(K, len, tb, S(1), mm, K, false, vv + begin, C, true, du + K * begin, K);
        }
      });
    }
  });
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
