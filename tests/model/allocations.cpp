// The hot path allocates nothing after the first call (DESIGN.md §2): repeated score_and_gradient,
// score, bottom_up, top_down and accumulate_parameter_gradient with the same batch size keep their
// buffers and call no allocator at all.
//
// Allocations are counted by replacing the C allocator for this executable (the glibc manual's
// "Replacing malloc": malloc, free, calloc, realloc and the aligned variants, forwarding to glibc's
// own __libc_* functions). operator new and Eigen's aligned_malloc both end in malloc, so this counts
// every heap allocation of the library, Eigen and libgomp. Counting is off except inside
// `count_allocations`, so the rest of test_model is unaffected.
#include <gconvnet/gconvnet.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <random>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

// A sanitizer brings its own allocator: replacing malloc under it would break it. The counting tests
// then only say so; the buffer-reuse test still runs.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GCONVNET_TEST_REPLACE_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GCONVNET_TEST_REPLACE_MALLOC 0
#endif
#endif
#ifndef GCONVNET_TEST_REPLACE_MALLOC
#define GCONVNET_TEST_REPLACE_MALLOC 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
[[maybe_unused]] inline void note_allocation() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#if GCONVNET_TEST_REPLACE_MALLOC
extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

extern "C" {
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
#endif  // GCONVNET_TEST_REPLACE_MALLOC

using namespace gconvnet;

namespace {

/// Number of allocations made by f().
template <class F>
long count_allocations(F&& f) {
  allocations.store(0);
  counting.store(true);
  f();
  counting.store(false);
  return allocations.load();
}

/// Sets the OpenMP thread count for a scope (no-op without OpenMP).
class OmpThreads {
public:
  explicit OmpThreads(int n) {
#ifdef _OPENMP
    saved_ = omp_get_max_threads();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
  }
  ~OmpThreads() {
#ifdef _OPENMP
    omp_set_num_threads(saved_);
#endif
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

private:
  int saved_ = 1;
};

/// Warms up every entry point twice, then counts the allocations of a third round, one entry point at a time.
template <class Model>
void check_no_allocation(const Model& model, Index batch, std::mt19937_64& engine) {  // the const queries
  using S = typename Model::Scalar;
  const Batch<S> x = ref::random_batch<S>(model.input_shape(), batch, engine);
  Vector<S> scores;
  Batch<S> grad;
  ActivationPattern<S> pattern;
  Reconstruction<S> rec;
  Gradients<S> g = model.zero_gradients();
  for (int round = 0; round < 2; ++round) {
    model.score_and_gradient(x, scores, grad);
    model.score(x, scores);
    model.bottom_up(x, pattern);
    model.top_down(pattern, rec);
    model.accumulate_parameter_gradient(x, g, S(1));
  }
  const long sg = count_allocations([&] { model.score_and_gradient(x, scores, grad); });
  const long sc = count_allocations([&] { model.score(x, scores); });
  const long bu = count_allocations([&] { model.bottom_up(x, pattern); });
  const long td = count_allocations([&] { model.top_down(pattern, rec); });
  const long pg = count_allocations([&] { model.accumulate_parameter_gradient(x, g, S(1)); });
  CHECK(sg == 0);
  CHECK(sc == 0);
  CHECK(bu == 0);
  CHECK(td == 0);
  CHECK(pg == 0);
}

}  // namespace

TEST_CASE("The allocation counter sees malloc, operator new and Eigen's allocations", "[model][allocation]") {
  if (!GCONVNET_TEST_REPLACE_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  // the counter is not vacuous (the volatile sink keeps the compiler from eliding the pairs)
  static void* volatile sink = nullptr;
  CHECK(count_allocations([] {
          int* p = new int(3);
          sink = p;
          delete p;
        }) >= 1);
  CHECK(count_allocations([] {
          Batch<float> b(3, 8, 8, 2);
          b.setZero();
          sink = b.data();
        }) >= 1);
  CHECK(count_allocations([] {
          Matrix<double> m(40, 40);
          m.setOnes();
          sink = m.data();
        }) >= 1);
  CHECK(count_allocations([] {
          sink = malloc(16);
          free(sink);
        }) == 1);
  CHECK(count_allocations([] {}) == 0);
}

TEST_CASE("Repeated calls with the same batch size keep their output buffers", "[model][allocation]") {
  std::mt19937_64 engine(801);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  Vector<double> scores;
  Batch<double> grad;
  ActivationPattern<double> pattern;
  Reconstruction<double> rec;
  model.score_and_gradient(x, scores, grad);
  model.bottom_up(x, pattern);
  model.top_down(pattern, rec);
  const double* grad_data = grad.data();
  const double* score_data = scores.data();
  const double* gate_data = pattern.layers[1].gate.data();
  const Index* switch_data = pattern.layers[2].switches.data();
  const double* b_data = rec.B.data();
  const double* alpha_data = rec.alpha.data();
  const Batch<double> first_grad = grad;
  for (int round = 0; round < 3; ++round) {
    model.score_and_gradient(x, scores, grad);
    model.bottom_up(x, pattern);
    model.top_down(pattern, rec);
    CHECK(grad.data() == grad_data);
    CHECK(scores.data() == score_data);
    CHECK(pattern.layers[1].gate.data() == gate_data);
    CHECK(pattern.layers[2].switches.data() == switch_data);
    CHECK(rec.B.data() == b_data);
    CHECK(rec.alpha.data() == alpha_data);
    CHECK(ref::relative_error(grad, first_grad) == 0.0);  // and the same results, bit for bit
  }
}

// Two OpenMP threads (when built with OpenMP): the parallel loops reuse libgomp's thread pool, so any
// allocation counted here is the library's or Eigen's own.
TEST_CASE("Repeated hot-path calls allocate nothing: ReLU and max-pooling model, double, two threads",
          "[model][allocation]") {
  if (!GCONVNET_TEST_REPLACE_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads two(2);
  std::mt19937_64 engine(802);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_no_allocation(model, 3, engine);
}

TEST_CASE("Repeated hot-path calls allocate nothing: run-time model with Softplus, float, partial depth, two threads",
          "[model][allocation]") {
  if (!GCONVNET_TEST_REPLACE_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads two(2);
  std::mt19937_64 engine(803);
  DynamicModel<float> model(Shape{3, 24, 24},
                            parse_layers<float>("conv:8:5:2:2,relu,conv:6:3:1:1,softplus,maxpool:2,fc:4,relu"));
  mt::randomize(model, engine, 0.2, 0.1);
  check_no_allocation(model, 4, engine);
  model.set_depth(3);
  check_no_allocation(model, 2, engine);
}

// One thread: libgomp mallocs a team for every parallel region entered with one thread, so every loop
// of the hot path must bypass OpenMP then (detail::parallel_for). The model wiring, ReLU, Softplus and
// MaxPool do.
TEST_CASE("Repeated hot-path calls allocate nothing with one thread: MaxPool, ReLU, Softplus", "[model][allocation]") {
  if (!GCONVNET_TEST_REPLACE_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads one(1);
  std::mt19937_64 engine(804);
  EnergyModel model(Shape{3, 12, 10}, MaxPool<double>(3, 2), ReLU<double>{}, Softplus<double>{}, MaxPool<double>(2, 1));
  check_no_allocation(model, 3, engine);
}

// Conv too (with the algorithm ConvAlgorithm::automatic picks for these shapes).
TEST_CASE("Repeated hot-path calls allocate nothing with one thread: Conv models", "[model][allocation]") {
  if (!GCONVNET_TEST_REPLACE_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads one(1);
  std::mt19937_64 engine(805);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_no_allocation(model, 3, engine);
  DynamicModel<float> dyn(Shape{3, 24, 24},
                          parse_layers<float>("conv:8:5:2:2,relu,conv:6:3:1:1,softplus,maxpool:2,fc:4,relu"));
  mt::randomize(dyn, engine, 0.2, 0.1);
  check_no_allocation(dyn, 4, engine);
}
