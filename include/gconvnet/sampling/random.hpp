// gconvnet/sampling/random.hpp — Gaussian and uniform draws straight from the caller's engine.
//
// The standard library's distributions may keep state between calls (libstdc++'s normal_distribution
// caches the second Box–Muller value) and differ between standard libraries. These functions keep
// none: every value is a fixed function of the engine's outputs, so the same engine state gives the
// same numbers on every platform, and splitting a run into several calls changes nothing.
// fill_standard_normal_parallel, for many values at once (the Langevin noise), draws one key from the
// engine and fills fixed blocks from generators started by a counter-based one (Philox4x32-10) keyed
// by it and the block number, so that
// threads can share the blocks: its values depend on the engine state, never on the thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"

namespace gconvnet {

/// 64 random bits: one output of a 64-bit engine (std::mt19937_64), two of a 32-bit engine
/// (std::mt19937, high word first), std::uniform_int_distribution over the full range otherwise.
/// requires: Engine is a UniformRandomBitGenerator. Deterministic for a given engine state.
template <class Engine>
std::uint64_t random_bits64(Engine& engine) {
  if constexpr (Engine::min() == 0 && Engine::max() == std::numeric_limits<std::uint64_t>::max()) {
    return static_cast<std::uint64_t>(engine());
  } else if constexpr (Engine::min() == 0 && Engine::max() == std::numeric_limits<std::uint32_t>::max()) {
    const std::uint64_t hi = static_cast<std::uint32_t>(engine());
    const std::uint64_t lo = static_cast<std::uint32_t>(engine());
    return (hi << 32) | lo;
  } else {
    return std::uniform_int_distribution<std::uint64_t>()(engine);
  }
}

/// A uniform draw in [0, 1) with 53 random bits (the high bits of random_bits64).
template <class Engine>
double uniform01(Engine& engine) {
  return static_cast<double>(random_bits64(engine) >> 11) * (1.0 / 9007199254740992.0);
}

namespace detail {

// The 128-layer ziggurat of Marsaglia & Tsang (2000) in Doornik's form (ZIGNOR, 2005): layer i spans
// |x| < x[i], the layers and the base strip (rectangle plus tail beyond R) have equal area V under
// f(x) = exp(−x²/2).
struct Ziggurat {
  static constexpr int layers = 128;
  static constexpr double r = 3.442619855899;           // start of the tail
  static constexpr double v = 9.91256303526217e-3;      // area of every layer
  std::array<double, layers + 1> x{};
  std::array<double, layers> ratio{};                    // x[i+1] / x[i]

  Ziggurat() {
    auto f = [](double t) { return std::exp(-0.5 * t * t); };
    x[0] = v / f(r);
    x[1] = r;
    for (int i = 2; i < layers; ++i) x[i] = std::sqrt(-2.0 * std::log(v / x[i - 1] + f(x[i - 1])));
    x[layers] = 0.0;
    for (int i = 0; i < layers; ++i) ratio[i] = x[i + 1] / x[i];
  }
};

inline const Ziggurat& ziggurat() {
  static const Ziggurat table;
  return table;
}

}  // namespace detail

namespace detail {

// The ziggurat's rare cases (about 2.8 % of the draws): the tail, the wedges, and the draws that follow
// a rejection, from the first draw `bits` that missed the fast test. Kept out of line so that the
// fast path stays small enough to inline.
template <class Engine>
#if defined(__GNUC__)
__attribute__((noinline))
#endif
double standard_normal_rare(Engine& engine, std::uint64_t bits) {
  const Ziggurat& z = ziggurat();
  for (;;) {
    const int i = static_cast<int>(bits & 127u);
    const double u = 2.0 * (static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0)) - 1.0;  // [−1, 1)
    if (std::abs(u) < z.ratio[static_cast<std::size_t>(i)]) return u * z.x[static_cast<std::size_t>(i)];
    if (i == 0) {  // the tail beyond R (Marsaglia 1964)
      double t, y;
      do {
        t = std::log(1.0 - uniform01(engine)) / Ziggurat::r;  // ≤ 0
        y = std::log(1.0 - uniform01(engine));
      } while (-2.0 * y < t * t);
      return u < 0 ? t - Ziggurat::r : Ziggurat::r - t;
    }
    // The wedge between layers i and i+1: accept under the density.
    const double xi = z.x[static_cast<std::size_t>(i)], xn = z.x[static_cast<std::size_t>(i) + 1];
    const double t = u * xi;
    const double f0 = std::exp(-0.5 * (xi * xi - t * t));
    const double f1 = std::exp(-0.5 * (xn * xn - t * t));
    if (f1 + uniform01(engine) * (f0 - f1) < 1.0) return t;
    bits = random_bits64(engine);
  }
}

}  // namespace detail

/// One N(0, 1) draw by the ziggurat method (about 1.03 engine outputs per value on average): the low
/// 7 bits of a 64-bit draw pick the layer, its high 53 bits the signed abscissa; the rare wedge and
/// tail cases draw more. Exact up to the 53-bit resolution of the uniforms.
template <class Engine>
inline double standard_normal(Engine& engine) {
  const detail::Ziggurat& z = detail::ziggurat();
  const std::uint64_t bits = random_bits64(engine);
  const int i = static_cast<int>(bits & 127u);
  const double u = 2.0 * (static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0)) - 1.0;  // [−1, 1)
  if (std::abs(u) < z.ratio[static_cast<std::size_t>(i)]) return u * z.x[static_cast<std::size_t>(i)];
  return detail::standard_normal_rare(engine, bits);
}

/// Fills out[0..n) with independent N(0, 1) draws (standard_normal, in order). Nothing is carried over
/// to the next call, so n values at once equal any split into consecutive calls.
/// requires: out points to n writable values (n ≥ 0).
template <class S, class Engine>
void fill_standard_normal(Engine& engine, S* out, Index n) {
  for (Index i = 0; i < n; ++i) out[i] = static_cast<S>(standard_normal(engine));
}

/// Fills every entry of `t` (an image, a batch) with N(0, 1) draws; see above.
template <class S, int R, class Engine>
void fill_standard_normal(Engine& engine, Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  fill_standard_normal(engine, t.data(), t.size());
}

namespace detail {

/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
/// a keyed bijection of a 128-bit counter, ten rounds of two 32×32→64-bit multiplications. out may
/// alias ctr.
inline void philox4x32_10(const std::uint32_t ctr[4], const std::uint32_t key[2], std::uint32_t out[4]) {
  std::uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{0xD2511F53u} * c0, p1 = std::uint64_t{0xCD9E8D57u} * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/// Values per block of fill_standard_normal_parallel: block b holds out[b·B, (b+1)·B).
constexpr Index normal_block = 8192;

/// A UniformRandomBitGenerator of 64-bit words for block `block` under `key`: xoshiro256++ (Blackman
/// and Vigna, 2018; period 2²⁵⁶ − 1) started from the 256 bits Philox4x32-10 gives for the counters
/// (0, 0, b₀, b₁) and (1, 0, b₀, b₁), b₀ and b₁ the low and high words of the block number, and the
/// key's low and high words. Philox is a keyed bijection, so blocks and keys get unrelated states;
/// xoshiro then makes a word in about a nanosecond.
class BlockStream {
public:
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  BlockStream(std::uint64_t key, std::uint64_t block) {
    const std::uint32_t k[2] = {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
    const std::uint32_t b0 = static_cast<std::uint32_t>(block), b1 = static_cast<std::uint32_t>(block >> 32);
    std::uint32_t w[8];
    for (std::uint32_t j = 0; j < 2; ++j) {
      const std::uint32_t ctr[4] = {j, 0, b0, b1};
      philox4x32_10(ctr, k, w + 4 * j);
    }
    for (int i = 0; i < 4; ++i) s_[i] = (std::uint64_t{w[2 * i + 1]} << 32) | w[2 * i];
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one state xoshiro cannot leave
  }

  result_type operator()() {
    if (next_ == batch) refill();
    return words_[next_++];
  }

private:
  static constexpr int batch = 32;  // words made at a time, the state kept in registers meanwhile

  static std::uint64_t rotate(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  void refill() {
    std::uint64_t s0 = s_[0], s1 = s_[1], s2 = s_[2], s3 = s_[3];
    for (int i = 0; i < batch; ++i) {
      words_[i] = rotate(s0 + s3, 23) + s0;
      const std::uint64_t t = s1 << 17;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotate(s3, 45);
    }
    s_[0] = s0, s_[1] = s1, s_[2] = s2, s_[3] = s3;
    next_ = 0;
  }

  std::uint64_t s_[4];
  int next_ = batch;
  std::uint64_t words_[batch];
};

/// out[0..len) = standard_normal draws, in order, from BlockStream(key, block).
template <class S>
void fill_normal_block(std::uint64_t key, Index block, S* out, Index len) {
  BlockStream stream(key, static_cast<std::uint64_t>(block));
  for (Index i = 0; i < len; ++i) out[i] = static_cast<S>(standard_normal(stream));
}

}  // namespace detail

/// Fills out[0..n) with independent N(0, 1) draws, shared among the threads: one key is drawn from
/// `engine` (random_bits64), and block b of detail::normal_block values is the ziggurat (as in
/// standard_normal) fed by detail::BlockStream(key, b) (xoshiro256++ started by Philox4x32-10). The values depend on the engine's
/// state and on their index only, never on the thread count; every call draws exactly one key, so
/// (unlike fill_standard_normal) a split into two calls gives other values, and a call for n values
/// starts with the values a call for fewer would give.
/// requires: out points to n writable values (n ≥ 0).
template <class S, class Engine>
void fill_standard_normal_parallel(Engine& engine, S* out, Index n) {
  const std::uint64_t key = random_bits64(engine);
  const Index blocks = (n + detail::normal_block - 1) / detail::normal_block;
  detail::parallel_for(blocks, detail::cost::normal * static_cast<double>(n), [&](Index b) {
    const Index begin = b * detail::normal_block;
    detail::fill_normal_block(key, b, out + begin, std::min(detail::normal_block, n - begin));
  });
}

/// Fills every entry of `t` (an image, a batch) as fill_standard_normal_parallel does.
template <class S, int R, class Engine>
void fill_standard_normal_parallel(Engine& engine, Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  fill_standard_normal_parallel(engine, t.data(), t.size());
}

}  // namespace gconvnet
