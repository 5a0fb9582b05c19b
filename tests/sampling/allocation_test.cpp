// The hot path allocates nothing per step after the first: counted by support/allocation_counter.hpp
// (every allocation of Eigen, the model and the samplers goes through malloc). libgomp's own
// allocations (a team for every parallel region run by one thread) are not counted here: the OpenMP
// runtime's business, not the sampler's.
#include "support/allocation_counter.hpp"
#include "sampling/sampling_test_util.hpp"

#include <catch2/catch.hpp>

using namespace gconvnet;

TEST_CASE("the samplers allocate nothing after the first call with a workspace", "[sampling][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting needs glibc; skipped");
    return;
  }
  // The counter counts: one Eigen vector is one allocation.
  gconvnet::test::start_counting_allocations(true);
  {
    Vector<float> probe(1000);
    probe.setZero();
    CHECK(probe.sum() == 0.0f);
  }
  CHECK(gconvnet::test::stop_counting_allocations() == 1);

  EnergyModel model(Shape{3, 12, 12}, Conv<float>(6, 5).stride(2).padding(2), ReLU<float>{}, MaxPool<float>(2),
                    Conv<float>(4, 3).padding(1), ReLU<float>{});
  std::mt19937_64 engine(1);
  initialize_normal(model, engine, 0.1);
  Batch<float> x = gconvnet::test::noise_chains<float>(model.input_shape(), 4, engine);
  LangevinWorkspace<float> ws;
  GradeWorkspace<float> gws;
  double watched = 0;
  auto observer = [&](const SamplerDiagnostics& d) { watched += d.mean_energy(); };
  for (bool metropolis : {false, true}) {
    INFO("metropolis " << metropolis);
    const LangevinOptions options{0.3, 5, 1.0, metropolis};
    langevin(model, x, options, engine, ws);            // first call: buffers are sized
    langevin(model, x, options, engine, ws, observer);  // and the diagnostics
    gconvnet::test::start_counting_allocations(true);
    langevin(model, x, options, engine, ws);
    langevin(model, x, options, engine, ws, observer);
    CHECK(gconvnet::test::stop_counting_allocations() == 0);
  }
  // GRADE: nothing per step (the report it returns is allocated once per call).
  Batch<float> y = x;
  grade_descent(model, y, GradeOptions{0.5, 3, 1.0, 0.0}, gws, observer);
  y = x;
  gconvnet::test::start_counting_allocations(true);
  grade_descent(model, y, GradeOptions{0.5, 2, 1.0, 0.0}, gws, observer);
  const long two = gconvnet::test::stop_counting_allocations();
  y = x;
  gconvnet::test::start_counting_allocations(true);
  grade_descent(model, y, GradeOptions{0.5, 12, 1.0, 0.0}, gws, observer);
  const long twelve = gconvnet::test::stop_counting_allocations();
  CHECK(twelve == two);
  CHECK(std::isfinite(watched));
}

TEST_CASE("masked samplers on a circular model allocate nothing after the first call with a workspace",
          "[sampling][allocation][masked][circular]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting needs glibc; skipped");
    return;
  }
  EnergyModel model(Shape{3, 12, 12}, Conv<float>(6, 5).stride(2).padding(2, PaddingMode::circular), ReLU<float>{},
                    Conv<float>(4, 3).padding(1, PaddingMode::circular), ReLU<float>{});
  std::mt19937_64 engine(2);
  initialize_normal(model, engine, 0.1);
  Batch<float> x = gconvnet::test::noise_chains<float>(model.input_shape(), 4, engine);
  PixelMask shared = make_batch<std::uint8_t>(model.input_shape(), 1), per_chain = make_batch<std::uint8_t>(model.input_shape(), 4);
  for (Index i = 0; i < shared.size(); ++i) shared.data()[i] = i % 3 == 0;
  for (Index i = 0; i < per_chain.size(); ++i) per_chain.data()[i] = i % 5 < 2;
  LangevinWorkspace<float> ws;
  GradeWorkspace<float> gws;
  double watched = 0;
  auto observer = [&](const SamplerDiagnostics& d) { watched += d.mean_energy(); };
  for (const PixelMask* mask : {&shared, &per_chain}) {
    for (bool metropolis : {false, true}) {
      INFO("metropolis " << metropolis << ", masks " << batch_size(*mask));
      LangevinOptions options{0.3, 5, 1.0, metropolis};
      options.fixed = mask;
      langevin(model, x, options, engine, ws);
      langevin(model, x, options, engine, ws, observer);
      gconvnet::test::start_counting_allocations(true);
      langevin(model, x, options, engine, ws);
      langevin(model, x, options, engine, ws, observer);
      CHECK(gconvnet::test::stop_counting_allocations() == 0);
    }
    GradeOptions grade{0.5, 2, 1.0, 0.0};
    grade.fixed = mask;
    Batch<float> y = x;
    grade_descent(model, y, grade, gws, observer);
    y = x;
    gconvnet::test::start_counting_allocations(true);
    grade_descent(model, y, grade, gws, observer);
    const long two = gconvnet::test::stop_counting_allocations();
    grade.max_steps = 12;
    y = x;
    gconvnet::test::start_counting_allocations(true);
    grade_descent(model, y, grade, gws, observer);
    CHECK(gconvnet::test::stop_counting_allocations() == two);
  }
  CHECK(std::isfinite(watched));
}
