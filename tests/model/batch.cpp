// Batches: the score, ∂f/∂I, δ and ∂f/∂w of a batch of N equal those of each image alone; float and
// double agree; energy, single-image entry points and copies.
#include <gconvnet/gconvnet.hpp>

#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

template <class S>
using PoolNet = EnergyModel<Conv<S>, ReLU<S>, MaxPool<S>, Conv<S>, ReLU<S>>;

template <class S>
PoolNet<S> pool_net() {
  return PoolNet<S>(Shape{3, 16, 14}, Conv<S>(6, 5).stride(2).padding(2), ReLU<S>{}, MaxPool<S>(2), Conv<S>(4, 3).padding(1), ReLU<S>{});
}

}  // namespace

TEST_CASE("A batch of N scores and differentiates like N single images", "[model][batch]") {
  std::mt19937_64 engine(601);
  auto model = pool_net<double>();
  mt::randomize(model, engine, 0.3, 0.2);
  const Index N = 5;
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), N, engine);
  Vector<double> scores;
  Batch<double> grad;
  model.score_and_gradient(x, scores, grad);
  const ActivationPattern<double> delta = model.last_pattern();
  const Reconstruction<double> rec = model.top_down(delta);
  auto g_batch = model.zero_gradients();
  model.accumulate_parameter_gradient(x, g_batch, 1.0);

  auto g_sum = model.zero_gradients();
  for (Index n = 0; n < N; ++n) {
    CAPTURE(n);
    const Batch<double> one = as_batch(image_of(x, n));
    Vector<double> s1;
    Batch<double> g1;
    model.score_and_gradient(one, s1, g1);
    REQUIRE(s1.size() == 1);
    CHECK(s1(0) == Approx(scores(n)).epsilon(1e-13));
    CHECK(ref::relative_error(g1, image_of(grad, n)) <= 1e-13);
    const Reconstruction<double> r1 = model.top_down(model.last_pattern());
    CHECK(r1.alpha(0) == Approx(rec.alpha(n)).epsilon(1e-13));
    CHECK(ref::relative_error(r1.B, image_of(rec.B, n)) <= 1e-13);
    // δ of image n alone equals slice n of the batch's δ
    for (std::size_t l = 0; l < delta.layers.size(); ++l) {
      const auto& whole = delta.layers[l];
      const auto& alone = model.last_pattern().layers[l];
      const Index gs = alone.gate.size(), ss = alone.switches.size();
      CHECK(std::equal(alone.gate.data(), alone.gate.data() + gs, whole.gate.data() + n * gs));
      CHECK(std::equal(alone.switches.data(), alone.switches.data() + ss, whole.switches.data() + n * ss));
    }
    model.accumulate_parameter_gradient(one, g_sum, 1.0);
    CHECK(model.score(image_of(x, n)) == Approx(scores(n)).epsilon(1e-13));
    CHECK(ref::relative_error(model.image_gradient(image_of(x, n)), image_of(grad, n)) <= 1e-13);
  }
  for (std::size_t b = 0; b < g_sum.blocks.size(); ++b) CHECK(ref::relative_error(g_sum.blocks[b], g_batch.blocks[b]) <= 1e-12);
}

TEST_CASE("float and double models with the same parameters agree to about 1e-4", "[model][batch][float]") {
  std::mt19937_64 engine(602);
  auto md = pool_net<double>();
  auto mf = pool_net<float>();
  mt::randomize(md, engine, 0.3, 0.2);
  mt::copy_parameters(md, mf);
  // round the double parameters to float so that both compute with the same numbers
  mt::copy_parameters(mf, md);
  const Batch<float> xf = ref::random_batch<float>(md.input_shape(), 4, engine);
  const Batch<double> xd = xf.cast<double>();

  Vector<double> sd;
  Batch<double> gd;
  md.score_and_gradient(xd, sd, gd);
  Vector<float> sf;
  Batch<float> gf;
  mf.score_and_gradient(xf, sf, gf);
  CHECK(ref::relative_error(sf, sd) < 1e-4);

  // B is piecewise constant: it agrees where both precisions see the same pattern δ.
  Index flipped = 0;
  for (std::size_t l = 0; l < md.last_pattern().layers.size(); ++l) {
    const auto& a = md.last_pattern().layers[l];
    const auto& b = mf.last_pattern().layers[l];
    for (Index i = 0; i < a.gate.size(); ++i) flipped += static_cast<float>(a.gate.data()[i]) != b.gate.data()[i];
    for (Index i = 0; i < a.switches.size(); ++i) flipped += a.switches.data()[i] != b.switches.data()[i];
  }
  REQUIRE(flipped == 0);
  CHECK(ref::relative_error(gf, gd) < 1e-4);

  auto g_d = md.zero_gradients();
  auto g_f = mf.zero_gradients();
  md.accumulate_parameter_gradient(xd, g_d, 1.0);
  mf.accumulate_parameter_gradient(xf, g_f, 1.0f);
  for (std::size_t b = 0; b < g_d.blocks.size(); ++b) CHECK(ref::relative_error(g_f.blocks[b], g_d.blocks[b]) < 1e-4);
}

TEST_CASE("energy is |I|^2/(2 sigma^2) - f(I)", "[model]") {
  std::mt19937_64 engine(603);
  auto model = pool_net<double>();
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  const Vector<double> f = model.score(x);
  for (double sigma : {1.0, 0.5, 3.0}) {
    const Vector<double> u = model.energy(x, sigma);
    for (Index n = 0; n < 3; ++n) {
      double sq = 0;
      for (Index i = 0; i < model.input_shape().size(); ++i) sq += x.data()[n * model.input_shape().size() + i] * x.data()[n * model.input_shape().size() + i];
      CHECK(u(n) == Approx(sq / (2 * sigma * sigma) - f(n)).epsilon(1e-13));
    }
    CHECK(model.energy(image_of(x, 1), sigma) == Approx(u(1)).epsilon(1e-13));
  }
}

TEST_CASE("A copied model is independent of the original", "[model]") {
  std::mt19937_64 engine(604);
  auto model = pool_net<double>();
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 2, engine);
  const Vector<double> f = model.score(x);
  auto copy = model;
  CHECK(ref::relative_error(copy.score(x), f) == 0.0);
  copy.parameters()[0].vector().setZero();
  CHECK(ref::relative_error(model.score(x), f) == 0.0);
  CHECK(ref::relative_error(copy.score(x), f) > 1e-3);
}
