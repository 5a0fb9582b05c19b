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

/// The blocking of a one-thread product of m×n×k (as gemm() computes it).
template <class S>
using OneThreadBlocking =
    Eigen::internal::gemm_blocking_space<Eigen::ColMajor, S, S, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic, 1, false>;

/// C (m×n, ColMajor, leading dimension ldc) += alpha · op(A) · op(B), on the calling thread whatever
/// Eigen::nbThreads() says. op(A) is m×k: A ColMajor with leading dimension lda, or, with
/// transpose_a, the transpose of a ColMajor k×m A. Likewise op(B) (k×n). Allocates only where Eigen's
/// one-thread product would (its packed blocks beyond EIGEN_STACK_ALLOCATION_LIMIT).
template <class S>
void gemm(Index m, Index n, Index k, S alpha, const S* a, Index lda, bool transpose_a, const S* b, Index ldb,
          bool transpose_b, S* c, Index ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  using namespace Eigen::internal;
  OneThreadBlocking<S> blocking(m, n, k, 1, true);
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

/// How gemm() packs the left operand A (m×k, ColMajor, not transposed) of an m×n×k product: in row
/// blocks of `rows` (the last one shorter), each over the whole depth, block b at b·stride in a packed
/// buffer (stride: rows·k rounded up to Eigen's largest alignment, as the kernel loads packed blocks
/// with aligned loads). rows = 0 where A is not packed so (its depth is blocked, or Eigen is older than
/// 3.4): gemm_packed_lhs is then gemm().
struct LhsPacking {
  Index rows = 0, stride = 0;
  bool operator==(const LhsPacking& o) const { return rows == o.rows && stride == o.stride; }
  bool operator!=(const LhsPacking& o) const { return !(*this == o); }
  /// Scalars of the packed A of m rows.
  Index size(Index m) const { return rows > 0 ? pieces_of(m, rows) * stride : 0; }
};

template <class S>
LhsPacking lhs_packing(const OneThreadBlocking<S>& blocking, Index m, Index k) {
  LhsPacking p;
#if EIGEN_VERSION_AT_LEAST(3, 3, 90)
  if (blocking.kc() != k) return p;
  constexpr Index align = std::max<Index>(1, EIGEN_MAX_ALIGN_BYTES / static_cast<Index>(sizeof(S)));
  p.rows = std::min(m, blocking.mc());
  p.stride = (p.rows * k + align - 1) / align * align;
#else
  (void)blocking, (void)m, (void)k;
#endif
  return p;
}
/// The packing gemm() of an m×n×k product uses for A.
template <class S>
LhsPacking lhs_packing(Index m, Index n, Index k) {
  return lhs_packing<S>(OneThreadBlocking<S>(m, n, k, 1, true), m, k);
}

/// A (m×k, ColMajor, leading dimension lda) packed by `packing` (lhs_packing's, rows > 0) into out
/// (packing.size(m) scalars, aligned to EIGEN_MAX_ALIGN_BYTES), as gemm() packs it.
template <class S>
void pack_lhs([[maybe_unused]] Index m, [[maybe_unused]] Index k, [[maybe_unused]] const S* a,
              [[maybe_unused]] Index lda, [[maybe_unused]] const LhsPacking& packing, [[maybe_unused]] S* out) {
#if EIGEN_VERSION_AT_LEAST(3, 3, 90)
  using namespace Eigen::internal;
  using Traits = gebp_traits<S, S>;
  using Mapper = const_blas_data_mapper<S, Index, Eigen::ColMajor>;
  gemm_pack_lhs<S, Index, Mapper, Traits::mr, Traits::LhsProgress, typename Traits::LhsPacket4Packing, Eigen::ColMajor>
      pack;
  for (Index i = 0, b = 0; i < m; i += packing.rows, ++b)
    pack(out + b * packing.stride, Mapper(a + i, lda), k, std::min(packing.rows, m - i));
#endif
}

/// C (m×n, ColMajor, ldc) += alpha · A · B (B k×n ColMajor, ldb) with A given twice: as it is (a, lda)
/// and packed by pack_lhs with `packing`. Where that is how gemm() packs A for this product
/// (lhs_packing(m, n, k)), this is gemm() without packing A, bit for bit: the same blocking, the same
/// packed right-hand blocks and kernel calls in the same order; otherwise it is gemm(). For many
/// products with one A (the Winograd correlation's transformed filters against chunks of tiles).
template <class S>
void gemm_packed_lhs(Index m, Index n, Index k, S alpha, const S* a, Index lda, const LhsPacking& packing,
                     const S* packed_a, const S* b, Index ldb, S* c, Index ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  using namespace Eigen::internal;
  OneThreadBlocking<S> blocking(m, n, k, 1, true);
  if (packing.rows == 0 || lhs_packing<S>(blocking, m, k) != packing) {
    gemm(m, n, k, alpha, a, lda, false, b, ldb, false, c, ldc);
    return;
  }
#if EIGEN_VERSION_AT_LEAST(3, 3, 90)
  // general_matrix_matrix_product's one-thread loop with kc = k, the packing of A left out
  using Traits = gebp_traits<S, S>;
  using RhsMapper = const_blas_data_mapper<S, Index, Eigen::ColMajor>;
  using ResMapper = blas_data_mapper<S, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  gemm_pack_rhs<S, Index, RhsMapper, Traits::nr, Eigen::ColMajor> pack_rhs;
  gebp_kernel<S, S, Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
  const Index mc = packing.rows, nc = std::min(n, blocking.nc());
  const std::size_t size_b = static_cast<std::size_t>(k * nc);
  namespace internal = Eigen::internal;  // named so by the macro below
  ei_declare_aligned_stack_constructed_variable(S, block_b, size_b, blocking.blockB());
  const bool pack_rhs_once = mc != m && nc == n;
  const RhsMapper rhs(b, ldb);
  const ResMapper res(c, ldc, 1);
  for (Index i = 0, block = 0; i < m; i += mc, ++block) {
    const Index rows = std::min(i + mc, m) - i;
    for (Index j = 0; j < n; j += nc) {
      const Index cols = std::min(j + nc, n) - j;
      if (!pack_rhs_once || i == 0) pack_rhs(block_b, rhs.getSubMapper(0, j), k, cols);
      gebp(res.getSubMapper(i, j), packed_a + block * packing.stride, block_b, rows, k, cols, alpha);
    }
  }
#else
  (void)packed_a;
#endif
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
