// Threads: the build has OpenMP where CI asks for it, the products are cut the same way for any thread
// count, and the paper's net gives 16 threads enough pieces in every pass. (Learning end to end with one
// and two threads, bit for bit: tests/learning/threads.cpp.)
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/layers/detail/gemm.hpp>
#include <gconvnet/layers/detail/partition.hpp>

#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <catch2/catch.hpp>

using namespace gconvnet;

namespace {

/// OpenMP's and Eigen's thread counts and the parallel threshold, for one scope.
class Threads {
public:
  Threads(int threads, double min_work) : work_(detail::parallel_min_work()), eigen_(Eigen::nbThreads()) {
#ifdef _OPENMP
    omp_ = omp_get_max_threads();
    omp_set_num_threads(threads);
#endif
    Eigen::setNbThreads(threads);
    detail::set_parallel_min_work(min_work);
  }
  ~Threads() {
#ifdef _OPENMP
    omp_set_num_threads(omp_);
#endif
    Eigen::setNbThreads(eigen_);
    detail::set_parallel_min_work(work_);
  }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

private:
  double work_;
  int eigen_, omp_ = 1;
};

template <class S>
bool bit_identical(const S* a, const S* b, Index n) {
  return std::memcmp(a, b, sizeof(S) * static_cast<std::size_t>(n)) == 0;
}

}  // namespace

TEST_CASE("the test programs are built with OpenMP when GCONVNET_REQUIRE_OPENMP is on", "[perf_paths][threads]") {
#if defined(GCONVNET_REQUIRE_OPENMP) && !defined(_OPENMP)
  FAIL("GCONVNET_REQUIRE_OPENMP is on but this test program was compiled without OpenMP (_OPENMP undefined)");
#elif defined(_OPENMP)
  // the runtime gives a team of two when asked, so the two-thread tests run two threads
  int team = 0;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    team = omp_get_num_threads();
  }
  CHECK(team == 2);
#else
  WARN("built without OpenMP (GCONVNET_REQUIRE_OPENMP is off): every thread-count test uses one thread");
#endif
}

TEST_CASE("parallel_gemm: the product, cut by rows or columns, bit-identical with 1 and 2 threads",
          "[perf_paths][threads][gemm]") {
  std::mt19937_64 engine(3);
  // (m, n, k): cut by columns (n > m), by rows (m > n), deep (depth 2500: Eigen's multi-thread blocking
  // would use another kc), and too small to cut
  for (auto [m, n, k] : std::vector<std::tuple<Index, Index, Index>>{{64, 3000, 100}, {2500, 40, 64}, {64, 600, 2500},
                                                                      {5, 7, 3}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        CAPTURE(m, n, k, ta, tb);
        Matrix<double> a = ta ? Matrix<double>(k, m) : Matrix<double>(m, k);
        Matrix<double> b = tb ? Matrix<double>(n, k) : Matrix<double>(k, n);
        fill_standard_normal(engine, a.data(), a.size());
        fill_standard_normal(engine, b.data(), b.size());
        const Matrix<double> c0 = Matrix<double>::Constant(m, n, 0.5);
        Matrix<double> expected = c0;
        const Matrix<double> opa = ta ? Matrix<double>(a.transpose()) : a, opb = tb ? Matrix<double>(b.transpose()) : b;
        expected.noalias() += 0.75 * opa.lazyProduct(opb);  // coefficient-based: a different summation
        Matrix<double> c[2] = {c0, c0};
        for (int t = 0; t < 2; ++t) {
          Threads scope(t + 1, 0);
          detail::parallel_gemm(m, n, k, 0.75, a.data(), a.rows(), ta, b.data(), b.rows(), tb, c[t].data(), m);
        }
        // k terms of size ~1 each: rounding ≤ k·2⁻⁵² relative to √k·(typical term)
        CHECK((c[0] - expected).cwiseAbs().maxCoeff() <= 1e-12 * static_cast<double>(k));
        CHECK(bit_identical(c[0].data(), c[1].data(), c[0].size()));
      }
  // the cut depends on the shape only
  const detail::GemmSplit cols = detail::gemm_split(64, 3000, 100), rows = detail::gemm_split(2500, 40, 64);
  CHECK((!cols.by_rows && cols.pieces > 1 && cols.size % 16 == 0 && (cols.pieces - 1) * cols.size < 3000));
  CHECK((rows.by_rows && rows.pieces > 1 && (rows.pieces - 1) * rows.size < 2500 && rows.pieces * rows.size >= 2500));
  CHECK(detail::gemm_split(5, 7, 3).pieces == 1);
}

TEST_CASE("gemm_packed_lhs: the left operand packed once gives gemm's product bit for bit",
          "[perf_paths][gemm]") {
  std::mt19937_64 engine(5);
  auto check = [&](auto zero, Index m, Index n, Index k, bool packed_path) {
    using S = decltype(zero);
    CAPTURE(sizeof(S), m, n, k);
    Matrix<S> a(m, k), b(k, n);
    fill_standard_normal(engine, a.data(), a.size());
    fill_standard_normal(engine, b.data(), b.size());
    const detail::LhsPacking packing = detail::lhs_packing<S>(m, n, k);
    // the packed path is taken where it should be (so the comparison below is not gemm against itself)
    CHECK((packing.rows > 0) == packed_path);
    // packed behind a block already in the buffer, as the Winograd layer keeps its α² blocks
    Vector<S> packed = Vector<S>::Constant(2 * packing.size(m) + 1, S(7));
    S* at = packed.data() + packing.size(m);
    if (packing.rows > 0) detail::pack_lhs(m, k, a.data(), m, packing, at);
    const Matrix<S> c0 = Matrix<S>::Constant(m, n, S(0.5));
    Matrix<S> expected = c0, got = c0;
    detail::gemm(m, n, k, S(0.75), a.data(), m, false, b.data(), k, false, expected.data(), m);
    detail::gemm_packed_lhs(m, n, k, S(0.75), a.data(), m, packing, at, b.data(), k, got.data(), m);
    CHECK(bit_identical(expected.data(), got.data(), expected.size()));
    // and the product is right: k terms of size ~1
    Matrix<S> reference = c0;
    reference.noalias() += S(0.75) * a.lazyProduct(b);
    CHECK((got - reference).cwiseAbs().maxCoeff() <= S(64) * std::numeric_limits<S>::epsilon() * static_cast<S>(k));
    // a packing that is not gemm's for this product falls back to gemm
    if (packing.rows > 0) {
      detail::LhsPacking other = packing;
      other.rows = packing.rows + 1;
      Matrix<S> fallback = c0;
      detail::gemm_packed_lhs(m, n, k, S(0.75), a.data(), m, other, at, b.data(), k, fallback.data(), m);
      CHECK(bit_identical(expected.data(), fallback.data(), expected.size()));
    }
  };
  // the texture net's Winograd products (K × tiles × C, bottom-up and top-down, chunks of 64, 32 and
  // fewer tiles), among them ones that Eigen packs in several row blocks (e.g. 30 × 16 × 64: rows of 24)
  // or several column blocks (40 × 3000 × 64), a product too small to block, and one too deep to pack
  // A over its whole depth (then gemm_packed_lhs is gemm)
  const std::vector<std::tuple<Index, Index, Index>> shapes{{64, 64, 100}, {100, 32, 64}, {30, 16, 64}, {100, 45, 27},
                                                           {27, 61, 100}, {64, 64, 30},  {13, 7, 5},   {40, 3000, 64},
                                                           {64, 40, 5000}};
  bool several_row_blocks = false;
  for (auto [m, n, k] : shapes) {
    check(float{}, m, n, k, k < 5000);
    check(double{}, m, n, k, k < 5000);
    several_row_blocks = several_row_blocks || detail::lhs_packing<float>(m, n, k).rows < m;
  }
  CHECK(several_row_blocks);
}

TEST_CASE("the paper's net at 224x224 with 16 chains gives 16 threads enough pieces in every pass",
          "[perf_paths][threads][partition]") {
  auto model = EnergyModel(Shape{3, 224, 224}, Conv<float>(100, 15).stride(3).padding(2), ReLU<float>{}, Conv<float>(64, 5).padding(2),
                           ReLU<float>{}, Conv<float>(30, 3).padding(2), ReLU<float>{});
  const Index chains = 16;
  std::vector<detail::LoopCut> loops = {detail::langevin_move_cut(model.input_shape().size() * chains)};
  for (const auto& c : {detail::conv_loop_cuts(model.layer<0>(), chains), detail::conv_loop_cuts(model.layer<2>(), chains),
                        detail::conv_loop_cuts(model.layer<4>(), chains)})
    loops.insert(loops.end(), c.begin(), c.end());
  for (Index l : {1, 3, 5}) loops.push_back(detail::elementwise_cut("bottom-up", model.output_shape(l).size() * chains));
  double work = 0, filled = 0;
  for (const auto& l : loops) {
    INFO(l.pass << " / " << l.loop << ": " << l.pieces << " pieces of " << l.piece);
    work += l.work;
    filled += l.work * l.balance(16);
    // every loop of more than 10 ms of one-core work has at least 2 pieces per thread
    if (l.work > 1e7) CHECK(l.pieces >= 32);
  }
  CHECK(filled / work > 0.9);  // equal pieces fill over 90 % of 16 threads' time
}

TEST_CASE("team latency: slow starts keep small loops inline, the estimate decays, threshold 0 overrides",
          "[perf_paths][threads][latency]") {
  using detail::team_latency;
  Threads scope(2, 1e5);  // two threads, loops from 0.1 ms (restored at the end)
  for (int i = 0; i < 64; ++i) detail::note_team_latency(0);  // forget what earlier tests measured
  const std::int64_t now = detail::monotonic_ns();
  CHECK(team_latency(now) < 1.0);
  detail::note_team_latency(4e6);  // a worker started 4 ms late (a loaded machine)
  const std::int64_t at = detail::team_latency_state().at.load();
  CHECK(team_latency(at) == Approx(2e6).epsilon(1e-12));                         // mean of old (≈ 0) and new
  CHECK(team_latency(at + 250000000) == Approx(1e6).epsilon(1e-12));            // halved after 0.25 s
  CHECK(team_latency(at + 1000000000) == Approx(2e6 / 16).epsilon(1e-12));      // and after 1 s, 1/16
  detail::note_team_latency(4e6);
  CHECK(team_latency() > 2e6);  // two slow starts in a row: the mean moves towards them
#ifdef _OPENMP
  CHECK_FALSE(detail::use_team(64, 5e6));  // 5 ms of work: below three times the ~3 ms latency
  CHECK(detail::use_team(64, 5e7));        // 50 ms: worth the wait
  detail::set_parallel_min_work(0);
  CHECK(detail::use_team(64, 1.0));  // threshold 0 (tests): always a team
#endif
  for (int i = 0; i < 64; ++i) detail::note_team_latency(0);
  CHECK(team_latency() < 1.0);
}
