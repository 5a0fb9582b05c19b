// The hot path allocates nothing per step after the first: counted by wrapping glibc's allocator in
// this test program (every allocation of Eigen, the model and the samplers goes through malloc).
#include "sampling/allocation_counter.hpp"
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define GCONVNET_TEST_COUNT_ALLOCATIONS 1
#include <link.h>

#include <cstring>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

// libgomp allocates (and frees) a team for every parallel region run by a single thread; that is the
// OpenMP runtime's business, not the hot path's, so allocations called from libgomp are not counted.
struct CodeRange {
  std::uintptr_t begin = 0, end = 0;
};
CodeRange openmp_runtime[4];
int openmp_ranges = 0;

int find_openmp_runtime(dl_phdr_info* info, std::size_t, void*) {
  if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libgomp")) return 0;
  for (int i = 0; i < info->dlpi_phnum && openmp_ranges < 4; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
      openmp_runtime[openmp_ranges++] = {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz};
  }
  return 1;
}

inline void count(void* caller) {
  if (!counting.load(std::memory_order_relaxed)) return;
  const auto at = reinterpret_cast<std::uintptr_t>(caller);
  for (int i = 0; i < openmp_ranges; ++i)
    if (at >= openmp_runtime[i].begin && at < openmp_runtime[i].end) return;
  allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) {
  count(__builtin_return_address(0));
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  count(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  count(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  count(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  count(__builtin_return_address(0));
  void* p = __libc_memalign(alignment, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

namespace gconvnet::test {
#ifdef GCONVNET_TEST_COUNT_ALLOCATIONS
bool allocation_counting_available() { return true; }
void start_counting_allocations() {
  if (openmp_ranges == 0) dl_iterate_phdr(find_openmp_runtime, nullptr);
  allocations.store(0);
  counting.store(true);
}
long stop_counting_allocations() {
  counting.store(false);
  return allocations.load();
}
#else
bool allocation_counting_available() { return false; }
void start_counting_allocations() {}
long stop_counting_allocations() { return 0; }
#endif
}  // namespace gconvnet::test

using namespace gconvnet;

TEST_CASE("the samplers allocate nothing after the first call with a workspace", "[sampling][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting needs glibc; skipped");
    return;
  }
  // The counter counts: one Eigen vector is one allocation.
  gconvnet::test::start_counting_allocations();
  {
    Vector<float> probe(1000);
    probe.setZero();
    CHECK(probe.sum() == 0.0f);
  }
  CHECK(gconvnet::test::stop_counting_allocations() == 1);

  EnergyModel model(Shape{3, 12, 12}, Conv<float>(6, 5).stride(2).padding(2), ReLU<float>{}, MaxPool<float>(2),
                    Conv<float>(4, 3).padding(1), ReLU<float>{});
  std::mt19937_64 engine(1);
  initialize_normal(model, engine, 0.1);
  Batch<float> x = gconvnet::test::noise_chains<float>(model.input_shape(), 4, engine);
  LangevinWorkspace<float> ws;
  GradeWorkspace<float> gws;
  double watched = 0;
  auto observer = [&](const SamplerDiagnostics& d) { watched += d.mean_energy(); };
  for (bool metropolis : {false, true}) {
    INFO("metropolis " << metropolis);
    const LangevinOptions options{0.3, 5, 1.0, metropolis};
    langevin(model, x, options, engine, ws);            // first call: buffers are sized
    langevin(model, x, options, engine, ws, observer);  // and the diagnostics
    gconvnet::test::start_counting_allocations();
    langevin(model, x, options, engine, ws);
    langevin(model, x, options, engine, ws, observer);
    CHECK(gconvnet::test::stop_counting_allocations() == 0);
  }
  // GRADE: nothing per step (the report it returns is allocated once per call).
  Batch<float> y = x;
  grade_descent(model, y, GradeOptions{0.5, 3, 1.0, 0.0}, gws, observer);
  y = x;
  gconvnet::test::start_counting_allocations();
  grade_descent(model, y, GradeOptions{0.5, 2, 1.0, 0.0}, gws, observer);
  const long two = gconvnet::test::stop_counting_allocations();
  y = x;
  gconvnet::test::start_counting_allocations();
  grade_descent(model, y, GradeOptions{0.5, 12, 1.0, 0.0}, gws, observer);
  const long twelve = gconvnet::test::stop_counting_allocations();
  CHECK(twelve == two);
  CHECK(std::isfinite(watched));
}

TEST_CASE("masked samplers on a circular model allocate nothing after the first call with a workspace",
          "[sampling][allocation][masked][circular]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting needs glibc; skipped");
    return;
  }
  EnergyModel model(Shape{3, 12, 12}, Conv<float>(6, 5).stride(2).padding(2, PaddingMode::circular), ReLU<float>{},
                    Conv<float>(4, 3).padding(1, PaddingMode::circular), ReLU<float>{});
  std::mt19937_64 engine(2);
  initialize_normal(model, engine, 0.1);
  Batch<float> x = gconvnet::test::noise_chains<float>(model.input_shape(), 4, engine);
  PixelMask shared = make_batch<std::uint8_t>(model.input_shape(), 1), per_chain = make_batch<std::uint8_t>(model.input_shape(), 4);
  for (Index i = 0; i < shared.size(); ++i) shared.data()[i] = i % 3 == 0;
  for (Index i = 0; i < per_chain.size(); ++i) per_chain.data()[i] = i % 5 < 2;
  LangevinWorkspace<float> ws;
  GradeWorkspace<float> gws;
  double watched = 0;
  auto observer = [&](const SamplerDiagnostics& d) { watched += d.mean_energy(); };
  for (const PixelMask* mask : {&shared, &per_chain}) {
    for (bool metropolis : {false, true}) {
      INFO("metropolis " << metropolis << ", masks " << batch_size(*mask));
      LangevinOptions options{0.3, 5, 1.0, metropolis};
      options.fixed = mask;
      langevin(model, x, options, engine, ws);
      langevin(model, x, options, engine, ws, observer);
      gconvnet::test::start_counting_allocations();
      langevin(model, x, options, engine, ws);
      langevin(model, x, options, engine, ws, observer);
      CHECK(gconvnet::test::stop_counting_allocations() == 0);
    }
    GradeOptions grade{0.5, 2, 1.0, 0.0};
    grade.fixed = mask;
    Batch<float> y = x;
    grade_descent(model, y, grade, gws, observer);
    y = x;
    gconvnet::test::start_counting_allocations();
    grade_descent(model, y, grade, gws, observer);
    const long two = gconvnet::test::stop_counting_allocations();
    grade.max_steps = 12;
    y = x;
    gconvnet::test::start_counting_allocations();
    grade_descent(model, y, grade, gws, observer);
    CHECK(gconvnet::test::stop_counting_allocations() == two);
  }
  CHECK(std::isfinite(watched));
}
