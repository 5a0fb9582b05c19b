// A learning step allocates nothing after the first call beyond the model's parameter list (which
// model.parameters() builds anew on every call): the divergence guard's snapshot (state(out)) reuses
// its buffers, and so do the statistics, the gradient and the optimizer.
// With as many chains as observed images: the model keeps one set of layer buffers, resized whenever
// the batch size changes, so an MLE step with M̃ ≠ M chains reallocates them (measured: 28 allocations
// per step on this net) — that is the model's business (model/), not the learner's.
//
// Allocations are counted by support/allocation_counter.hpp.
#include <gconvnet/gconvnet.hpp>

#include <random>

#include <catch2/catch.hpp>

#include "support/allocation_counter.hpp"

using namespace gconvnet;

namespace {

using gconvnet::test::count_allocations;
using gconvnet::test::OmpThreads;

using Net = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

Net make_net() {
  Net net(Shape{2, 10, 10}, Conv<float>(4, 3).padding(1), ReLU<float>{}, Conv<float>(3, 3).stride(2).padding(1), ReLU<float>{});
  std::mt19937_64 engine(3);
  initialize_normal(net, engine, 0.1);
  return net;
}

Batch<float> observed() {
  std::mt19937_64 engine(4);
  Batch<float> b = make_batch<float>(Shape{2, 10, 10}, 3);
  fill_standard_normal(engine, b);
  return b;
}

/// Two warm-up steps, then: a step, and the snapshot into a used LearnerState, allocate exactly what
/// one model.parameters() call allocates.
template <class Learner>
void check_learner(Learner& learner, Net& model) {
  learner.step();
  learner.step();
  LearnerState<float> snapshot;
  learner.state(snapshot);
  const long parameters = count_allocations([&] { static_cast<void>(model.parameters()); });
  const long step = count_allocations([&] { learner.step(); });
  const long state = count_allocations([&] { learner.state(snapshot); });
  INFO("model.parameters() allocates " << parameters << " times");
  CHECK(parameters > 0);  // the counter counts
  CHECK(step == parameters);
  CHECK(state == parameters);
}

}  // namespace

TEST_CASE("A learning step allocates nothing but the model's parameter list: MLE and CD, one and two threads",
          "[learning][allocation]") {
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting is off in a sanitizer build");
    return;
  }
  for (int threads : {1, 2}) {
    INFO(threads << " thread(s)");
    const OmpThreads scope(threads);
    Net mle_model = make_net();
    LearningOptions options;
    options.chains = 3;  // = the observed images (see the top of the file)
    options.langevin = {0.3, 2, 0.8};
    options.chain_init = LearningOptions::ChainInit::noise;
    options.optimizer.momentum = 0.5;
    MleLearner mle(mle_model, observed(), options, 1);
    mle.set_stage(1);
    check_learner(mle, mle_model);

    Net cd_model = make_net();
    options.optimizer.method = OptimizerOptions::Method::adam;
    CdLearner cd(cd_model, observed(), options, 2);
    check_learner(cd, cd_model);
  }
}
