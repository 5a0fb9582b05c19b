// Timing of one Langevin step of the paper's texture net (Exp. 1): hidden from ctest (tag [.bench]).
// Run:  OMP_NUM_THREADS=2 build/tests/test_sampling "[.bench]" -s
#include "sampling/allocation_counter.hpp"
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>
#include <iostream>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace gconvnet;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Minimum and median of `reps` timings of f(), in milliseconds (the minimum is the least disturbed by
// other processes on a shared machine).
template <class F>
std::pair<double, double> time_ms(int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(1e3 * seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

}  // namespace

TEST_CASE("bench: one Langevin step of the texture net at 224x224", "[.bench]") {
  // conv 3→100 15×15 stride 3 pad 2, ReLU; conv 100→64 5×5 pad 2, ReLU; conv 64→30 3×3 pad 2, ReLU.
  EnergyModel model(Shape{3, 224, 224}, Conv<float>(100, 15, 3, 2), ReLU<float>{}, Conv<float>(64, 5, 1, 2),
                    ReLU<float>{}, Conv<float>(30, 3, 1, 2), ReLU<float>{});
  std::mt19937_64 engine(1);
  initialize_normal(model, engine, 0.01);
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  std::cout << model.summary() << "MAC per image (forward): " << model.macs() << ", OpenMP threads " << threads
            << ", Eigen threads " << Eigen::nbThreads() << "\n";
  for (Index chains : {Index(1), Index(16)}) {
    Batch<float> x = gconvnet::test::zero_chains<float>(model.input_shape(), chains);
    LangevinWorkspace<float> ws;
    const int reps = chains == 1 ? 7 : 5;
    std::cout << chains << " chain(s), min / median of " << reps << " (ms):\n";
    const LangevinOptions plain{0.3, 1, 1.0};
    langevin(model, x, plain, engine, ws);  // warm-up: buffers sized
    const auto t = time_ms(reps, [&] { langevin(model, x, plain, engine, ws); });
    std::cout << "  plain step: " << t.first << " / " << t.second << "\n";
    const LangevinOptions mala{0.3, reps, 1.0, true};
    langevin(model, x, LangevinOptions{0.3, 1, 1.0, true}, engine, ws);
    auto t0 = std::chrono::steady_clock::now();
    langevin(model, x, mala, engine, ws);
    std::cout << "  MALA: one call of " << reps << " steps (" << reps + 1 << " evaluations): "
              << 1e3 * seconds_since(t0) / reps << " per step, acceptance " << ws.report.acceptance_rate() << "\n";
    for (bool metropolis : {false, true}) {
      gconvnet::test::start_counting_allocations();
      langevin(model, x, LangevinOptions{0.3, 2, 1.0, metropolis}, engine, ws);
      std::cout << "  heap allocations in a warm call of 2 " << (metropolis ? "MALA" : "plain")
                << " steps: " << gconvnet::test::stop_counting_allocations() << "\n";
    }
    // Where the time goes: the model's forward + top-down pass vs the sampler's own work.
    Vector<float> scores;
    Batch<float> gradient;
    model.score_and_gradient(x, scores, gradient);
    const auto eval = time_ms(reps, [&] { model.score_and_gradient(x, scores, gradient); });
    const auto noise = time_ms(reps, [&] { fill_standard_normal_parallel(engine, ws.noise); });
    const auto update = time_ms(reps, [&] {
      detail::langevin_move(random_bits64(engine), x.data(), gradient.data(), ws.noise.data(), x.data(), x.size(),
                            0.955f, 0.045f, 0.3f);
    });
    std::cout << "  score_and_gradient: " << eval.first << " / " << eval.second << "\n  noise ("
              << chains * model.input_shape().size() << " normals): " << noise.first << " / " << noise.second
              << "\n  noise + update + NaN check: " << update.first << " / " << update.second << "\n";
  }
}
