// The Langevin noise: standard_normal keeps its stream (the ziggurat's fast path now inlined, its rare
// cases out of line), Philox4x32-10 matches the published known answers, and
// fill_standard_normal_parallel gives N(0, 1) values that depend on the engine state and the index
// only: the same with 1 and 2 threads, one key drawn per call, a longer fill starting with a shorter one.
#include <gconvnet/sampling/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <catch2/catch.hpp>

using namespace gconvnet;

namespace {

// The ziggurat as main had it before the fast path was split off: one loop, every case inline.
template <class Engine>
double reference_standard_normal(Engine& engine) {
  const detail::Ziggurat& z = detail::ziggurat();
  for (;;) {
    const std::uint64_t bits = random_bits64(engine);
    const int i = static_cast<int>(bits & 127u);
    const double u = 2.0 * (static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
    if (std::abs(u) < z.ratio[static_cast<std::size_t>(i)]) return u * z.x[static_cast<std::size_t>(i)];
    if (i == 0) {
      double t, y;
      do {
        t = std::log(1.0 - uniform01(engine)) / detail::Ziggurat::r;
        y = std::log(1.0 - uniform01(engine));
      } while (-2.0 * y < t * t);
      return u < 0 ? t - detail::Ziggurat::r : detail::Ziggurat::r - t;
    }
    const double xi = z.x[static_cast<std::size_t>(i)], xn = z.x[static_cast<std::size_t>(i) + 1];
    const double t = u * xi;
    const double f0 = std::exp(-0.5 * (xi * xi - t * t));
    const double f1 = std::exp(-0.5 * (xn * xn - t * t));
    if (f1 + uniform01(engine) * (f0 - f1) < 1.0) return t;
  }
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

TEST_CASE("standard_normal keeps its stream: the same draws, the same engine state after", "[perf_paths][noise]") {
  std::mt19937_64 a(123), b(123);
  // 200000 draws meet about 5600 rare cases (wedges and tails), each consuming extra engine outputs
  for (int i = 0; i < 200000; ++i) {
    const double x = standard_normal(a), y = reference_standard_normal(b);
    if (x != y) {
      FAIL_CHECK("draw " << i << ": " << x << " against " << y);
      break;
    }
  }
  CHECK(a() == b());
}

TEST_CASE("Philox4x32-10 gives Random123's known answers", "[perf_paths][noise]") {
  const std::uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                   {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                   {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  const std::uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
  const std::uint32_t expected[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                        {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                        {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  for (int t = 0; t < 3; ++t) {
    std::uint32_t out[4];
    detail::philox4x32_10(ctr[t], key[t], out);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == expected[t][i]);
  }
}

TEST_CASE("fill_standard_normal_parallel: N(0, 1), independent of the thread count, one key per call",
          "[perf_paths][noise][threads]") {
  const Index n = 5 * detail::normal_block + 123;  // six blocks, the last one short
  std::vector<float> v[2];
  std::mt19937_64 engines[2] = {std::mt19937_64(9), std::mt19937_64(9)};
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
#endif
  const double saved_work = detail::parallel_min_work();
  detail::set_parallel_min_work(0);  // two blocks or more go to the team
  for (int t = 0; t < 2; ++t) {
#ifdef _OPENMP
    omp_set_num_threads(t + 1);
#endif
    v[t].resize(static_cast<std::size_t>(n));
    fill_standard_normal_parallel(engines[t], v[t].data(), n);
  }
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
  detail::set_parallel_min_work(saved_work);
  CHECK(v[0] == v[1]);

  // exactly one random_bits64 per call, whatever n
  std::mt19937_64 e(9), reference(9);
  std::vector<double> w(1000);
  fill_standard_normal_parallel(e, w.data(), 0);
  fill_standard_normal_parallel(e, w.data(), static_cast<Index>(w.size()));
  reference.discard(2);
  CHECK(e() == reference());

  // value i depends on the key and i only: a shorter fill is a prefix of a longer one
  std::mt19937_64 e1(4), e2(4);
  std::vector<double> longer(static_cast<std::size_t>(3 * detail::normal_block)), shorter(detail::normal_block + 7);
  fill_standard_normal_parallel(e1, longer.data(), static_cast<Index>(longer.size()));
  fill_standard_normal_parallel(e2, shorter.data(), static_cast<Index>(shorter.size()));
  CHECK(std::equal(shorter.begin(), shorter.end(), longer.begin()));
  // and another engine state gives other values
  std::mt19937_64 e3(5);
  fill_standard_normal_parallel(e3, shorter.data(), static_cast<Index>(shorter.size()));
  CHECK_FALSE(std::equal(shorter.begin(), shorter.end(), longer.begin()));

  // N(0, 1) over 400000 values from 49 blocks, as tests/sampling checks fill_standard_normal:
  // k = 4 standard errors for the moments and tails, chi-square over 64 equal-probability bins (63
  // degrees of freedom, bound 114 = the 1 − 1e-4 quantile).
  std::mt19937_64 engine(77);
  std::vector<double> x(400000);
  fill_standard_normal_parallel(engine, x.data(), static_cast<Index>(x.size()));
  const double N = static_cast<double>(x.size());
  double mean = 0, m2 = 0, m4 = 0;
  for (double z : x) mean += z / N;
  for (double z : x) m2 += (z - mean) * (z - mean) / (N - 1), m4 += z * z * z * z / N;
  CHECK(std::abs(mean) <= 4 / std::sqrt(N));
  CHECK(std::abs(m2 - 1) <= 4 * std::sqrt(2 / N));
  CHECK(std::abs(m4 - 3) <= 4 * std::sqrt(96 / N));
  for (double c : {1.0, 2.0, 3.0, 3.442619855899, 4.0}) {
    const double p = std::erfc(c / std::sqrt(2.0));
    double tail = 0;
    for (double z : x) tail += std::abs(z) > c ? 1.0 / N : 0.0;
    INFO("P(|Z| > " << c << ") = " << tail << ", exact " << p);
    CHECK(std::abs(tail - p) <= 4 * std::sqrt(p * (1 - p) / N));
  }
  std::vector<double> counts(64, 0.0);
  for (double z : x) counts[static_cast<std::size_t>(std::min(63, static_cast<int>(64 * normal_cdf(z))))] += 1;
  double chi2 = 0;
  for (double c : counts) chi2 += (c - N / 64) * (c - N / 64) / (N / 64);
  INFO("chi-square " << chi2 << " on 63 degrees of freedom");
  CHECK(chi2 < 114);
  // neighbouring values and the first values of neighbouring blocks are uncorrelated: the sample
  // correlation of n pairs has SE 1/√n (k = 4)
  double lag = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) lag += x[i] * x[i + 1];
  CHECK(std::abs(lag / (N - 1)) <= 4 / std::sqrt(N - 1));
  const Index B = detail::normal_block, blocks = static_cast<Index>(x.size()) / B;
  for (Index offset : {Index{0}, Index{1}}) {
    double across = 0;
    for (Index i = 0; i < B - 1; ++i)
      for (Index b = 0; b + 1 < blocks; ++b)
        across += x[static_cast<std::size_t>(b * B + i + offset)] * x[static_cast<std::size_t>((b + 1) * B + i)];
    const double pairs = static_cast<double>((B - 1) * (blocks - 1));
    CHECK(std::abs(across / pairs) <= 4 / std::sqrt(pairs));
  }
}
