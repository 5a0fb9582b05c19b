// Learning from the known pixels only (LearningOptions::observed_known, for inpainting): the hole never
// enters the learner (bit for bit, whatever it holds, NaN included), an all-known mask changes nothing,
// f(I_obs) is the known responses' sum scaled to the whole image and f(Ĩ) the chains' at the same
// positions, and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/model/receptive_field.hpp>

#include "learning_helpers.hpp"

using namespace gconvnet;
using namespace learning_test;

namespace {

using Net = EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>;

// 3 stages' worth of growing in 2 stages: 5x5 at stride 2, then 3x3
Net make_net(std::mt19937_64& engine) {
  Net net(Shape{2, 16, 18}, Conv<double>(4, 5).stride(2).padding(2), ReLU<double>{}, Conv<double>(3, 3).stride(1).padding(1), ReLU<double>{});
  initialize_normal(net, engine, 0.1);
  return net;
}

LearningOptions options_with(const PixelMask& known) {
  LearningOptions o;
  o.chains = 2;
  o.langevin = {0.3, 3, 1.0};
  o.optimizer.learning_rate = 0.01;
  o.observed_known = known;
  return o;
}

/// Every pixel known but a 5x6 hole (all channels) in image 0 and a 3x3 hole in channel 1 of image 1.
PixelMask hole_mask() {
  PixelMask known = make_batch<std::uint8_t>(Shape{2, 16, 18}, 2);
  known.setConstant(1);
  for (Index w = 7; w < 13; ++w)
    for (Index h = 5; h < 10; ++h)
      for (Index c = 0; c < 2; ++c) known(c, h, w, 0) = 0;
  for (Index w = 2; w < 5; ++w)
    for (Index h = 10; h < 13; ++h) known(1, h, w, 1) = 0;
  return known;
}

struct Learned {
  Vector<double> weights;
  Batch<double> chains;
  std::vector<double> scores;
};

/// Learns 4 iterations of stage 0 and 3 of stage 1 from `observed` with `known`.
Learned learn(const Batch<double>& observed, const PixelMask& known) {
  std::mt19937_64 engine(7);
  Net net = make_net(engine);
  MleLearner learner(net, observed, options_with(known), 21);
  Learned out;
  for (int t = 0; t < 7; ++t) {
    if (t == 4) learner.set_stage(1);
    out.scores.push_back(learner.step().score_observed);
  }
  out.weights = flat_parameters(net);
  out.chains = learner.synthesized();
  return out;
}

}  // namespace

TEST_CASE("the observed statistics never see the unknown pixels, whatever they hold", "[learning][known_pixels]") {
  std::mt19937_64 engine(1401);
  const PixelMask known = hole_mask();
  Batch<double> a = make_batch<double>(Shape{2, 16, 18}, 2);
  fill_standard_normal(engine, a);
  Batch<double> b = a, c = a;
  for (Index i = 0; i < a.size(); ++i)
    if (!known.data()[i]) {
      b.data()[i] = 50.0 * a.data()[i] + 7.0;
      c.data()[i] = std::numeric_limits<double>::quiet_NaN();
    }
  const Learned la = learn(a, known), lb = learn(b, known), lc = learn(c, known);
  CHECK(bit_equal_vectors(la.weights, lb.weights));
  CHECK(same_batch(la.chains, lb.chains));
  CHECK(la.scores == lb.scores);
  CHECK(bit_equal_vectors(la.weights, lc.weights));  // NaN in the hole is no error
  CHECK(same_batch(la.chains, lc.chains));

  // ... while without the mask the hole's content does change the learning
  PixelMask all = make_batch<std::uint8_t>(Shape{2, 16, 18}, 1);
  all.setConstant(1);
  CHECK_FALSE(bit_equal_vectors(learn(a, all).weights, learn(b, all).weights));
}

TEST_CASE("an all-known mask learns exactly as no mask", "[learning][known_pixels]") {
  std::mt19937_64 engine(1402);
  Batch<double> observed = make_batch<double>(Shape{2, 16, 18}, 2);
  fill_standard_normal(engine, observed);
  PixelMask all = make_batch<std::uint8_t>(Shape{2, 16, 18}, 1);
  all.setConstant(1);
  const Learned masked = learn(observed, all), plain = learn(observed, PixelMask());
  CHECK(bit_equal_vectors(masked.weights, plain.weights));
  CHECK(same_batch(masked.chains, plain.chains));
  CHECK(masked.scores == plain.scores);
}

TEST_CASE("f(I_obs) with a mask is the sum of the known responses scaled to the whole image, f(synthesized) "
          "the same positions' sum",
          "[learning][known_pixels]") {
  std::mt19937_64 engine(1403);
  const PixelMask known = hole_mask();
  Batch<double> observed = make_batch<double>(Shape{2, 16, 18}, 2);
  fill_standard_normal(engine, observed);
  Net net = make_net(engine);
  net.set_depth(4);
  // the expectation, computed here by hand: the responses away from the hole (zero padding counts as known),
  // the zeroed hole
  const Index M = 2;
  Batch<double> zeroed = observed;
  for (Index i = 0; i < zeroed.size(); ++i)
    if (!known.data()[i]) zeroed.data()[i] = 0;
  const PixelMask top = known_top_units(net, known);
  Index count = 0;
  for (Index i = 0; i < top.size(); ++i) count += top.data()[i];
  REQUIRE(count > 0);
  REQUIRE(count < top.size());
  double expected = 0;
  const Index per = net.top_shape().size();
  for (Index i = 0; i < top.size(); ++i) {
    if (!top.data()[i]) continue;
    Batch<double> onehot = make_batch<double>(net.top_shape(), 1);
    onehot.setZero();
    onehot.data()[i % per] = 1;
    Gradients<double> g = net.zero_gradients();
    Vector<double> s;
    net.accumulate_parameter_gradient(zeroed, g, 1.0, s, onehot);
    expected += s(i / per);
  }
  expected *= static_cast<double>(top.size()) / static_cast<double>(count) / static_cast<double>(M);

  MleLearner learner(net, observed, options_with(known), 3);
  learner.set_stage(1);
  Net before = net;
  const IterationStats stats = learner.step();
  CHECK(stats.score_observed == Approx(expected).epsilon(1e-12));

  // f(Ĩ): the chains' responses at the same positions, each weighted by the mean of the two images'
  // weights (a position known in both counts fully, in one of them half)
  Batch<double> omega = make_batch<double>(net.top_shape(), 1);
  for (Index i = 0; i < per; ++i)
    omega.data()[i] = 0.5 * (top.data()[i] + top.data()[i + per]) * static_cast<double>(top.size()) /
                      static_cast<double>(count);
  Gradients<double> g = before.zero_gradients();
  Vector<double> s;
  before.accumulate_parameter_gradient(learner.synthesized(), g, 1.0, s, omega);
  CHECK(stats.score_synthesized == Approx(s.mean()).epsilon(1e-12));
}

TEST_CASE("observed_known: a wrong shape or no known response is refused", "[learning][known_pixels]") {
  std::mt19937_64 engine(1404);
  Net net = make_net(engine);
  Batch<double> observed = make_batch<double>(Shape{2, 16, 18}, 2);
  observed.setZero();
  PixelMask wrong = make_batch<std::uint8_t>(Shape{2, 16, 18}, 3);
  wrong.setConstant(1);
  CHECK_THROWS_WITH(MleLearner(net, observed, options_with(wrong), 1),
                    "MleLearner::MleLearner: argument 'options.observed_known' has shape 2x16x18x3, expected "
                    "2x16x18x1 or 2x16x18x2 (the observed images' shape)");
  PixelMask none = make_batch<std::uint8_t>(Shape{2, 16, 18}, 1);
  none.setZero();
  CHECK_THROWS_WITH(MleLearner(net, observed, options_with(none), 1),
                    Catch::Contains("argument 'options.observed_known' leaves no response of layer 1 (stage 0)"));
  observed(0, 0, 0, 0) = std::numeric_limits<double>::infinity();
  PixelMask all = make_batch<std::uint8_t>(Shape{2, 16, 18}, 1);
  all.setConstant(1);
  CHECK_THROWS_WITH(MleLearner(net, observed, options_with(all), 1),
                    "MleLearner::MleLearner: argument 'observed' holds NaN or Inf at a known pixel");
}
