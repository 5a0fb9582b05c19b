// A learning step allocates nothing after the first call beyond the model's parameter list (which
// model.parameters() builds anew on every call): the divergence guard's snapshot (state(out)) reuses
// its buffers, and so do the statistics, the gradient and the optimizer.
// With as many chains as observed images: the model keeps one set of layer buffers, resized whenever
// the batch size changes, so an MLE step with M̃ ≠ M chains reallocates them (measured: 28 allocations
// per step on this net) — that is the model's business (model/), not the learner's.
//
// Allocations are counted by replacing the C allocator for this executable, as in
// tests/model/allocations.cpp (forwarding to glibc's __libc_* functions); counting is off outside
// count_allocations, so the rest of test_learning is unaffected.
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

// A sanitizer brings its own allocator: replacing malloc under it would break it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define GCONVNET_LEARNING_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GCONVNET_LEARNING_COUNT_MALLOC 0
#endif
#endif
#ifndef GCONVNET_LEARNING_COUNT_MALLOC
#define GCONVNET_LEARNING_COUNT_MALLOC 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
[[maybe_unused]] inline void note_allocation() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#if GCONVNET_LEARNING_COUNT_MALLOC
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

using Net = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

Net make_net() {
  Net net(Shape{2, 10, 10}, Conv<float>(4, 3).padding(1), ReLU<float>{}, Conv<float>(3, 3).stride(2).padding(1), ReLU<float>{});
  std::mt19937_64 engine(3);
  initialize_normal(net, engine, 0.1);
  return net;
}

Batch<float> observed() {
  std::mt19937_64 engine(4);
  Batch<float> b = make_batch<float>(Shape{2, 10, 10}, 3);
  fill_standard_normal(engine, b);
  return b;
}

/// Two warm-up steps, then: a step, and the snapshot into a used LearnerState, allocate exactly what
/// one model.parameters() call allocates.
template <class Learner>
void check_learner(Learner& learner, Net& model) {
  learner.step();
  learner.step();
  LearnerState<float> snapshot;
  learner.state(snapshot);
  const long parameters = count_allocations([&] { static_cast<void>(model.parameters()); });
  const long step = count_allocations([&] { learner.step(); });
  const long state = count_allocations([&] { learner.state(snapshot); });
  INFO("model.parameters() allocates " << parameters << " times");
  CHECK(parameters > 0);  // the counter counts
  CHECK(step == parameters);
  CHECK(state == parameters);
}

}  // namespace

TEST_CASE("A learning step allocates nothing but the model's parameter list: MLE and CD, one and two threads",
          "[learning][allocation]") {
  if (!GCONVNET_LEARNING_COUNT_MALLOC) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  for (int threads : {1, 2}) {
    INFO(threads << " thread(s)");
    const OmpThreads scope(threads);
    Net mle_model = make_net();
    LearningOptions options;
    options.chains = 3;  // = the observed images (see the top of the file)
    options.langevin = {0.3, 2, 0.8};
    options.chain_init = LearningOptions::ChainInit::noise;
    options.optimizer.momentum = 0.5;
    MleLearner mle(mle_model, observed(), options, 1);
    mle.set_stage(1);
    check_learner(mle, mle_model);

    Net cd_model = make_net();
    options.optimizer.method = OptimizerOptions::Method::adam;
    CdLearner cd(cd_model, observed(), options, 2);
    check_learner(cd, cd_model);
  }
}
