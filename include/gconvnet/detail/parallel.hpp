// gconvnet/detail/parallel.hpp — not API. A loop over independent iterations that OpenMP may share
// between threads when the program is built with it. Every iteration writes memory no other iteration
// touches, so results do not depend on the thread count.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#define GCONVNET_PARALLEL_FOR _Pragma("omp parallel for schedule(static)")
#else
#define GCONVNET_PARALLEL_FOR
#endif
