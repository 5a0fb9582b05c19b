// The documented errors of learning/ that are bad input (docs/errors.md): options, learners,
// optimizer, utilities. The divergence guard (NumericalError) is tested in divergence.cpp.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <type_traits>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using Catch::StartsWith;
using reliability::expect_error;

namespace {

using Model = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

Model small_model() {
  Model model(Shape{1, 8, 8}, Conv<float>(3, 3).padding(1), ReLU<float>{}, Conv<float>(2, 3).padding(1), ReLU<float>{});
  std::mt19937_64 engine(7);
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

}  // namespace

TEST_CASE("learning.options.*: every option of LearningOptions and OptimizerOptions", "[reliability][errors][learning]") {
  Model model = small_model();
  const Batch<float> observed = observed_images();
  // Both learners refuse each option and name their own constructor (the optimizer options are
  // checked before the learner's Optimizer is built).
  const auto mle = [&](LearningOptions o) { return [&model, &observed, o] { MleLearner<Model>(model, observed, o, 1); }; };
  const auto cd = [&](LearningOptions o) { return [&model, &observed, o] { CdLearner<Model>(model, observed, o, 1); }; };
  const auto mle_name = StartsWith("MleLearner::MleLearner: ");
  const auto cd_name = StartsWith("CdLearner::CdLearner: ");
  LearningOptions o;
  o = LearningOptions{};
  o.optimizer.method = static_cast<OptimizerOptions::Method>(7);
  CHECK_THAT(expect_error("learning.options.method", mle(o)), mle_name && Contains("not sgd or adam"));
  CHECK_THAT(expect_error("learning.options.method", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.learning_rate = 0;
  CHECK_THAT(expect_error("learning.options.learning_rate", mle(o)), mle_name && Contains("is 0,"));
  CHECK_THAT(expect_error("learning.options.learning_rate", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.momentum = 1;
  CHECK_THAT(expect_error("learning.options.momentum", mle(o)), mle_name && Contains("is 1,"));
  CHECK_THAT(expect_error("learning.options.momentum", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.beta1 = -0.1;
  CHECK_THAT(expect_error("learning.options.beta1", mle(o)), mle_name && Contains("is -0.1,"));
  CHECK_THAT(expect_error("learning.options.beta1", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.beta2 = 1.5;
  CHECK_THAT(expect_error("learning.options.beta2", mle(o)), mle_name && Contains("is 1.5,"));
  CHECK_THAT(expect_error("learning.options.beta2", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.adam_epsilon = 0;
  CHECK_THAT(expect_error("learning.options.adam_epsilon", mle(o)), mle_name && Contains("is 0,"));
  CHECK_THAT(expect_error("learning.options.adam_epsilon", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.weight_decay = -1e-4;
  CHECK_THAT(expect_error("learning.options.weight_decay", mle(o)), mle_name && Contains("is -0.0001,"));
  CHECK_THAT(expect_error("learning.options.weight_decay", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.bias_learning_rate_multiplier = -2;
  CHECK_THAT(expect_error("learning.options.bias_learning_rate_multiplier", mle(o)), mle_name && Contains("is -2,"));
  CHECK_THAT(expect_error("learning.options.bias_learning_rate_multiplier", cd(o)), cd_name);
  o = LearningOptions{};
  o.optimizer.gradient_cap = -1;
  CHECK_THAT(expect_error("learning.options.gradient_cap", mle(o)), mle_name && Contains("is -1,"));
  CHECK_THAT(expect_error("learning.options.gradient_cap", cd(o)), cd_name);
  o = LearningOptions{};
  o.chains = 0;
  CHECK_THAT(expect_error("learning.options.chains", mle(o)), mle_name && Contains("is 0,"));
  CHECK_THAT(expect_error("learning.options.chains", cd(o)), cd_name);
  o = LearningOptions{};
  o.langevin.step_size = -0.3;
  CHECK_THAT(expect_error("learning.options.langevin_step_size", mle(o)), mle_name && Contains("is -0.3,"));
  CHECK_THAT(expect_error("learning.options.langevin_step_size", cd(o)), cd_name);
  o = LearningOptions{};
  o.langevin.steps = -1;
  CHECK_THAT(expect_error("learning.options.langevin_steps", mle(o)), mle_name && Contains("is -1,"));
  CHECK_THAT(expect_error("learning.options.langevin_steps", cd(o)), cd_name);
  o = LearningOptions{};
  o.langevin.reference_sigma = 0;
  CHECK_THAT(expect_error("learning.options.langevin_reference_sigma", mle(o)), mle_name && Contains("is 0,"));
  CHECK_THAT(expect_error("learning.options.langevin_reference_sigma", cd(o)), cd_name);
  o = LearningOptions{};
  o.chain_init = static_cast<LearningOptions::ChainInit>(5);
  CHECK_THAT(expect_error("learning.options.chain_init", mle(o)), mle_name && Contains("not zero or noise"));
  CHECK_THAT(expect_error("learning.options.chain_init", cd(o)), cd_name);
  o = LearningOptions{};
  o.learning_rate_factor_on_grow = 0;
  CHECK_THAT(expect_error("learning.options.learning_rate_factor_on_grow", mle(o)), mle_name && Contains("is 0,"));
  CHECK_THAT(expect_error("learning.options.learning_rate_factor_on_grow", cd(o)), cd_name);
  // the optimizer's own constructor, and non-finite values
  OptimizerOptions oo;
  oo.learning_rate = std::numeric_limits<double>::infinity();
  CHECK_THAT(expect_error("learning.options.learning_rate", [&] { Optimizer<float>{oo}; }),
             StartsWith("Optimizer::Optimizer: ") && Contains("is inf,"));
  oo = OptimizerOptions{};
  oo.gradient_cap = std::nan("");
  CHECK_THAT(expect_error("learning.options.gradient_cap", [&] { Optimizer<float>{oo}; }), Contains("is nan,"));
}

TEST_CASE("learning.learner.observed_shape, observed_not_finite", "[reliability][errors][learning]") {
  Model model = small_model();
  Batch<float> wrong = make_batch<float>(Shape{1, 8, 7}, 2);
  wrong.setZero();
  CHECK_THAT(expect_error("learning.learner.observed_shape", [&] { MleLearner<Model>(model, wrong, {}, 1); }),
             Contains("has shape 1x8x7x2, expected 1x8x8xM"));
  Batch<float> none = make_batch<float>(Shape{1, 8, 8}, 0);
  CHECK_THAT(expect_error("learning.learner.observed_shape", [&] { CdLearner<Model>(model, none, {}, 1); }),
             StartsWith("CdLearner::CdLearner: ") && Contains("1x8x8x0"));
  Batch<float> bad = observed_images();
  bad(0, 3, 3, 1) = std::numeric_limits<float>::infinity();
  expect_error("learning.learner.observed_not_finite", [&] { MleLearner<Model>(model, bad, {}, 1); });
}

TEST_CASE("learning.learner.observed_known_shape, observed_known_none, observed_not_finite at a known pixel",
          "[reliability][errors][learning]") {
  Model model = small_model();
  LearningOptions options;
  options.observed_known = make_batch<std::uint8_t>(Shape{1, 8, 8}, 3);
  options.observed_known.setConstant(1);
  CHECK_THAT(expect_error("learning.learner.observed_known_shape",
                          [&] { MleLearner<Model>(model, observed_images(), options, 1); }),
             StartsWith("MleLearner::MleLearner: ") && Contains("has shape 1x8x8x3, expected 1x8x8x1 or 1x8x8x2"));
  options.observed_known = make_batch<std::uint8_t>(Shape{1, 8, 8}, 1);
  options.observed_known.setConstant(1);
  for (Index w = 2; w < 6; ++w)  // a 4x4 hole: every 5x5 receptive field of layer 3 (3x3 on 3x3) meets it
    for (Index h = 2; h < 6; ++h) options.observed_known(0, h, w, 0) = 0;
  CHECK_THAT(expect_error("learning.learner.observed_known_none",
                          [&] { CdLearner<Model>(model, observed_images(), options, 1); }),
             StartsWith("CdLearner::CdLearner: ") && Contains("no response of layer 3 (stage 1)"));
  Batch<float> bad = observed_images();
  bad(0, 3, 3, 1) = std::numeric_limits<float>::quiet_NaN();
  options.observed_known.setConstant(1);
  options.observed_known(0, 3, 3, 0) = 0;  // NaN in an unknown pixel: no error
  CHECK_NOTHROW(MleLearner<Model>(model, bad, options, 1));
  options.observed_known(0, 3, 3, 0) = 1;
  CHECK_THAT(expect_error("learning.learner.observed_not_finite", [&] { MleLearner<Model>(model, bad, options, 1); }),
             Contains("holds NaN or Inf at a known pixel"));
}

TEST_CASE("learning.learner.observed_known_model", "[reliability][errors][learning]") {
  using Trunk = DynamicModel<float>;
  CategoryModel<Trunk> categories(Trunk(Shape{1, 8, 8}, parse_layers<float>("conv:3:3:1:1,relu")), 2);
  auto& view = categories.category(1);
  LearningOptions options;
  options.observed_known = make_batch<std::uint8_t>(Shape{1, 8, 8}, 1);
  options.observed_known.setConstant(1);
  using View = std::remove_reference_t<decltype(view)>;
  CHECK_THAT(expect_error("learning.learner.observed_known_model",
                          [&] { MleLearner<View>(view, observed_images(), options, 1); }),
             StartsWith("MleLearner::MleLearner: "));
  options.observed_known = PixelMask();  // without the mask the same learner is fine
  CHECK_NOTHROW(MleLearner<View>(view, observed_images(), options, 1));
}

TEST_CASE("learning.learner.set_stage", "[reliability][errors][learning]") {
  Model model = small_model();
  MleLearner<Model> mle(model, observed_images(), {}, 1);
  CHECK_THAT(expect_error("learning.learner.set_stage", [&] { mle.set_stage(2); }),
             StartsWith("MleLearner::set_stage: argument 's' is 2, expected 0..1"));
  CdLearner<Model> cd(model, observed_images(), {}, 1);
  CHECK_THAT(expect_error("learning.learner.set_stage", [&] { cd.set_stage(-1); }),
             StartsWith("CdLearner::set_stage: argument 's' is -1"));
  CHECK(mle.stage() == 0);
}

TEST_CASE("learning.learner.set_learning_rate", "[reliability][errors][learning]") {
  Model model = small_model();
  MleLearner<Model> mle(model, observed_images(), {}, 1);
  CHECK_THAT(expect_error("learning.learner.set_learning_rate", [&] { mle.set_learning_rate(0); }),
             StartsWith("MleLearner::set_learning_rate: argument 'eta' is 0, expected a finite value > 0"));
  CdLearner<Model> cd(model, observed_images(), {}, 1);
  CHECK_THAT(expect_error("learning.learner.set_learning_rate",
                          [&] { cd.set_learning_rate(std::numeric_limits<double>::infinity()); }),
             StartsWith("CdLearner::set_learning_rate: argument 'eta' is inf"));
  CHECK(mle.learning_rate() == LearningOptions{}.optimizer.learning_rate);  // unchanged
}

TEST_CASE("learning.learner.restore names the first field that does not fit", "[reliability][errors][learning]") {
  Model model = small_model();
  MleLearner<Model> mle(model, observed_images(), {}, 1);  // 16 chains, SGD
  mle.step();
  const LearnerState<float> good = mle.state();
  const auto refused = [&](const std::function<void(LearnerState<float>&)>& edit) {
    LearnerState<float> s = good;
    edit(s);
    return [&mle, s] { mle.restore(s); };
  };
  const auto fn = StartsWith("MleLearner::restore: argument 'state' does not fit this learner: field '");
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.weights.pop_back(); })),
             fn && Contains("field 'weights' has 3 blocks, expected 4"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.weights[2].resize(5); })),
             Contains("field 'weights' block 2 (layer2.weight) has 5 values, expected 54"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.chains = make_batch<float>(Shape{1, 8, 8}, 3); })),
             Contains("field 'chains' has shape 1x8x8x3, expected 1x8x8x16"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.optimizer.second_moment = s.optimizer.first_moment; })),
             Contains("field 'optimizer.second_moment' has 4 blocks, expected 0"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.optimizer.first_moment[1].resize(1); })),
             Contains("field 'optimizer.first_moment' block 1 has 1 values, expected 3"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.optimizer.steps.push_back(1); })),
             Contains("field 'optimizer.steps' has 5 entries, expected 4"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.optimizer.steps[3] = -1; })),
             Contains("field 'optimizer.steps' holds -1 at entry 3, expected >= 0"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.iteration = -1; })),
             Contains("field 'iteration' is -1, expected >= 0"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.stage = 2; })),
             Contains("field 'stage' is 2, expected 0..1"));
  CHECK_THAT(expect_error("learning.learner.restore", refused([](auto& s) { s.learning_rate = std::nan(""); })),
             Contains("field 'learning_rate' is nan, expected a finite value > 0"));
  CdLearner<Model> cd(model, observed_images(), {}, 1);  // one chain per observed image
  CHECK_THAT(expect_error("learning.learner.restore", [&] { cd.restore(good); }),
             StartsWith("CdLearner::restore: ") && Contains("field 'chains' has shape 1x8x8x16, expected 1x8x8x2"));
  CHECK(mle.iteration() == 1);  // every refusal left the learner as it was
}

TEST_CASE("learning.optimizer.restore", "[reliability][errors][learning]") {
  Model model = small_model();
  Optimizer<float> sgd;
  sgd.reset(model.parameters());
  Optimizer<float> adam(OptimizerOptions{OptimizerOptions::Method::adam});
  adam.reset(model.parameters());
  CHECK_THAT(expect_error("learning.optimizer.restore", [&] { sgd.restore(adam.state()); }),
             StartsWith("Optimizer::restore: argument 'state' does not fit this optimizer: ") &&
                 Contains("field 'second_moment' has 4 blocks, expected 0"));
  OptimizerState<float> s = sgd.state();
  s.steps.pop_back();
  CHECK_THAT(expect_error("learning.optimizer.restore", [&] { sgd.restore(s); }),
             Contains("field 'steps' has 3 entries, expected 4"));
  Optimizer<float> fresh;
  CHECK_THAT(expect_error("learning.optimizer.restore", [&] { fresh.restore(sgd.state()); }),
             Contains("field 'first_moment' has 4 blocks, expected 0"));
}

TEST_CASE("learning.optimizer.map_sizes, mismatch, learning_rate, block_size", "[reliability][errors][learning]") {
  Model model = small_model();
  Optimizer<float> optimizer;
  const auto params = model.parameters();
  Gradients<float> g = model.zero_gradients();
  CHECK_THAT(expect_error("learning.optimizer.map_sizes", [&] { optimizer.preprocess(g, {64.0}); }),
             Contains("has 1 entries, expected one per gradient block (4)"));
  const std::vector<char> all(params.size(), 1);
  CHECK_THAT(expect_error("learning.optimizer.mismatch", [&] { optimizer.update(params, g, 1e-3, all); }),
             Contains("state for 0 blocks"));
  optimizer.reset(params);
  CHECK_THAT(expect_error("learning.optimizer.learning_rate", [&] { optimizer.update(params, g, -1.0, all); }),
             Contains("'learning_rate' is -1"));
  g.blocks[2].resize(3);
  CHECK_THAT(expect_error("learning.optimizer.block_size", [&] { optimizer.update(params, g, 1e-3, all); }),
             Contains("block layer2.weight has 54 parameters but the gradient or state has 3"));
}

TEST_CASE("learning.optimizer.diverged", "[reliability][errors][learning]") {
  Model model = small_model();
  Optimizer<float> optimizer(OptimizerOptions{OptimizerOptions::Method::sgd, 1e30});
  const auto params = model.parameters();
  optimizer.reset(params);
  Gradients<float> g = model.zero_gradients();
  for (auto& b : g.blocks) b.setConstant(1e10f);  // η·g = 1e40 overflows float
  const std::vector<char> all(params.size(), 1);
  CHECK_THAT(expect_error("learning.optimizer.diverged", [&] { optimizer.update(params, g, 1e30, all); }),
             Contains("parameter block layer0.weight became NaN or Inf"));
}

TEST_CASE("learning.statistics.layers, channels", "[reliability][errors][learning]") {
  const std::vector<Vector<double>> a{Vector<double>::Zero(3)}, b{Vector<double>::Zero(3), Vector<double>::Zero(2)},
      c{Vector<double>::Zero(4)};
  CHECK_THAT(expect_error("learning.statistics.layers", [&] { activation_frequency_mismatch(a, b); }),
             Contains("have 1 and 2 layers"));
  CHECK_THAT(expect_error("learning.statistics.channels", [&] { activation_frequency_mismatch(a, c); }),
             Contains("layer 0 has 3 and 4 channels"));
}
