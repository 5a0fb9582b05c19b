// gconvnet/sampling/random.hpp — Gaussian and uniform draws straight from the caller's engine.
//
// The standard library's distributions may keep state between calls (libstdc++'s normal_distribution
// caches the second Box–Muller value) and differ between standard libraries. These functions keep
// none: every value is a fixed function of the engine's outputs, so the same engine state gives the
// same numbers on every platform, and splitting a run into several calls changes nothing.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "gconvnet/core/tensor.hpp"

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

/// One N(0, 1) draw by the ziggurat method (about 1.02 engine outputs per value on average): the low
/// 7 bits of a 64-bit draw pick the layer, its high 53 bits the signed abscissa; the rare wedge and
/// tail cases draw more. Exact up to the 53-bit resolution of the uniforms.
template <class Engine>
double standard_normal(Engine& engine) {
  const detail::Ziggurat& z = detail::ziggurat();
  for (;;) {
    const std::uint64_t bits = random_bits64(engine);
    const int i = static_cast<int>(bits & 127u);
    const double u = 2.0 * (static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0)) - 1.0;  // [−1, 1)
    if (std::abs(u) < z.ratio[static_cast<std::size_t>(i)]) return u * z.x[static_cast<std::size_t>(i)];
    if (i == 0) {  // the tail beyond R (Marsaglia 1964)
      double t, y;
      do {
        t = std::log(1.0 - uniform01(engine)) / detail::Ziggurat::r;  // ≤ 0
        y = std::log(1.0 - uniform01(engine));
      } while (-2.0 * y < t * t);
      return u < 0 ? t - detail::Ziggurat::r : detail::Ziggurat::r - t;
    }
    // The wedge between layers i and i+1: accept under the density.
    const double xi = z.x[static_cast<std::size_t>(i)], xn = z.x[static_cast<std::size_t>(i) + 1];
    const double t = u * xi;
    const double f0 = std::exp(-0.5 * (xi * xi - t * t));
    const double f1 = std::exp(-0.5 * (xn * xn - t * t));
    if (f1 + uniform01(engine) * (f0 - f1) < 1.0) return t;
  }
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

}  // namespace gconvnet
