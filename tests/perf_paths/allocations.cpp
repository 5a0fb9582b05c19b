// The Langevin hot path on the fast convolution path allocates nothing after the first call, with one
// thread (nothing may enter OpenMP: libgomp allocates a team for every one-thread parallel region)
// and with two, on the paper's net at sizes where the Winograd path runs as one shared block and as
// per-thread chunks, with the default parallel threshold and with every loop in the team; and a whole
// Langevin call (noise, move, finite check) allocates nothing either.
//
// Allocations are counted by replacing the C allocator for this executable (forwarding to glibc's
// __libc_* functions), as in tests/model/allocations.cpp; counting is off outside count_allocations.
#include <gconvnet/gconvnet.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <random>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define GCONVNET_PERF_COUNT_MALLOC 0
#else
#define GCONVNET_PERF_COUNT_MALLOC 1
#endif

#if GCONVNET_PERF_COUNT_MALLOC
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
inline void note_allocation() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept {
  note_allocation();
  return __libc_malloc(n);
}
void free(void* p) noexcept { __libc_free(p); }
void* calloc(std::size_t count, std::size_t n) noexcept {
  note_allocation();
  return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) noexcept {
  note_allocation();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  note_allocation();
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  note_allocation();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  note_allocation();
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr && n != 0) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

using namespace gconvnet;

namespace {

template <class F>
long count_allocations(F&& f) {
#if GCONVNET_PERF_COUNT_MALLOC
  allocations.store(0);
  counting.store(true);
  f();
  counting.store(false);
  return allocations.load();
#else
  f();
  return 0;
#endif
}

}  // namespace

TEST_CASE("The Winograd path allocates nothing per Langevin step, one and two threads", "[perf_paths][allocation]") {
#if !GCONVNET_PERF_COUNT_MALLOC
  WARN("allocation counting is off (sanitizer or non-glibc build)");
  return;
#endif
  static void* volatile sink = nullptr;
  REQUIRE(count_allocations([] { sink = ::operator new(64); }) == 1);  // the counter sees operator new
  ::operator delete(sink);
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
#endif
  const double saved_work = detail::parallel_min_work();
  // 56²: every layer under 256 tiles (one shared block); 112² with 3 chains: per-thread chunks. With
  // the default threshold some loops of these sizes stay on one thread; with 0 every loop of two or
  // more pieces goes to the team.
  for (const auto& [size, chains] : {std::pair<Index, Index>{56, 1}, {112, 3}})
    for (int threads : {1, 2})
      for (double min_work : {saved_work, 0.0}) {
        CAPTURE(size, chains, threads, min_work);
        detail::set_parallel_min_work(min_work);
#ifdef _OPENMP
        omp_set_num_threads(threads);
#endif
        EnergyModel model(Shape{3, size, size}, Conv<float>(100, 15, 3, 2), ReLU<float>{}, Conv<float>(64, 5, 1, 2),
                          ReLU<float>{}, Conv<float>(30, 3, 1, 2), ReLU<float>{});
        REQUIRE(model.layer<0>().active_algorithm() == ConvAlgorithm::winograd);
        REQUIRE(model.layer<2>().active_algorithm() == ConvAlgorithm::winograd);
        REQUIRE(model.layer<4>().active_algorithm() == ConvAlgorithm::winograd);
        std::mt19937_64 engine(7);
        initialize_normal(model, engine, 0.01);
        Batch<float> x = make_batch<float>(model.input_shape(), chains);
        x.setRandom();
        Vector<float> scores;
        Batch<float> grad;
        ActivationPattern<float> pattern;
        Reconstruction<float> rec;
        Gradients<float> g = model.zero_gradients();
        for (int round = 0; round < 2; ++round) {
          model.score_and_gradient(x, scores, grad);
          model.bottom_up(x, pattern);
          model.top_down(pattern, rec);
          model.accumulate_parameter_gradient(x, g, 1.f);
        }
        CHECK(count_allocations([&] { model.score_and_gradient(x, scores, grad); }) == 0);
        CHECK(count_allocations([&] { model.top_down(pattern, rec); }) == 0);
        // weights changed in place (an optimizer step): the transformed filters are redone in place
        for (auto& p : model.parameters()) p.vector() *= 1.01f;
        CHECK(count_allocations([&] { model.score_and_gradient(x, scores, grad); }) == 0);
        CHECK(count_allocations([&] { model.accumulate_parameter_gradient(x, g, 1.f); }) == 0);
        // a whole Langevin call: the noise, the move and the finite check, plain and MALA
        LangevinWorkspace<float> ws;
        for (bool metropolis : {false, true}) {
          const LangevinOptions options{0.01, 2, 1.0, metropolis};
          langevin(model, x, options, engine, ws);
          CHECK(count_allocations([&] { langevin(model, x, options, engine, ws); }) == 0);
        }
      }
  detail::set_parallel_min_work(saved_work);
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
}
