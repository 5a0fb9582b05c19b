// The hot path allocates nothing after the first call (DESIGN.md §2): repeated score_and_gradient,
// score, bottom_up, top_down and accumulate_parameter_gradient with the same batch size keep their
// buffers and call no allocator at all.
//
// Allocations are counted by support/allocation_counter.hpp: every heap allocation of the library,
// Eigen and libgomp.
#include <gconvnet/gconvnet.hpp>

#include <cstdlib>
#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"
#include "support/allocation_counter.hpp"

using namespace gconvnet;

namespace {

using gconvnet::test::count_allocations;
using gconvnet::test::OmpThreads;

/// Warms up every entry point twice, then counts the allocations of a third round, one entry point at a time.
template <class Model>
void check_no_allocation(const Model& model, Index batch, std::mt19937_64& engine) {  // the const queries
  using S = typename Model::Scalar;
  const Batch<S> x = ref::random_batch<S>(model.input_shape(), batch, engine);
  Vector<S> scores;
  Batch<S> grad;
  ActivationPattern<S> pattern;
  Reconstruction<S> rec;
  Gradients<S> g = model.zero_gradients();
  for (int round = 0; round < 2; ++round) {
    model.score_and_gradient(x, scores, grad);
    model.score(x, scores);
    model.bottom_up(x, pattern);
    model.top_down(pattern, rec);
    model.accumulate_parameter_gradient(x, g, S(1));
  }
  const long sg = count_allocations([&] { model.score_and_gradient(x, scores, grad); });
  const long sc = count_allocations([&] { model.score(x, scores); });
  const long bu = count_allocations([&] { model.bottom_up(x, pattern); });
  const long td = count_allocations([&] { model.top_down(pattern, rec); });
  const long pg = count_allocations([&] { model.accumulate_parameter_gradient(x, g, S(1)); });
  CHECK(sg == 0);
  CHECK(sc == 0);
  CHECK(bu == 0);
  CHECK(td == 0);
  CHECK(pg == 0);
}

}  // namespace

TEST_CASE("The allocation counter sees malloc, operator new and Eigen's allocations", "[model][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  // the counter is not vacuous (the volatile sink keeps the compiler from eliding the pairs)
  static void* volatile sink = nullptr;
  CHECK(count_allocations([] {
          int* p = new int(3);
          sink = p;
          delete p;
        }) >= 1);
  CHECK(count_allocations([] {
          Batch<float> b(3, 8, 8, 2);
          b.setZero();
          sink = b.data();
        }) >= 1);
  CHECK(count_allocations([] {
          Matrix<double> m(40, 40);
          m.setOnes();
          sink = m.data();
        }) >= 1);
  CHECK(count_allocations([] {
          sink = malloc(16);
          free(sink);
        }) == 1);
  CHECK(count_allocations([] {}) == 0);
}

TEST_CASE("Repeated calls with the same batch size keep their output buffers", "[model][allocation]") {
  std::mt19937_64 engine(801);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  Vector<double> scores;
  Batch<double> grad;
  ActivationPattern<double> pattern;
  Reconstruction<double> rec;
  model.score_and_gradient(x, scores, grad);
  model.bottom_up(x, pattern);
  model.top_down(pattern, rec);
  const double* grad_data = grad.data();
  const double* score_data = scores.data();
  const double* gate_data = pattern.layers[1].gate.data();
  const Index* switch_data = pattern.layers[2].switches.data();
  const double* b_data = rec.B.data();
  const double* alpha_data = rec.alpha.data();
  const Batch<double> first_grad = grad;
  for (int round = 0; round < 3; ++round) {
    model.score_and_gradient(x, scores, grad);
    model.bottom_up(x, pattern);
    model.top_down(pattern, rec);
    CHECK(grad.data() == grad_data);
    CHECK(scores.data() == score_data);
    CHECK(pattern.layers[1].gate.data() == gate_data);
    CHECK(pattern.layers[2].switches.data() == switch_data);
    CHECK(rec.B.data() == b_data);
    CHECK(rec.alpha.data() == alpha_data);
    CHECK(ref::relative_error(grad, first_grad) == 0.0);  // and the same results, bit for bit
  }
}

// Two OpenMP threads (when built with OpenMP): the parallel loops reuse libgomp's thread pool, so any
// allocation counted here is the library's or Eigen's own.
TEST_CASE("Repeated hot-path calls allocate nothing: ReLU and max-pooling model, double, two threads",
          "[model][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads two(2);
  std::mt19937_64 engine(802);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_no_allocation(model, 3, engine);
}

TEST_CASE("Repeated hot-path calls allocate nothing: run-time model with Softplus, float, partial depth, two threads",
          "[model][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads two(2);
  std::mt19937_64 engine(803);
  DynamicModel<float> model(Shape{3, 24, 24},
                            parse_layers<float>("conv:8:5:2:2,relu,conv:6:3:1:1,softplus,maxpool:2,fc:4,relu"));
  mt::randomize(model, engine, 0.2, 0.1);
  check_no_allocation(model, 4, engine);
  model.set_depth(3);
  check_no_allocation(model, 2, engine);
}

// One thread: libgomp mallocs a team for every parallel region entered with one thread, so every loop
// of the hot path must bypass OpenMP then (detail::parallel_for). The model wiring, ReLU, Softplus and
// MaxPool do.
TEST_CASE("Repeated hot-path calls allocate nothing with one thread: MaxPool, ReLU, Softplus", "[model][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads one(1);
  std::mt19937_64 engine(804);
  EnergyModel model(Shape{3, 12, 10}, MaxPool<double>(3, 2), ReLU<double>{}, Softplus<double>{}, MaxPool<double>(2, 1));
  check_no_allocation(model, 3, engine);
}

// Conv too (with the algorithm ConvAlgorithm::automatic picks for these shapes).
TEST_CASE("Repeated hot-path calls allocate nothing with one thread: Conv models", "[model][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  const OmpThreads one(1);
  std::mt19937_64 engine(805);
  EnergyModel model(Shape{3, 16, 14}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_no_allocation(model, 3, engine);
  DynamicModel<float> dyn(Shape{3, 24, 24},
                          parse_layers<float>("conv:8:5:2:2,relu,conv:6:3:1:1,softplus,maxpool:2,fc:4,relu"));
  mt::randomize(dyn, engine, 0.2, 0.1);
  check_no_allocation(dyn, 4, engine);
}
