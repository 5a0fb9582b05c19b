// The Langevin hot path on the fast convolution path allocates nothing after the first call, with one
// thread (nothing may enter OpenMP: libgomp allocates a team for every one-thread parallel region)
// and with two, on the paper's net at sizes where the Winograd path runs as one shared block and as
// per-thread chunks, with the default parallel threshold and with every loop in the team; and a whole
// Langevin call (noise, move, finite check) allocates nothing either.
//
// Allocations are counted by support/allocation_counter.hpp (libgomp's included).
#include <gconvnet/gconvnet.hpp>

#include <random>
#include <utility>

#include <catch2/catch.hpp>

#include "support/allocation_counter.hpp"

using namespace gconvnet;
using gconvnet::test::count_allocations;

TEST_CASE("The Winograd path allocates nothing per Langevin step, one and two threads", "[perf_paths][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off (sanitizer or non-glibc build)");
    return;
  }
  static void* volatile sink = nullptr;
  REQUIRE(count_allocations([] { sink = ::operator new(64); }) == 1);  // the counter sees operator new
  ::operator delete(sink);
  const double saved_work = detail::parallel_min_work();
  // 56²: every layer under 256 tiles (one shared block); 112² with 3 chains: per-thread chunks. With
  // the default threshold some loops of these sizes stay on one thread; with 0 every loop of two or
  // more pieces goes to the team.
  for (const auto& [size, chains] : {std::pair<Index, Index>{56, 1}, {112, 3}})
    for (int threads : {1, 2})
      for (double min_work : {saved_work, 0.0}) {
        CAPTURE(size, chains, threads, min_work);
        detail::set_parallel_min_work(min_work);
        const gconvnet::test::OmpThreads scope(threads);
        EnergyModel model(Shape{3, size, size}, Conv<float>(100, 15).stride(3).padding(2), ReLU<float>{},
                          Conv<float>(64, 5).padding(2), ReLU<float>{}, Conv<float>(30, 3).padding(2), ReLU<float>{});
        REQUIRE(model.layer<0>().active_algorithm() == ConvAlgorithm::winograd);
        REQUIRE(model.layer<2>().active_algorithm() == ConvAlgorithm::winograd);
        REQUIRE(model.layer<4>().active_algorithm() == ConvAlgorithm::winograd);
        std::mt19937_64 engine(7);
        initialize_normal(model, engine, 0.01);
        Batch<float> x = make_batch<float>(model.input_shape(), chains);
        x.setRandom();
        Vector<float> scores;
        Batch<float> grad;
        ActivationPattern<float> pattern;
        Reconstruction<float> rec;
        Gradients<float> g = model.zero_gradients();
        for (int round = 0; round < 2; ++round) {
          model.score_and_gradient(x, scores, grad);
          model.bottom_up(x, pattern);
          model.top_down(pattern, rec);
          model.accumulate_parameter_gradient(x, g, 1.f);
        }
        CHECK(count_allocations([&] { model.score_and_gradient(x, scores, grad); }) == 0);
        CHECK(count_allocations([&] { model.top_down(pattern, rec); }) == 0);
        // weights changed in place (an optimizer step): the transformed filters are redone in place
        for (auto& p : model.parameters()) p.vector() *= 1.01f;
        CHECK(count_allocations([&] { model.score_and_gradient(x, scores, grad); }) == 0);
        CHECK(count_allocations([&] { model.accumulate_parameter_gradient(x, g, 1.f); }) == 0);
        // a whole Langevin call: the noise, the move and the finite check, plain and MALA
        LangevinWorkspace<float> ws;
        for (bool metropolis : {false, true}) {
          LangevinOptions options;
          options.step_size = 0.01;
          options.steps = 2;
          options.metropolis = metropolis;
          langevin(model, x, options, engine, ws);
          CHECK(count_allocations([&] { langevin(model, x, options, engine, ws); }) == 0);
        }
      }
  detail::set_parallel_min_work(saved_work);
}
