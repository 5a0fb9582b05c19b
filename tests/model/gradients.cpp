// ∂f/∂I (score_and_gradient) and ∂f/∂w (accumulate_parameter_gradient) against finite differences,
// through the library's checker (testing/gradient_check.hpp), for ReLU, max-pooling, partially active
// and run-time models; and the accumulation contract (scale, +=, inactive layers untouched).
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

// Sum over the active layers of min(size, 300), plus min(image entries, 300): what the checker compares
// when nothing is skipped.
template <class Model>
Index comparable_entries(Model& model, Index batch) {
  Index n = std::min<Index>(model.input_shape().size() * batch, 300);
  for (const auto& p : model.parameters())
    if (p.layer < model.depth()) n += std::min<Index>(p.size(), 300);
  return n;
}

template <class Model>
void check_gradients(Model& model, Index batch, std::mt19937_64& engine) {
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), batch, engine);
  const auto r = testing::check_model_gradients(model, x, engine);
  INFO(r.worst);
  CHECK(r.passed);
  CHECK(r.max_error < 1e-6);
  const Index all = comparable_entries(model, batch);
  CHECK(r.checked + r.skipped == all);
  CHECK(r.checked >= all * 95 / 100);  // kinks (within 1e-6 of a switch in δ) are rare: ≤ 5% skipped
}

}  // namespace

TEST_CASE("ReLU ConvNet gradients (image and parameters) pass the finite-difference checker", "[model][gradient]") {
  std::mt19937_64 engine(401);
  EnergyModel model(Shape{3, 14, 12}, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, Conv<double>(4, 3).padding(1),
                    ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_gradients(model, 2, engine);
}

TEST_CASE("Max-pooling ConvNet gradients pass the finite-difference checker", "[model][gradient][maxpool]") {
  std::mt19937_64 engine(402);
  EnergyModel model(Shape{2, 15, 15}, Conv<double>(5, 3).padding(1), ReLU<double>{}, MaxPool<double>(3, 2),
                    Conv<double>(3, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  check_gradients(model, 2, engine);
}

TEST_CASE("Gradients of a partially active model skip inactive layers and pass the checker", "[model][gradient][depth]") {
  std::mt19937_64 engine(403);
  DynamicModel<double> model(Shape{2, 16, 16}, parse_layers<double>("conv:5:3:1:1,relu,conv:4:3:2,relu,fc:3,relu"));
  mt::randomize(model, engine, 0.3, 0.2);
  model.set_depth(4);
  check_gradients(model, 2, engine);

  // the inactive blocks are left exactly as they were
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 2, engine);
  auto g = model.zero_gradients();
  for (auto& b : g.blocks) b.setConstant(7.0);
  model.accumulate_parameter_gradient(x, g, 1.0);
  const auto params = model.parameters();
  for (std::size_t b = 0; b < params.size(); ++b) {
    CAPTURE(params[b].name);
    if (params[b].layer >= model.depth())
      CHECK((g.blocks[b].array() == 7.0).all());
    else
      CHECK_FALSE((g.blocks[b].array() == 7.0).all());
  }
}

TEST_CASE("accumulate_parameter_gradient adds scale times the sum over the batch", "[model][gradient]") {
  std::mt19937_64 engine(404);
  EnergyModel model(Shape{2, 9, 9}, Conv<double>(4, 3), ReLU<double>{}, Conv<double>(3, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  auto once = model.zero_gradients();
  model.accumulate_parameter_gradient(x, once, 1.0);
  REQUIRE(once.squared_norm() > 0);
  REQUIRE(once.all_finite());

  auto g = model.zero_gradients();
  for (auto& b : g.blocks) b.setConstant(1.0);
  model.accumulate_parameter_gradient(x, g, -0.25);
  model.accumulate_parameter_gradient(x, g, 2.0);
  for (std::size_t b = 0; b < g.blocks.size(); ++b) {
    const Vector<double> expected = Vector<double>::Ones(once.blocks[b].size()) + 1.75 * once.blocks[b];
    CHECK(ref::relative_error(g.blocks[b], expected) <= 1e-14);
  }
  g.set_zero();
  CHECK(g.squared_norm() == 0.0);
}

TEST_CASE("The model gradient checker is not vacuous: it fails a wrong image gradient", "[model][gradient]") {
  // A model whose score is perturbed by a quadratic term its gradient ignores must fail the check.
  std::mt19937_64 engine(405);
  EnergyModel model(Shape{1, 6, 6}, Conv<double>(3, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  struct Wrong : decltype(model) {
    using Base = decltype(model);
    Vector<double> score(const Batch<double>& x) {
      return Base::score(x) + 0.5 * as_columns(x).colwise().squaredNorm().transpose();
    }
  };
  Wrong wrong{model};  // aggregate: the base is a copy of `model`
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 1, engine);
  const auto r = testing::check_model_gradients(wrong, x, engine);
  CHECK_FALSE(r.passed);
  CHECK(r.max_error > 0.1);
}
