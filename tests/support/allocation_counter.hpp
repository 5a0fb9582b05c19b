// Counts heap allocations in a test program, so tests can show that a hot path (a Langevin step, a
// learning step, a model pass) allocates nothing after its first call. allocation_counter.cpp replaces
// the C allocator of every test executable (the glibc manual's "Replacing malloc": malloc, free, calloc,
// realloc and the aligned variants, forwarding to glibc's own __libc_* functions); operator new and
// Eigen's aligned_malloc both end in malloc, so every allocation of the library, Eigen and libgomp is
// seen. Counting is off except between start and stop. Under a sanitizer (which brings its own
// allocator) or without glibc nothing is replaced: allocation_counting_available() is false and the
// count stays 0, so tests check it first and say that they were skipped.
//
// Also here: OmpThreads, which sets the OpenMP thread count for a scope.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gconvnet::test {

/// Whether allocations are counted in this build (glibc, no sanitizer).
bool allocation_counting_available();

/// Starts counting from zero. With skip_openmp_runtime, allocations made by libgomp itself (its team of
/// threads, allocated anew for every parallel region run by one thread) are not counted.
void start_counting_allocations(bool skip_openmp_runtime = false);

/// Stops counting; the number of allocations since the start.
long stop_counting_allocations();

/// The number of allocations f() makes (see start_counting_allocations for skip_openmp_runtime).
template <class F>
long count_allocations(F&& f, bool skip_openmp_runtime = false) {
  start_counting_allocations(skip_openmp_runtime);
  f();
  return stop_counting_allocations();
}

/// Sets the OpenMP thread count for a scope, then restores it (no-op without OpenMP).
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

}  // namespace gconvnet::test
