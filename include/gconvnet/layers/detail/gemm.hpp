// gconvnet/layers/detail/gemm.hpp — not API. The convolutions' matrix products: Eigen's GEMM kernel run
// on the calling thread with the blocking of a one-thread product, and the fixed pieces that a
// product is cut into so that threads can share it.
//
// Why not `C.noalias() = A * B`: with Eigen::setNbThreads(t > 1) Eigen shares a large product among
// t threads with a depth blocking (kc) computed for t threads, which differs from the one-thread kc
// (e.g. 288 against 280 for depth 2500 on AVX2), so the sums are rounded differently and results
// would depend on the thread count. Here every product is computed by one thread with the blocking of
// its own shape; threads share work only as whole pieces whose shapes do not depend on the thread count.
#pragma once

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"

namespace gconvnet::detail {

/// C (m×n, ColMajor, leading dimension ldc) += alpha · op(A) · op(B), on the calling thread whatever
/// Eigen::nbThreads() says. op(A) is m×k: A ColMajor with leading dimension lda, or, with
/// transpose_a, the transpose of a ColMajor k×m A. Likewise op(B) (k×n). Allocates only where Eigen's
/// one-thread product would (its packed blocks beyond EIGEN_STACK_ALLOCATION_LIMIT).
template <class S>
void gemm(Index m, Index n, Index k, S alpha, const S* a, Index lda, bool transpose_a, const S* b, Index ldb,
          bool transpose_b, S* c, Index ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  using namespace Eigen::internal;
  gemm_blocking_space<Eigen::ColMajor, S, S, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic, 1, false> blocking(
      m, n, k, 1, true);
  auto run = [&](auto lhs_order, auto rhs_order) {
    constexpr int L = decltype(lhs_order)::value, R = decltype(rhs_order)::value;
#if EIGEN_VERSION_AT_LEAST(3, 3, 90)
    general_matrix_matrix_product<Index, S, L, false, S, R, false, Eigen::ColMajor, 1>::run(
        m, n, k, a, lda, b, ldb, c, 1, ldc, alpha, blocking);
#else
    general_matrix_matrix_product<Index, S, L, false, S, R, false, Eigen::ColMajor>::run(m, n, k, a, lda, b, ldb, c,
                                                                                        ldc, alpha, blocking);
#endif
  };
  using Col = std::integral_constant<int, Eigen::ColMajor>;
  using Row = std::integral_constant<int, Eigen::RowMajor>;
  if (!transpose_a && !transpose_b) run(Col{}, Col{});
  else if (!transpose_a) run(Col{}, Row{});
  else if (!transpose_b) run(Row{}, Col{});
  else run(Row{}, Row{});
}

/// How a product C (m×n) = A (m×k)·B (k×n) is cut into pieces: `pieces` blocks of `size` rows of C
/// (by_rows) or columns of C, the last one shorter. Every piece is one gemm over the full depth k, so
/// no sum is split and the cut changes nothing but which thread computes which entries.
struct GemmSplit {
  bool by_rows = false;
  Index size = 0, pieces = 0;
};

/// Pieces wanted per product: enough to keep 16 threads busy, four pieces each, handed out dynamically.
constexpr Index gemm_target_pieces = 64;
/// A piece is at least this many multiply-adds (about 4 µs on one core, where handing it out costs
/// well under a microsecond) and at least 16 rows or columns wide.
constexpr double gemm_min_piece_macs = 1 << 17;
constexpr Index gemm_min_piece_width = 16;

/// The cut of a product of this shape (never of the thread count): along the longer of m and n, into
/// at most `target` pieces of equal width (a multiple of 16 but for the last), each of at least
/// gemm_min_piece_macs and gemm_min_piece_width.
inline GemmSplit gemm_split(Index m, Index n, Index k, Index target = gemm_target_pieces) {
  GemmSplit s;
  s.by_rows = m > n;
  const Index len = s.by_rows ? m : n;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  Index pieces = std::min<Index>(target, len / gemm_min_piece_width);
  pieces = std::min<Index>(pieces, static_cast<Index>(macs / gemm_min_piece_macs));
  pieces = std::max<Index>(pieces, 1);
  s.size = std::max<Index>(1, std::min<Index>(len, (pieces_of(len, pieces) + 15) / 16 * 16));
  s.pieces = std::max<Index>(1, static_cast<Index>(pieces_of(len, s.size)));
  return s;
}

/// A prologue that leaves C as it is (parallel_gemm accumulates into C).
struct KeepBlock {
  void operator()(Index, Index, Index, Index) const {}
};

/// C += alpha · op(A) · op(B) as in gemm(), cut by gemm_split(m, n, k) and the pieces shared among the
/// threads (parallel_for); each piece first calls prologue(row0, rows, col0, cols) on its block of C
/// (to set it to zero or to the bias, say), while that block is in the piece's thread's cache. The
/// result does not depend on the thread count.
template <class S, class Prologue = KeepBlock>
void parallel_gemm(Index m, Index n, Index k, S alpha, const S* a, Index lda, bool transpose_a, const S* b,
                   Index ldb, bool transpose_b, S* c, Index ldc, Prologue&& prologue = Prologue{}) {
  if (m <= 0 || n <= 0) return;
  const GemmSplit s = gemm_split(m, n, k);
  const double work = cost::mac * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) +
                      cost::scalar * static_cast<double>(m) * static_cast<double>(n);
  parallel_for(s.pieces, work, [&](Index p) {
    const Index begin = p * s.size;
    const Index len = std::min(s.size, (s.by_rows ? m : n) - begin);
    if (s.by_rows) {
      // rows [begin, begin + len) of op(A) and of C
      prologue(begin, len, Index{0}, n);
      const S* ap = transpose_a ? a + begin * lda : a + begin;
      gemm(len, n, k, alpha, ap, lda, transpose_a, b, ldb, transpose_b, c + begin, ldc);
    } else {
      // columns [begin, begin + len) of op(B) and of C
      prologue(Index{0}, m, begin, len);
      const S* bp = transpose_b ? b + begin : b + begin * ldb;
      gemm(m, len, k, alpha, a, lda, transpose_a, bp, ldb, transpose_b, c + begin * ldc, ldc);
    }
  });
}

}  // namespace gconvnet::detail
