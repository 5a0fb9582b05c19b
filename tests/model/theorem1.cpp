// Theorem 1: f(I; w) = α_{w,δ} + ⟨I, B_{w,δ}⟩ and ∂f/∂I = B_{w,δ(I)} (eq. 6.7, 6.13–6.14), for random
// weights and biases, with and without max pooling, at several image sizes and channel counts, for
// EnergyModel, DynamicModel and a model whose depth is below its number of layers.
#include <gconvnet/gconvnet.hpp>

#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

TEST_CASE("Theorem 1 holds for random two-layer ReLU ConvNets at several sizes and channel counts", "[model][theorem1]") {
  std::mt19937_64 engine(101);
  struct Case {
    Shape shape;
    Index f1, k1, s1, p1, f2, k2;
  };
  const std::vector<Case> cases = {
      {{1, 9, 13}, 4, 3, 1, 0, 3, 3}, {{3, 16, 16}, 6, 5, 2, 2, 4, 3}, {{2, 24, 20}, 5, 7, 3, 1, 3, 2},
      {{4, 12, 7}, 3, 2, 1, 1, 5, 4},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.shape));
    EnergyModel model(c.shape, Conv<double>(c.f1, c.k1).stride(c.s1).padding(c.p1), ReLU<double>{}, Conv<double>(c.f2, c.k2),
                      ReLU<double>{});
    mt::randomize(model, engine, 0.3, 0.2);
    const double on = mt::check_theorem1(model, 3, engine);
    CHECK(on > 0.05);
    CHECK(on < 0.95);
  }
}

TEST_CASE("Theorem 1 holds with max pooling (switches are part of the pattern)", "[model][theorem1][maxpool]") {
  std::mt19937_64 engine(102);
  for (const auto& [shape, pool_kernel, pool_stride] :
       std::vector<std::tuple<Shape, Index, Index>>{{{3, 16, 16}, 2, 2}, {{2, 17, 13}, 3, 2}, {{1, 14, 18}, 2, 3}}) {
    CAPTURE(to_string(shape), pool_kernel, pool_stride);
    EnergyModel model(shape, Conv<double>(5, 3).padding(1), ReLU<double>{}, MaxPool<double>(pool_kernel, pool_stride),
                      Conv<double>(4, 3).padding(1), ReLU<double>{});
    mt::randomize(model, engine, 0.3, 0.2);
    const double on = mt::check_theorem1(model, 2, engine);
    CHECK(on > 0.05);
    CHECK(on < 0.95);
  }
  // pooling before the nonlinearity, and a linear fully connected top layer
  EnergyModel model(Shape{3, 15, 11}, Conv<double>(6, 4).padding(2), MaxPool<double>(3, 2), ReLU<double>{},
                    Conv<double>::fully_connected(3));
  mt::randomize(model, engine, 0.3, 0.2);
  mt::check_theorem1(model, 3, engine);
}

TEST_CASE("Theorem 1 holds for DynamicModel built from layer specs", "[model][theorem1][dynamic]") {
  std::mt19937_64 engine(103);
  const std::vector<std::pair<Shape, std::string>> cases = {
      {{3, 16, 16}, "conv:6:5:2:2,relu,conv:4:3:1:1,relu"},
      {{2, 20, 18}, "conv:5:3,relu,maxpool:3:2,conv:3:3:1:1,relu,fc:4,relu"},
      {{1, 13, 13}, "conv:4:4:3:2,maxpool:2:1,relu,conv:3:2,relu"},
      {{3, 8, 10}, "fc:8,relu"},
  };
  for (const auto& [shape, spec] : cases) {
    CAPTURE(to_string(shape), spec);
    DynamicModel<double> model(shape, parse_layers<double>(spec));
    mt::randomize(model, engine, 0.3, 0.2);
    const double on = mt::check_theorem1(model, 3, engine);
    CHECK(on > 0.05);
    CHECK(on < 0.95);
  }
}

TEST_CASE("Theorem 1 holds when depth < num_layers, and the inactive layers do not matter", "[model][theorem1][depth]") {
  std::mt19937_64 engine(104);
  EnergyModel model(Shape{2, 18, 18}, Conv<double>(5, 5).stride(2).padding(2), ReLU<double>{}, Conv<double>(4, 3).padding(1),
                    ReLU<double>{}, Conv<double>(3, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  for (Index depth : {2, 4, 3, 5, 1, 6}) {
    CAPTURE(depth);
    model.set_depth(depth);
    REQUIRE(model.depth() == depth);
    REQUIRE(model.num_layers() == 6);
    CHECK(model.top_shape() == model.output_shape(depth - 1));
    mt::check_theorem1(model, 2, engine);
  }

  // depth 2 of this model scores like the two-layer model with the same first two layers
  model.set_depth(2);
  EnergyModel two(Shape{2, 18, 18}, Conv<double>(5, 5).stride(2).padding(2), ReLU<double>{});
  auto all = model.parameters();
  auto first = two.parameters();
  for (std::size_t i = 0; i < first.size(); ++i) first[i].vector() = all[i].vector();
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  CHECK(ref::relative_error(model.score(x), two.score(x)) <= 1e-14);
  // changing an inactive layer's weights changes nothing
  all.back().vector().setConstant(5.0);
  all[2].vector().setConstant(-3.0);
  CHECK(ref::relative_error(model.score(x), two.score(x)) <= 1e-14);
}

TEST_CASE("B changes when the perturbation flips the pattern (the invariance check is not vacuous)", "[model][theorem1]") {
  std::mt19937_64 engine(105);
  EnergyModel model(Shape{2, 12, 12}, Conv<double>(6, 3), ReLU<double>{}, Conv<double>(4, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 1, engine);
  const ActivationPattern<double> d1 = model.bottom_up(x);
  const Reconstruction<double> r1 = model.top_down(d1);
  Batch<double> y = x;
  as_vector(y) += as_vector(ref::random_batch<double>(model.input_shape(), 1, engine, 0.5));
  const ActivationPattern<double> d2 = model.bottom_up(y);
  REQUIRE(d2.count_differences(d1) > 0);
  CHECK(d2 != d1);
  const Reconstruction<double> r2 = model.top_down(d2);
  CHECK(ref::relative_error(r2.B, r1.B) > 1e-3);
  // and Theorem 1 with the old piece's α, B fails at the new image
  const double f = model.score(y)(0);
  CHECK(std::abs(f - (r1.alpha(0) + mt::inner(y, r1.B, 0))) > 1e-6 * std::abs(f));
}

TEST_CASE("top_down uses the pattern only: a stored pattern reconstructs after other images were scored",
          "[model][theorem1]") {
  std::mt19937_64 engine(106);
  DynamicModel<double> model(Shape{3, 10, 10}, parse_layers<double>("conv:4:3:1:1,relu,maxpool:2,conv:3:3,relu"));
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 2, engine);
  ActivationPattern<double> delta;
  model.bottom_up(x, delta);
  const Reconstruction<double> before = model.top_down(delta);
  model.score(ref::random_batch<double>(model.input_shape(), 5, engine));  // overwrites the model's buffers
  Reconstruction<double> after;
  model.top_down(delta, after);
  CHECK(ref::relative_error(after.B, before.B) == 0.0);
  CHECK(ref::relative_error(after.alpha, before.alpha) == 0.0);
}
