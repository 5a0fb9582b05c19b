// gconvnet/detail/parallel.hpp — not API. A loop over independent iterations that OpenMP may share
// between threads when the program is built with it. Every iteration writes memory no other iteration
// touches, so results do not depend on the thread count.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gconvnet::detail {

/// Calls body(i) for i = 0, …, n−1, sharing the iterations between OpenMP threads when more than one
/// is available; the iterations must be independent (each writes memory no other touches).
/// With a single thread the loop runs directly, outside any parallel region: libgomp allocates (and
/// frees) a team for every parallel region entered with one thread, and the hot path must not allocate.
template <class I, class F>
void parallel_for(I n, F&& body) {
#ifdef _OPENMP
  if (omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (I i = 0; i < n; ++i) body(i);
    return;
  }
#endif
  for (I i = 0; i < n; ++i) body(i);
}

}  // namespace gconvnet::detail
