// Models on the torus (Conv with PaddingMode::circular): Theorem 1 (f = α + ⟨I, B⟩, ∂f/∂I = B) and the
// finite-difference gradients ∂f/∂I, ∂f/∂w in double; a DynamicModel from a "…c" spec equals the
// EnergyModel; the score is invariant and B equivariant under rolling the image by the first stride.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

constexpr auto circular = PaddingMode::circular;

// The texture net's shape (15×15 at stride 3, then 5×5 and 3×3) at a small size, on the torus.
const Shape torus_shape{3, 21, 24};
const char* const torus_spec = "conv:6:15:3:6c,relu,conv:5:5:1:2c,relu,conv:4:3:1:1c,relu";

auto torus_model() {
  return EnergyModel(torus_shape, Conv<double>(6, 15).stride(3).padding(6, circular), ReLU<double>{},
                     Conv<double>(5, 5).padding(2, circular), ReLU<double>{}, Conv<double>(4, 3).padding(1, circular),
                     ReLU<double>{});
}

Batch<double> roll(const Batch<double>& x, Index dh, Index dw) {
  Batch<double> out(x.dimensions());
  const Index H = x.dimension(1), W = x.dimension(2);
  for (Index n = 0; n < x.dimension(3); ++n)
    for (Index w = 0; w < W; ++w)
      for (Index h = 0; h < H; ++h)
        for (Index c = 0; c < x.dimension(0); ++c)
          out(c, h, w, n) = x(c, ((h - dh) % H + H) % H, ((w - dw) % W + W) % W, n);
  return out;
}

}  // namespace

TEST_CASE("Theorem 1 holds on the torus (circular padding), on both convolution paths", "[model][theorem1][circular]") {
  std::mt19937_64 engine(901);
  for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
    CAPTURE(static_cast<int>(algorithm));
    auto model = torus_model();
    model.layer<0>().set_algorithm(algorithm);
    model.layer<2>().set_algorithm(algorithm);
    model.layer<4>().set_algorithm(algorithm);
    CHECK(model.top_shape() == Shape{4, 7, 8});
    mt::randomize(model, engine, 0.3, 0.2);
    const double on = mt::check_theorem1(model, 3, engine);
    CHECK(on > 0.05);
    CHECK(on < 0.95);
  }
  // with max pooling and a fully connected top (zero-padded layers above the torus)
  DynamicModel<double> model(Shape{2, 9, 12}, parse_layers<double>("conv:5:3:1:1c,relu,maxpool:3:2,fc:3,relu"));
  mt::randomize(model, engine, 0.3, 0.2);
  const double on = mt::check_theorem1(model, 3, engine);
  CHECK(on > 0.05);
  CHECK(on < 0.95);
}

TEST_CASE("Gradients on the torus pass the finite-difference checker", "[model][gradient][circular]") {
  std::mt19937_64 engine(902);
  for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
    CAPTURE(static_cast<int>(algorithm));
    auto model = torus_model();
    model.layer<0>().set_algorithm(algorithm);
    model.layer<2>().set_algorithm(algorithm);
    model.layer<4>().set_algorithm(algorithm);
    // weights of 0.1 keep f (a sum of 2·4·7·8 responses) near 100: the central differences' rounding,
    // ~ulp(f)/h, stays far below the 1e-6 tolerance (at 0.3, f ~ 5000 and it reaches 1e-6)
    mt::randomize(model, engine, 0.1, 0.2);
    const Batch<double> x = ref::random_batch<double>(model.input_shape(), 2, engine);
    const auto r = testing::check_model_gradients(model, x, engine);
    INFO(r.worst);
    CHECK(r.passed);
    CHECK(r.max_error < 1e-6);
    Index all = std::min<Index>(model.input_shape().size() * 2, 300);
    for (const auto& p : model.parameters()) all += std::min<Index>(p.size(), 300);
    CHECK(r.checked + r.skipped == all);
    CHECK(r.checked >= all * 95 / 100);  // kinks within the step of a switch in δ are rare
  }
}

TEST_CASE("DynamicModel from a circular spec equals the EnergyModel", "[model][dynamic][circular]") {
  std::mt19937_64 engine(903);
  auto fixed = torus_model();
  DynamicModel<double> dyn(torus_shape, parse_layers<double>(torus_spec));
  REQUIRE(dyn.num_layers() == fixed.num_layers());
  for (Index l = 0; l < fixed.num_layers(); ++l) CHECK(dyn.output_shape(l) == fixed.output_shape(l));
  CHECK(std::get<Conv<double>>(dyn.layer(0)).padding_mode() == circular);
  CHECK(std::get<Conv<double>>(dyn.layer(0)).describe() == "Conv 6 15x15 stride 3 pad 6 circular");
  CHECK(dyn.summary().find("pad 6 circular ") != std::string::npos);  // a space before the output column
  CHECK(dyn.summary() == [&] {
    std::string s = fixed.summary();
    return s.replace(0, std::string("EnergyModel").size(), "DynamicModel");
  }());
  mt::randomize(fixed, engine, 0.3, 0.2);
  mt::copy_parameters(fixed, dyn);
  const Batch<double> x = ref::random_batch<double>(torus_shape, 3, engine);
  Vector<double> s1, s2;
  Batch<double> g1, g2;
  fixed.score_and_gradient(x, s1, g1);
  dyn.score_and_gradient(x, s2, g2);
  CHECK(ref::relative_error(s2, s1) == 0.0);  // the same operations in the same order: bitwise
  CHECK(ref::relative_error(g2, g1) == 0.0);
  CHECK(dyn.last_pattern() == fixed.last_pattern());
  auto p1 = fixed.zero_gradients();
  auto p2 = dyn.zero_gradients();
  fixed.accumulate_parameter_gradient(x, p1, 0.5);
  dyn.accumulate_parameter_gradient(x, p2, 0.5);
  for (std::size_t b = 0; b < p1.blocks.size(); ++b) CHECK(ref::relative_error(p2.blocks[b], p1.blocks[b]) == 0.0);

  // and differs from the same net with zero padding (the 'c' is read)
  DynamicModel<double> zero(Shape{3, 21, 24}, parse_layers<double>("conv:6:15:3:6,relu,conv:5:5:1:2,relu,conv:4:3:1:1,relu"));
  mt::copy_parameters(fixed, zero);
  CHECK(ref::relative_error(zero.score(x), s1) > 1e-6);
}

TEST_CASE("On the torus the score is invariant and B equivariant under a roll by the stride", "[model][circular]") {
  std::mt19937_64 engine(904);
  auto model = torus_model();
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(torus_shape, 2, engine);
  Vector<double> f, f_rolled;
  Batch<double> b, b_rolled;
  model.score_and_gradient(x, f, b);
  model.score_and_gradient(roll(x, 3, 9), f_rolled, b_rolled);
  CHECK(ref::relative_error(f_rolled, f) < 1e-12);
  CHECK(ref::relative_error(b_rolled, roll(b, 3, 9)) < 1e-12);
  // a roll by less than the stride is not a symmetry of the stride-3 grid
  model.score(roll(x, 1, 0), f_rolled);
  CHECK(ref::relative_error(f_rolled, f) > 1e-6);
}
