// The learners' divergence guard (docs/errors.md, "Learning — divergence guard"): NaN or Inf in the
// weights, the chains, the gradient or the updated weights stops learning with a NumericalError that
// names the iteration, the stage, the quantity and the layer — and leaves the learner exactly as it
// was before the failing step() (weights, chains, optimizer state, engine, iteration, gradient()).
// Also: step() takes f of the observed and synthesized images from the forward passes of the
// gradient (one forward pass per set fewer); its scores and gradient are those of separate calls.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using Catch::StartsWith;
using reliability::expect_error;

namespace {

using Model = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;  // stages: depth 2, depth 4

Model small_model(std::uint64_t seed = 7) {
  Model model(Shape{1, 8, 8}, Conv<float>(3, 3).padding(1), ReLU<float>{}, Conv<float>(2, 3).padding(1), ReLU<float>{});
  std::mt19937_64 engine(seed);
  initialize_normal(model, engine, 0.1);
  return model;
}

Batch<float> observed_images() {
  Batch<float> b = make_batch<float>(Shape{1, 8, 8}, 2);
  std::mt19937_64 engine(8);
  std::normal_distribution<float> normal;
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = normal(engine);
  return b;
}

LearningOptions small_options() {
  LearningOptions o;
  o.chains = 2;
  o.langevin = {0.3, 3, 1.0};
  o.optimizer.learning_rate = 1e-2;
  return o;
}

std::vector<float> flat(Model& model) {
  std::vector<float> out;
  for (const auto& p : model.parameters()) out.insert(out.end(), p.data, p.data + p.size());
  return out;
}

std::vector<float> flat(const Batch<float>& b) { return std::vector<float>(b.data(), b.data() + b.size()); }

std::vector<float> flat(const std::vector<Vector<float>>& blocks) {
  std::vector<float> out;
  for (const auto& b : blocks) out.insert(out.end(), b.data(), b.data() + b.size());
  return out;
}
std::vector<float> flat(const Gradients<float>& g) { return flat(g.blocks); }

/// Everything a learning iteration changes, for a bit-for-bit comparison (NaN compares unequal:
/// the copies are made in a finite state).
template <class Learner>
struct State {
  std::vector<float> weights, chains, first, second, gradient;
  std::vector<Index> steps;
  std::mt19937_64 engine;
  Index iteration, stage, depth;
  double learning_rate;

  explicit State(Learner& l)
      : weights(flat(l.model())), chains(flat(l.synthesized())), first(flat(l.optimizer().state().first_moment)),
        second(flat(l.optimizer().state().second_moment)), gradient(flat(l.gradient())),
        steps(l.optimizer().state().steps), engine(l.engine()), iteration(l.iteration()), stage(l.stage()),
        depth(l.model().depth()), learning_rate(l.learning_rate()) {}

  bool operator==(const State& o) const {
    return weights == o.weights && chains == o.chains && first == o.first && second == o.second &&
           gradient == o.gradient && steps == o.steps && engine == o.engine && iteration == o.iteration &&
           stage == o.stage && depth == o.depth && learning_rate == o.learning_rate;
  }
};

template <class Learner>
State<Learner> state_of(Learner& l) {
  return State<Learner>(l);
}

}  // namespace

TEST_CASE("learning.diverged.chains: a step size far too large, or a poisoned chain, names iteration and layer",
          "[reliability][divergence]") {
  SECTION("ε = 1000 from the start: iteration 0") {
    Model model = small_model();
    LearningOptions o = small_options();
    o.langevin = {1000.0, 10, 1.0};  // ε²/(2σ²) = 5e5: the chains grow 5e5-fold per step
    MleLearner<Model> learner(model, observed_images(), o, 1);
    const auto before = state_of(learner);
    CHECK_THAT(expect_error("learning.diverged.chains", [&] { learner.step(); }),
               StartsWith("MleLearner::step: iteration 0 (stage 0): the synthesized chains (the input of layer 0)") &&
                   Contains("[langevin: chain 0 became NaN or Inf at step ") &&
                   Contains("try a smaller Langevin step size than 1000"));
    CHECK(state_of(learner) == before);
  }
  SECTION("a chain set to Inf after 3 good iterations, at stage 1: iteration 3 (stage 1)") {
    Model model = small_model();
    MleLearner<Model> learner(model, observed_images(), small_options(), 2);
    learner.set_stage(1);
    for (int t = 0; t < 3; ++t) learner.step();
    learner.synthesized()(0, 4, 4, 1) = std::numeric_limits<float>::infinity();
    const std::vector<float> weights = flat(model);
    CHECK_THAT(expect_error("learning.diverged.chains", [&] { learner.step(); }),
               StartsWith("MleLearner::step: iteration 3 (stage 1): ") &&
                   Contains("[langevin: chain 1 became NaN or Inf at step 0 (plain Langevin step)]"));
    CHECK(learner.iteration() == 3);
    CHECK(flat(model) == weights);
    CHECK(std::isinf(learner.synthesized()(0, 4, 4, 1)));  // the chains are as given to step()
  }
}

TEST_CASE("learning.diverged.chains_before_update: NaN chains with no Langevin step", "[reliability][divergence]") {
  Model model = small_model();
  LearningOptions o = small_options();
  o.langevin.steps = 0;
  MleLearner<Model> learner(model, observed_images(), o, 3);
  learner.step();
  learner.synthesized()(0, 1, 2, 0) = std::nan("");
  const std::vector<float> weights = flat(model);
  CHECK_THAT(expect_error("learning.diverged.chains_before_update", [&] { learner.step(); }),
             StartsWith("MleLearner::step: iteration 1 (stage 0): "));
  CHECK(flat(model) == weights);
  CHECK(learner.iteration() == 1);
}

TEST_CASE("learning.diverged.gradient names the lowest layer whose gradient overflows", "[reliability][divergence]") {
  LearningOptions o = small_options();
  o.langevin.steps = 0;  // the chains stay where they are put
  SECTION("huge chains: layer 0's gradient Σ I·∂f/∂(conv 0) overflows, at iteration 2") {
    Model model = small_model();
    MleLearner<Model> learner(model, observed_images(), o, 4);
    learner.set_stage(1);
    learner.step();
    learner.step();
    learner.synthesized().setConstant(1e38f);  // finite, but 64 pixels × 1e38 is not
    const auto before = state_of(learner);
    CHECK_THAT(expect_error("learning.diverged.gradient", [&] { learner.step(); }),
               StartsWith("MleLearner::step: iteration 2 (stage 1): the gradient H_obs - H_syn of layer 0 "
                          "(layer0.weight) became NaN or Inf"));
    CHECK(state_of(learner) == before);
  }
  SECTION("only layer 2's gradient overflows: named layer 2") {
    // w0 = 4e18, chains 1e18: conv 0 gives up to 3.6e37 (finite); w2 = 1e-30 keeps ∂f/∂(conv 0) and so
    // layer 0's gradient tiny, while layer 2's gradient, a sum over 64 positions of such responses
    // (about 1e39), exceeds float's 3.4e38.
    Model model = small_model();
    for (auto& p : model.parameters())
      p.vector().setConstant(p.is_bias ? 0.0f : (p.layer == 0 ? 4e18f : 1e-30f));
    MleLearner<Model> learner(model, observed_images(), o, 5);
    learner.set_stage(1);
    learner.synthesized().setConstant(1e18f);
    CHECK_THAT(expect_error("learning.diverged.gradient", [&] { learner.step(); }),
               Contains("iteration 0 (stage 1): the gradient H_obs - H_syn of layer 2 (layer2.weight)"));
    CHECK(learner.iteration() == 0);
  }
}

TEST_CASE("learning.diverged.weights_update: an absurd learning rate, naming the layer updated",
          "[reliability][divergence]") {
  SECTION("a CdLearner, which starts at its last stage: η = 1e39 at iteration 0 (stage 1)") {
    Model model = small_model();
    LearningOptions o = small_options();
    o.optimizer.learning_rate = 1e39;  // finite as a double, Inf as float
    CdLearner<Model> learner(model, observed_images(), o, 6);
    const auto before = state_of(learner);
    CHECK_THAT(expect_error("learning.diverged.weights_update", [&] { learner.step(); }),
               StartsWith("CdLearner::step: iteration 0 (stage 1): the weights of layer 0 (layer0.weight)"));
    CHECK(state_of(learner) == before);
  }
  SECTION("η = 1e39 from the start: layer 0 at iteration 0, state unchanged") {
    Model model = small_model();
    LearningOptions o = small_options();
    o.optimizer.learning_rate = 1e39;
    MleLearner<Model> learner(model, observed_images(), o, 7);
    const auto before = state_of(learner);
    CHECK_THAT(expect_error("learning.diverged.weights_update", [&] { learner.step(); }),
               StartsWith("MleLearner::step: iteration 0 (stage 0): the weights of layer 0 (layer0.weight) became "
                          "NaN or Inf in the update (learning rate 1e+39)"));
    CHECK(state_of(learner) == before);
  }
  SECTION("with frozen lower layers only layer 2 learns: it is the one named, at stage 1") {
    Model model = small_model();
    LearningOptions o = small_options();
    o.freeze_lower_layers = true;
    o.learning_rate_factor_on_grow = 1e41;  // η at stage 1: 1e-2 · 1e41 = 1e39
    MleLearner<Model> learner(model, observed_images(), o, 8);
    learner.step();  // stage 0 at η = 1e-2: fine
    learner.set_stage(1);
    const auto before = state_of(learner);
    CHECK_THAT(expect_error("learning.diverged.weights_update", [&] { learner.step(); }),
               StartsWith("MleLearner::step: iteration 1 (stage 1): the weights of layer 2 (layer2.weight)"));
    CHECK(state_of(learner) == before);
  }
}

TEST_CASE("learning.diverged.weights_before: a weight poisoned between iterations", "[reliability][divergence]") {
  Model model = small_model();
  MleLearner<Model> learner(model, observed_images(), small_options(), 9);
  learner.step();
  auto params = model.parameters();
  params[2].vector()(5) = std::nan("");  // layer2.weight: inactive at stage 0, so learning goes on
  CHECK_NOTHROW(learner.step());
  learner.set_stage(1);
  const std::vector<float> chains = flat(learner.synthesized());
  CHECK_THAT(expect_error("learning.diverged.weights_before", [&] { learner.step(); }),
             StartsWith("MleLearner::step: iteration 2 (stage 1): the weights of layer 2 (layer2.weight) hold NaN or "
                        "Inf before the iteration"));
  CHECK(learner.iteration() == 2);
  CHECK(flat(learner.synthesized()) == chains);
}

TEST_CASE("after a divergence the learner continues exactly as one that never tried the failing step",
          "[reliability][divergence]") {
  // Two learners, same everything. A poisons a chain, fails, gets the chain back; then both step:
  // bit-identical, so the undo restored engine, optimizer state and weights.
  Model model_a = small_model(), model_b = small_model();
  MleLearner<Model> a(model_a, observed_images(), small_options(), 10), b(model_b, observed_images(), small_options(), 10);
  for (int t = 0; t < 2; ++t) {
    a.step();
    b.step();
  }
  const float kept = a.synthesized()(0, 0, 0, 0);
  a.synthesized()(0, 0, 0, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(a.step(), NumericalError);
  a.synthesized()(0, 0, 0, 0) = kept;
  CHECK(state_of(a) == state_of(b));
  for (int t = 0; t < 2; ++t) {
    a.step();
    b.step();
  }
  CHECK(state_of(a) == state_of(b));
}

TEST_CASE("step() reports the scores and gradient of separate score() and accumulate_parameter_gradient() calls",
          "[reliability][learning]") {
  // The learner takes f from the forward pass of the gradient; a copy of the model with the weights
  // before the update, called the long way, must give the same numbers bit for bit.
  Model model = small_model();
  const Batch<float> observed = observed_images();
  MleLearner<Model> learner(model, observed, small_options(), 11);
  for (int t = 0; t < 6; ++t) {
    if (t == 3) learner.set_stage(1);
    Model before = model;
    const IterationStats stats = learner.step();
    const Batch<float>& chains = learner.synthesized();  // after the Langevin steps of this iteration
    const Vector<float> f_obs = before.score(observed), f_syn = before.score(chains);
    CHECK(stats.score_observed == static_cast<double>(f_obs.cast<double>().mean()));
    CHECK(stats.score_synthesized == static_cast<double>(f_syn.cast<double>().mean()));
    Gradients<float> g = before.zero_gradients();
    before.accumulate_parameter_gradient(observed, g, 1.0f / 2);
    before.accumulate_parameter_gradient(chains, g, -1.0f / 2);
    CHECK(flat(g) == flat(learner.gradient()));
    // and the new overload alone
    Vector<float> f;
    Gradients<float> h = before.zero_gradients();
    before.accumulate_parameter_gradient(observed, h, 1.0f, f);
    CHECK(std::vector<float>(f_obs.data(), f_obs.data() + f_obs.size()) == std::vector<float>(f.data(), f.data() + f.size()));
  }
}
