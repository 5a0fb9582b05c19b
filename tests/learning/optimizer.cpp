// The parameter update (eq. 7.2 ascent) with the release code's settings, Adam, and the learner's
// gradient H_obs − H_syn.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/learning/optimizer.hpp>

#include "learning_helpers.hpp"

using namespace gconvnet;
using namespace learning_test;

namespace {

// Two parameter blocks: weights {1, −2, 0.5} and bias {0.25}.
struct Params {
  Vector<double> w = (Vector<double>(3) << 1.0, -2.0, 0.5).finished();
  Vector<double> b = (Vector<double>(1) << 0.25).finished();
  std::vector<ParameterRef<double>> refs() {
    return {{"layer0.weight", w.data(), {3}, false, 0}, {"layer0.bias", b.data(), {1}, true, 0}};
  }
};

Gradients<double> gradient(std::initializer_list<double> gw, double gb) {
  Gradients<double> g;
  g.blocks.emplace_back(Eigen::Map<const Vector<double>>(gw.begin(), 3));
  g.blocks.emplace_back(Vector<double>::Constant(1, gb));
  return g;
}

}  // namespace

TEST_CASE("SGD ascent: w += eta (g - decay w), bias eta x2 without decay, momentum as MatConvNet", "[optimizer]") {
  Params p;
  OptimizerOptions o;
  o.learning_rate = 0.1;
  o.weight_decay = 0.01;
  o.bias_learning_rate_multiplier = 2;
  o.momentum = 0.5;
  Optimizer<double> opt(o);
  opt.reset(p.refs());
  const auto g = gradient({0.5, -0.5, 1.0}, 1.0);
  opt.update(p.refs(), g, 0.1, {1, 1});
  // v = g − λw; w += η v
  CHECK(p.w(0) == Approx(1.0 + 0.1 * (0.5 - 0.01 * 1.0)).epsilon(1e-15));
  CHECK(p.w(1) == Approx(-2.0 + 0.1 * (-0.5 + 0.01 * 2.0)).epsilon(1e-15));
  CHECK(p.b(0) == Approx(0.25 + 0.2 * 1.0).epsilon(1e-15));
  const double w0 = p.w(0), v0 = 0.5 - 0.01 * 1.0;
  opt.update(p.refs(), g, 0.1, {1, 1});
  CHECK(p.w(0) == Approx(w0 + 0.1 * (0.5 * v0 + 0.5 - 0.01 * w0)).epsilon(1e-15));
  CHECK(p.b(0) == Approx(0.45 + 0.2 * (0.5 * 1.0 + 1.0)).epsilon(1e-15));
  CHECK(opt.state().steps == std::vector<Index>{2, 2});

  // A frozen block and its state are left alone.
  const Vector<double> w = p.w;
  opt.update(p.refs(), g, 0.1, {0, 1});
  CHECK(p.w == w);
  CHECK(opt.state().steps == std::vector<Index>{2, 3});
}

TEST_CASE("release-code preprocessing: divide by the map's HxW, then cap the largest entry", "[optimizer]") {
  OptimizerOptions o;
  o.gradient_cap = 20;
  Optimizer<double> opt(o);
  auto g = gradient({100.0, -400.0, 10.0}, 30.0);
  opt.preprocess(g, {4.0, 1.0});
  CHECK(g.blocks[0](0) == Approx(25.0 * 20.0 / 100.0));  // 400/4 = 100 > 20: rescaled to max 20
  CHECK(g.blocks[0](1) == Approx(-20.0));
  CHECK(g.blocks[1](0) == Approx(20.0));  // 30 > 20
  auto small = gradient({1.0, -2.0, 3.0}, 0.5);
  opt.preprocess(small, {2.0, 2.0});
  CHECK(small.blocks[0](2) == 1.5);  // below the cap: only normalised
  CHECK(small.blocks[1](0) == 0.25);
  OptimizerOptions off;
  off.normalize_by_map_size = false;
  off.gradient_cap = 0;
  auto raw = gradient({100.0, -400.0, 10.0}, 30.0);
  Optimizer<double>(off).preprocess(raw, {4.0, 1.0});
  CHECK(raw.blocks[0](1) == -400.0);
  CHECK_THROWS_AS(opt.preprocess(raw, {1.0}), Error);
}

TEST_CASE("Adam ascent with bias correction and decoupled-from-bias weight decay", "[optimizer]") {
  Params p;
  OptimizerOptions o;
  o.method = OptimizerOptions::Method::adam;
  o.weight_decay = 0.1;
  o.bias_learning_rate_multiplier = 1;
  Optimizer<double> opt(o);
  opt.reset(p.refs());
  const auto g = gradient({0.5, -0.5, 0.0}, 2.0);
  opt.update(p.refs(), g, 0.01, {1, 1});
  // Step 1: m̂ = g', v̂ = g'², so the step is η·sign(g') (up to eps).
  const double g0 = 0.5 - 0.1 * 1.0, g2 = 0.0 - 0.1 * 0.5;
  CHECK(p.w(0) == Approx(1.0 + 0.01 * g0 / (std::abs(g0) + 1e-8)).epsilon(1e-12));
  CHECK(p.w(2) == Approx(0.5 + 0.01 * g2 / (std::abs(g2) + 1e-8)).epsilon(1e-12));
  CHECK(p.b(0) == Approx(0.25 + 0.01 * 2.0 / (2.0 + 1e-8)).epsilon(1e-12));  // no decay on biases
  // Step 2 by hand for w(0).
  const double w1 = p.w(0), g1 = 0.5 - 0.1 * w1;
  const double m = 0.9 * 0.1 * g0 + 0.1 * g1, v = 0.999 * 0.001 * g0 * g0 + 0.001 * g1 * g1;
  const double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
  opt.update(p.refs(), g, 0.01, {1, 1});
  CHECK(p.w(0) == Approx(w1 + 0.01 * mh / (std::sqrt(vh) + 1e-8)).epsilon(1e-12));
}

TEST_CASE("a learner step ascends H_obs - H_syn of the chains it just sampled (eq. 7.2)", "[optimizer]") {
  std::mt19937_64 engine(8);
  EnergyModel model(Shape{2, 8, 8}, Conv<double>(3, 3).padding(1), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  initialize_normal(model, engine, 0.2, 0.05);
  Batch<double> observed = make_batch<double>(model.input_shape(), 3);
  fill_standard_normal(engine, observed);
  LearningOptions options;
  options.chains = 4;
  options.langevin = {0.3, 2, 1.0};
  options.optimizer.normalize_by_map_size = false;
  options.optimizer.gradient_cap = 0;
  options.optimizer.weight_decay = 0;
  options.optimizer.bias_learning_rate_multiplier = 1;
  options.optimizer.learning_rate = 0.01;
  MleLearner learner(model, observed, options, 21);
  learner.set_stage(1);
  const double eta = learner.learning_rate();
  CHECK(eta == 0.005);  // 0.01 × 0.5 at the second stage
  auto before = model;
  IterationStats seen;
  learner.on_iteration([&](const IterationStats& s) { seen = s; });
  const IterationStats s = learner.step();
  CHECK(seen.iteration == s.iteration);
  CHECK(seen.score_observed == s.score_observed);

  // H_obs − H_syn recomputed with the parameters before the update and the chains after sampling.
  Gradients<double> h = before.zero_gradients();
  before.accumulate_parameter_gradient(observed, h, 1.0 / 3);
  before.accumulate_parameter_gradient(learner.synthesized(), h, -1.0 / 4);
  const Vector<double> w0 = flat_parameters(before), w1 = flat_parameters(model);
  Index at = 0;
  double norm0 = 0;
  for (std::size_t b = 0; b < h.blocks.size(); ++b) {
    CHECK((learner.gradient().blocks[b] - h.blocks[b]).cwiseAbs().maxCoeff() <= 1e-12);
    const Vector<double> step = w1.segment(at, h.blocks[b].size()) - w0.segment(at, h.blocks[b].size());
    CHECK((step - eta * h.blocks[b]).cwiseAbs().maxCoeff() <= 1e-14);  // ascent
    at += h.blocks[b].size();
    if (b < 2) norm0 += h.blocks[b].squaredNorm();
  }
  CHECK(s.gradient_norm[0] == Approx(std::sqrt(norm0)).epsilon(1e-12));
  CHECK(s.score_observed == Approx(before.score(observed).mean()).epsilon(1e-12));
  CHECK(s.score_synthesized == Approx(before.score(learner.synthesized()).mean()).epsilon(1e-12));
  CHECK(s.active_observed[0] == Approx(before.bottom_up(observed).active_fraction(1)).epsilon(1e-12));
}
