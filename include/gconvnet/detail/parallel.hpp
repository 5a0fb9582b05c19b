// gconvnet/detail/parallel.hpp — not API. Loops over independent pieces of work that OpenMP may share
// between threads when the program is built with it, and the estimate of work below which they stay
// on the calling thread.
//
// Results never depend on the thread count. Callers cut their work into pieces fixed by the problem
// (its shape, never the number of threads); every piece writes memory no other piece touches; any sum
// over pieces is taken in a fixed order over those fixed pieces. Which thread runs a piece, and whether
// a team runs at all, changes the speed only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gconvnet::detail {

/// Rough one-core costs in nanoseconds: the units of the work estimates given to parallel_for. An order
/// of magnitude is enough, they only decide whether a loop is worth a team of threads.
namespace cost {
inline constexpr double mac = 0.03;    ///< a multiply-add inside a GEMM or a Winograd product
inline constexpr double scalar = 0.3;  ///< a scalar read or written by a pass over memory (im2col, ReLU, …)
inline constexpr double normal = 5;    ///< one N(0, 1) draw
}  // namespace cost

/// Estimated one-core nanoseconds of work below which a loop runs on the calling thread: opening a
/// region costs microseconds on an idle machine (docs/performance.md, "Threads").
#ifndef GCONVNET_PARALLEL_MIN_WORK
#define GCONVNET_PARALLEL_MIN_WORK 500000
#endif

inline std::atomic<double>& parallel_min_work_setting() {
  static std::atomic<double> ns{GCONVNET_PARALLEL_MIN_WORK};
  return ns;
}

/// The threshold (estimated nanoseconds) below which parallel_for runs inline, before the team
/// latency is taken into account (see team_latency).
inline double parallel_min_work() { return parallel_min_work_setting().load(std::memory_order_relaxed); }

/// Sets that threshold (benchmarks: to measure it; tests: 0 sends every loop of two or more pieces to
/// the team, whatever the team latency). Results do not depend on it.
inline void set_parallel_min_work(double ns) { parallel_min_work_setting().store(ns, std::memory_order_relaxed); }

/// Nanoseconds on a monotonic clock.
inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// How late the workers of recent teams started, in nanoseconds: on a loaded machine a worker may wait
/// for a core for a scheduler time slice (milliseconds), and the region cannot end before it arrives,
/// so a loop shorter than that is faster on one thread. Each region records the latest start of its
/// workers; the estimate is the running mean of those (half old, half new), halved for every
/// team_latency_half_life of age, so that an idle machine soon gets its teams back.
struct TeamLatency {
  std::atomic<double> ns{0};
  std::atomic<std::int64_t> at{0};
};
inline TeamLatency& team_latency_state() {
  static TeamLatency state;
  return state;
}
constexpr double team_latency_half_life = 0.25e9;  // ns
/// Loops below this many times the team latency run inline.
constexpr double team_latency_factor = 3;

/// The current estimate of how late workers start (ns).
inline double team_latency(std::int64_t now = monotonic_ns()) {
  const TeamLatency& t = team_latency_state();
  const double age = static_cast<double>(now - t.at.load(std::memory_order_relaxed));
  return t.ns.load(std::memory_order_relaxed) * std::exp2(-std::max(age, 0.0) / team_latency_half_life);
}

/// Records that the last worker of a team started `late` nanoseconds after the region began.
inline void note_team_latency(double late) {
  TeamLatency& t = team_latency_state();
  const std::int64_t now = monotonic_ns();
  const double mean = 0.5 * team_latency(now) + 0.5 * late;
  t.ns.store(mean, std::memory_order_relaxed);
  t.at.store(now, std::memory_order_relaxed);
}

/// Threads a team would have (omp_get_max_threads(); 1 without OpenMP).
inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// The calling thread's index in its team (0 outside a team): which per-thread buffer a piece uses.
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Whether `pieces` pieces of `work` estimated nanoseconds in all go to a team: more than one thread,
/// at least two pieces, not already inside a parallel region (a nested region would be a team of one,
/// which libgomp allocates every time), and enough work: at least parallel_min_work() and, unless that
/// is 0, team_latency_factor times the team latency.
inline bool use_team(std::ptrdiff_t pieces, double work) {
#ifdef _OPENMP
  if (pieces < 2 || omp_get_max_threads() < 2 || omp_in_parallel()) return false;
  const double min_work = parallel_min_work();
  if (min_work <= 0) return true;
  return work >= min_work && work >= team_latency_factor * team_latency();
#else
  (void)pieces, (void)work;
  return false;
#endif
}

#ifdef _OPENMP
/// Inside a team's region: records when the calling thread started (the latest start of the team in
/// `latest`, nanoseconds after `begin`).
inline void note_start(std::int64_t begin, std::atomic<std::int64_t>& latest) {
  const std::int64_t late = monotonic_ns() - begin;
  std::int64_t seen = latest.load(std::memory_order_relaxed);
  while (late > seen && !latest.compare_exchange_weak(seen, late, std::memory_order_relaxed)) {
  }
}
#endif

/// Iterations handed out at a time to a team of `threads` sharing n: about 16 grains per thread, so that
/// threads finish within a sixteenth of their share of each other.
inline std::ptrdiff_t dynamic_grain(std::ptrdiff_t n, int threads) {
  return std::max<std::ptrdiff_t>(1, n / (16 * static_cast<std::ptrdiff_t>(std::max(threads, 1))));
}

/// Runs body(team) once on every thread of a team (team = true) when use_team(pieces, work), once on
/// the calling thread (team = false) otherwise; inside, team_for shares loops among the team.
template <class F>
void parallel_region([[maybe_unused]] std::ptrdiff_t pieces, [[maybe_unused]] double work, F&& body) {
#ifdef _OPENMP
  if (use_team(pieces, work)) {
    const std::int64_t begin = monotonic_ns();
    std::atomic<std::int64_t> latest{0};
#pragma omp parallel
    {
      note_start(begin, latest);
      body(true);
    }
    note_team_latency(static_cast<double>(latest.load()));
    return;
  }
#endif
  body(false);
}

/// Inside parallel_region: calls f(i) for i in [0, n) as a worksharing loop of the team (dynamic; every
/// thread of the team must reach it; it ends with a barrier) when `team`, as a plain loop otherwise.
template <class I, class F>
void team_for(I n, bool team, F&& f) {
#ifdef _OPENMP
  if (team) {
    const I grain = static_cast<I>(dynamic_grain(static_cast<std::ptrdiff_t>(n), omp_get_num_threads()));
#pragma omp for schedule(dynamic, grain)
    for (I i = 0; i < n; ++i) f(i);
    return;
  }
#else
  (void)team;
#endif
  for (I i = 0; i < n; ++i) f(i);
}

/// Calls body(i) for i = 0, …, n−1: shared among the OpenMP threads when use_team(n, work), handed out
/// dynamically (a thread the system holds back does not hold up the others), otherwise in order on the
/// calling thread. Every team has all omp_get_max_threads() threads, so libgomp reuses one team and
/// allocates nothing after the first region; with a single thread nothing enters OpenMP at all
/// (libgomp allocates a team for every region of one thread, and the hot path must not allocate).
/// requires: the iterations are independent (each writes memory no other touches).
template <class I, class F>
void parallel_for(I n, double work, F&& body) {
  parallel_region(static_cast<std::ptrdiff_t>(n), work, [&](bool team) { team_for(n, team, body); });
}

/// Pieces of at most `size` items (size ≥ 1) covering n items: ⌈n / size⌉.
inline std::ptrdiff_t pieces_of(std::ptrdiff_t n, std::ptrdiff_t size) { return (n + size - 1) / size; }

/// Values per piece of an elementwise pass: a multiple of every SIMD width, so that each value is
/// computed by the same instructions whichever piece it falls in.
constexpr std::ptrdiff_t elementwise_block = 1 << 14;

/// Calls body(begin, length) for the consecutive blocks of elementwise_block values covering [0, size)
/// (the last one shorter), shared among the threads as parallel_for does; `work` estimates the whole.
template <class I, class F>
void parallel_blocks(I size, double work, F&& body) {
  const I block = static_cast<I>(elementwise_block);
  parallel_for(static_cast<I>(pieces_of(size, block)), work, [&](I b) {
    const I begin = b * block;
    body(begin, std::min(block, size - begin));
  });
}

}  // namespace gconvnet::detail
