// The allocation counter of allocation_counter.hpp: the C allocator replaced for the test executable.
#include "support/allocation_counter.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

// A sanitizer brings its own allocator: replacing malloc under it would break it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define GCONVNET_TEST_REPLACE_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GCONVNET_TEST_REPLACE_MALLOC 0
#endif
#endif
#ifndef GCONVNET_TEST_REPLACE_MALLOC
#define GCONVNET_TEST_REPLACE_MALLOC 1
#endif

#if GCONVNET_TEST_REPLACE_MALLOC
#include <link.h>

namespace {

std::atomic<bool> counting{false};
std::atomic<bool> skipping_openmp{false};
std::atomic<long> allocations{0};

// The executable code of libgomp, found once (dl_iterate_phdr), for skip_openmp_runtime.
struct CodeRange {
  std::uintptr_t begin = 0, end = 0;
};
CodeRange openmp_runtime[4];
int openmp_ranges = -1;  // -1: not looked up yet

int find_openmp_runtime(dl_phdr_info* info, std::size_t, void*) {
  if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libgomp")) return 0;
  for (int i = 0; i < info->dlpi_phnum && openmp_ranges < 4; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
      openmp_runtime[openmp_ranges++] = {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz};
  }
  return 1;
}

inline void note_allocation(void* caller) {
  if (!counting.load(std::memory_order_relaxed)) return;
  if (skipping_openmp.load(std::memory_order_relaxed)) {
    const auto at = reinterpret_cast<std::uintptr_t>(caller);
    for (int i = 0; i < openmp_ranges; ++i)
      if (at >= openmp_runtime[i].begin && at < openmp_runtime[i].end) return;
  }
  allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  return __libc_malloc(n);
}
void free(void* p) noexcept { __libc_free(p); }
void* calloc(std::size_t count, std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  return __libc_calloc(count, n);
}
void* realloc(void* p, std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  note_allocation(__builtin_return_address(0));
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr && n != 0) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif  // GCONVNET_TEST_REPLACE_MALLOC

namespace gconvnet::test {

#if GCONVNET_TEST_REPLACE_MALLOC
bool allocation_counting_available() { return true; }
void start_counting_allocations(bool skip_openmp_runtime) {
  if (skip_openmp_runtime && openmp_ranges < 0) {
    openmp_ranges = 0;
    dl_iterate_phdr(find_openmp_runtime, nullptr);
  }
  skipping_openmp.store(skip_openmp_runtime);
  allocations.store(0);
  counting.store(true);
}
long stop_counting_allocations() {
  counting.store(false);
  return allocations.load();
}
#else
bool allocation_counting_available() { return false; }
void start_counting_allocations(bool) {}
long stop_counting_allocations() { return 0; }
#endif

}  // namespace gconvnet::test
