// The public boundary of the models: the deduction guide with named Conv options, const queries
// (same results as through a mutable model, read-only parameter views), the layer contract as a
// trait, constructor errors naming the constructor, copy_parameters and growth under a fixed top.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <gconvnet/gconvnet.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

template <class S>
bool bit_equal(const Batch<S>& a, const Batch<S>& b) {
  return a.dimensions() == b.dimensions() && std::equal(a.data(), a.data() + a.size(), b.data());
}

template <class S>
bool bit_equal(const Vector<S>& a, const Vector<S>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// A layer with every member of the contract but `describe`.
struct NoDescribe {
  using Scalar = double;
  static const char* name() { return "NoDescribe"; }
  Shape configure(const Shape& in) { return in; }
  void forward(const Batch<double>& x, Batch<double>& y, LayerPattern<double>&) const { y = x; }
  void backward(const LayerPattern<double>&, const Batch<double>& dy, Batch<double>& dx) const { dx = dy; }
  double bias_term(const Batch<double>&, Index) const { return 0; }
  void accumulate_gradient(const Batch<double>&, double, Vector<double>*) const {}
  static constexpr Index parameter_blocks() { return 0; }
  ParameterRef<double> parameter(Index) { return {}; }
  Index macs() const { return 0; }
};

}  // namespace

TEST_CASE("EnergyModel deduces its layer types from named Conv options (the chain decays to Conv)", "[model][boundary]") {
  EnergyModel model(Shape{3, 32, 32}, Conv<double>(8, 5).stride(2).padding(2), ReLU<double>{},
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  static_assert(std::is_same_v<decltype(model), EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>>);
  CHECK(model.output_shape(0) == (Shape{8, 16, 16}));  // (32 + 4 − 5)/2 + 1
  CHECK(model.output_shape(2) == (Shape{4, 16, 16}));
  CHECK(model.layer<0>().stride() == 2);
  CHECK(model.layer<0>().padding() == 2);
  // A layer variable is copied in; the variable is unchanged (not configured).
  auto conv = Conv<double>(8, 5).stride(2);
  EnergyModel copy(Shape{1, 9, 9}, conv, ReLU<double>{});
  CHECK(conv.kernel_height() == 0);
  CHECK(copy.layer<0>().kernel_height() == 5);
}

TEST_CASE("The layer contract is a compile-time trait", "[model][boundary]") {
  static_assert(is_layer_v<Conv<float>> && is_layer_v<ReLU<double>> && is_layer_v<MaxPool<float>> &&
                is_layer_v<Softplus<double>>);
  static_assert(!is_layer_v<NoDescribe>);
  static_assert(!detail::has_describe<NoDescribe>::value && detail::has_backward<NoDescribe>::value &&
                detail::has_macs<NoDescribe>::value);
  static_assert(!is_layer_v<int> && !is_layer_v<std::string>);
  static_assert(std::is_same_v<detail::layer_scalar_t<Conv<double>>, double>);
  static_assert(std::is_same_v<detail::layer_scalar_t<int>, float>);  // the stand-in that keeps errors to one line
  SUCCEED("checked at compile time");
}

TEST_CASE("Const queries give what the same model gives through a mutable reference, bit for bit", "[model][boundary]") {
  std::mt19937_64 engine(71);
  EnergyModel model(Shape{2, 12, 10}, Conv<double>(5, 3).padding(1), ReLU<double>{}, MaxPool<double>(2),
                    Conv<double>(3, 3), ReLU<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);
  EnergyModel twin = model;  // a copy answers as the original
  const auto& cm = model;

  const Vector<double> f = twin.score(x);
  CHECK(bit_equal(cm.score(x), f));
  CHECK(cm.score(image_of(x, 1)) == Approx(f(1)).epsilon(1e-12));  // a batch of one: rounding may differ
  CHECK(bit_equal(cm.energy(x, 0.7), twin.energy(x, 0.7)));
  const ActivationPattern<double> delta = cm.bottom_up(x);
  CHECK(delta == twin.bottom_up(x));
  const Reconstruction<double> r = cm.top_down(delta), r2 = twin.top_down(delta);
  CHECK(bit_equal(r.B, r2.B));
  CHECK(bit_equal(r.alpha, r2.alpha));
  Vector<double> s, s2;
  Batch<double> g, g2;
  cm.score_and_gradient(x, s, g);
  twin.score_and_gradient(x, s2, g2);
  CHECK(bit_equal(g, g2));
  CHECK(bit_equal(g, r.B));  // Theorem 1: ∂f/∂I = B_{w,δ(I)}
  CHECK(cm.last_pattern() == delta);
  const Image<double> gi = cm.image_gradient(image_of(x, 2));  // a batch of one: rounding may differ
  CHECK(ref::relative_error(as_batch(gi), as_batch(image_of(g, 2))) <= 1e-12);
  Gradients<double> pg = cm.zero_gradients(), pg2 = twin.zero_gradients();
  cm.accumulate_parameter_gradient(x, pg, 0.5);
  twin.accumulate_parameter_gradient(x, pg2, 0.5);
  REQUIRE(pg.blocks.size() == 4);
  for (std::size_t b = 0; b < pg.blocks.size(); ++b) CHECK(bit_equal(pg.blocks[b], pg2.blocks[b]));
  CHECK(pg.squared_norm() > 0);
  CHECK(cm.num_parameters() == 5 * 2 * 9 + 5 + 3 * 5 * 9 + 3);
  CHECK(cm.macs() == twin.macs());
  CHECK(cm.summary() == twin.summary());
  CHECK(cm.summary().find("total parameters: 233") != std::string::npos);
}

TEST_CASE("parameters() of a const model: read-only views of the same memory", "[model][boundary]") {
  EnergyModel model(Shape{1, 6, 6}, Conv<float>(3, 3), ReLU<float>{});
  const auto& cm = model;
  const auto views = cm.parameters();
  static_assert(std::is_same_v<decltype(views), const std::vector<ParameterRef<const float>>>);
  static_assert(std::is_same_v<decltype(views[0].vector()), Eigen::Map<const Vector<float>>>);
  static_assert(std::is_same_v<decltype(model.parameters()[0].vector()), Eigen::Map<Vector<float>>>);
  auto mutable_views = model.parameters();
  REQUIRE(views.size() == 2);
  for (std::size_t i = 0; i < views.size(); ++i) {
    CHECK(views[i].name == mutable_views[i].name);
    CHECK(views[i].data == mutable_views[i].data);
    CHECK(views[i].dims == mutable_views[i].dims);
    CHECK(views[i].is_bias == mutable_views[i].is_bias);
    CHECK(views[i].layer == 0);
  }
  mutable_views[1].vector().setConstant(2.5f);
  CHECK(views[1].vector().sum() == 7.5f);  // the views see the model's current values
  CHECK(views[0].name == "layer0.weight");
}

TEST_CASE("A constructor's errors name the constructor", "[model][boundary][error]") {
  CHECK_THROWS_WITH((EnergyModel(Shape{1, 4, 4}, Conv<double>(2, 5), ReLU<double>{})),
                    Catch::StartsWith("EnergyModel::EnergyModel: layer 0 (Conv 2 5x5 stride 1 pad 0): Conv::configure:"));
  CHECK_THROWS_WITH((DynamicModel<float>(Shape{0, 4, 4}, parse_layers<float>("relu"))),
                    "DynamicModel::DynamicModel: argument 'input_shape' is empty (0x4x4)");
}

TEST_CASE("copy_parameters copies the bottom layers bit for bit and leaves the rest", "[model][boundary][growth]") {
  std::mt19937_64 engine(72);
  DynamicModel<float> small(Shape{1, 16, 16}, parse_layers<float>("conv:4:5:2:2,relu,fc:1"));
  DynamicModel<float> grown(Shape{1, 16, 16}, parse_layers<float>("conv:4:5:2:2,relu,conv:3:3:1:1,relu,fc:1"));
  mt::randomize(small, engine, 0.5, 0.5);
  mt::randomize(grown, engine, 0.5, 0.5);
  const auto before = grown.parameters();
  std::vector<std::vector<float>> kept;
  for (const auto& p : before) kept.emplace_back(p.data, p.data + p.size());
  REQUIRE(top_layer(small) == 2);
  REQUIRE(top_layer(grown) == 4);
  copy_parameters(small, grown, top_layer(small));
  const auto a = small.parameters();
  const auto b = grown.parameters();
  for (std::size_t i = 0; i < b.size(); ++i) {
    CAPTURE(b[i].name);
    if (b[i].layer < 2) {  // layer 0: weight and bias, exactly the small model's
      REQUIRE(a[i].dims == b[i].dims);
      CHECK(std::equal(a[i].data, a[i].data + a[i].size(), b[i].data));
    } else {  // untouched
      CHECK(std::equal(kept[i].begin(), kept[i].end(), b[i].data));
    }
  }
  // Everything, between models of one architecture (EnergyModel too).
  EnergyModel e1(Shape{2, 8, 8}, Conv<double>(3, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  EnergyModel e2 = e1;
  mt::randomize(e1, engine, 1.0, 1.0);
  copy_parameters(e1, e2);
  const auto p1 = e1.parameters();
  const auto p2 = e2.parameters();
  for (std::size_t i = 0; i < p1.size(); ++i) CHECK(std::equal(p1[i].data, p1[i].data + p1[i].size(), p2[i].data));
  copy_parameters(e1, e2, 0);  // nothing: allowed
}

TEST_CASE("copy_parameters refuses mismatched layers and counts, copying nothing", "[model][boundary][growth][error]") {
  std::mt19937_64 engine(73);
  DynamicModel<float> a(Shape{1, 8, 8}, parse_layers<float>("conv:4:3,relu,conv:2:3,relu"));
  DynamicModel<float> b(Shape{1, 8, 8}, parse_layers<float>("conv:4:3,relu,conv:3:3,relu"));
  DynamicModel<float> c(Shape{2, 8, 8}, parse_layers<float>("conv:4:3,relu"));
  DynamicModel<float> d(Shape{1, 8, 8}, parse_layers<float>("relu,conv:4:3"));
  mt::randomize(a, engine, 1.0, 1.0);
  const auto untouched = b.parameters();
  std::vector<float> b0(untouched[0].data, untouched[0].data + untouched[0].size());
  CHECK_THROWS_WITH(copy_parameters(a, b),
                    "copy_parameters: parameter 'layer2.weight' has shape 2x4x3x3 in 'from' (Conv 2 3x3 stride 1 pad "
                    "0), 3x4x3x3 in 'to' (Conv 3 3x3 stride 1 pad 0), expected the same shape");
  CHECK(std::equal(b0.begin(), b0.end(), untouched[0].data));  // layer 0 would have matched: not copied either
  CHECK_NOTHROW(copy_parameters(a, b, 2));
  CHECK_THROWS_WITH(copy_parameters(a, c, 1), Catch::Contains("'layer0.weight' has shape 4x1x3x3 in 'from'") &&
                                                  Catch::Contains("4x2x3x3 in 'to'"));
  CHECK_THROWS_WITH(copy_parameters(a, d, 1), "copy_parameters: layer 0 has 2 parameter blocks in 'from' (Conv 4 3x3 "
                                              "stride 1 pad 0), 0 in 'to' (ReLU), expected the same layer in both");
  CHECK_THROWS_WITH(copy_parameters(a, c), "copy_parameters: argument 'to' has 2 layers, argument 'from' 4: expected "
                                           "at least as many in 'to' to copy every layer (or give 'layers')");
  CHECK_THROWS_WITH(copy_parameters(a, c, 3), "copy_parameters: argument 'layers' is 3, expected 0..2 (the layers "
                                              "both models have) or -1 (every layer of 'from')");
  CHECK_THROWS_WITH(copy_parameters(a, b, -2), Catch::Contains("argument 'layers' is -2"));
}

TEST_CASE("grow_under_top: one stage per block below the fixed top, each a prefix plus the top", "[model][boundary][growth]") {
  const auto stages = grow_under_top(parse_layers<float>("conv:4:5:2:2,relu,conv:3:3:1:1,relu,conv:2:3:1:1,relu,fc:1"));
  REQUIRE(stages.size() == 3);
  auto describe = [](const std::vector<AnyLayer<float>>& layers) {
    std::string s;
    for (const auto& l : layers) s += std::visit([](const auto& layer) { return layer.describe(); }, l) + ";";
    return s;
  };
  CHECK(describe(stages[0]) == "Conv 4 5x5 stride 2 pad 2;ReLU;Conv 1 whole stride 1 pad 0;");
  CHECK(describe(stages[1]) == "Conv 4 5x5 stride 2 pad 2;ReLU;Conv 3 3x3 stride 1 pad 1;ReLU;Conv 1 whole stride 1 pad 0;");
  CHECK(stages[2].size() == 7);
  // Layers above the top (a nonlinearity after fc) stay with the top; pooling stays in its block;
  // layers before the first conv belong to block 0.
  const auto pooled = grow_under_top(parse_layers<float>("maxpool:2,conv:4:3:1:1,relu,maxpool:2,conv:3:3,relu,fc:2,relu"));
  REQUIRE(pooled.size() == 2);
  CHECK(describe(pooled[0]) == "MaxPool 2x2 stride 2;Conv 4 3x3 stride 1 pad 1;ReLU;MaxPool 2x2 stride 2;Conv 2 whole "
                               "stride 1 pad 0;ReLU;");
  CHECK(pooled[1].size() == 8);
  // One layer under the top: a single stage, the list itself.
  CHECK(grow_under_top(parse_layers<double>("conv:4:3,relu,fc:1")).size() == 1);
  CHECK_THROWS_WITH(grow_under_top(parse_layers<double>("fc:1,relu")),
                    "grow_under_top: argument 'layers' has 1 layers with parameters, expected at least 2 (a top filter "
                    "and a layer to grow under it)");
  CHECK_THROWS_WITH(grow_under_top(parse_layers<double>("relu")), Catch::Contains("has 0 layers with parameters"));
}

TEST_CASE("Growing under a fixed top: the learned layers carry over, the top starts afresh", "[model][boundary][growth]") {
  std::mt19937_64 engine(74);
  const Shape shape{1, 16, 16};
  const auto stages = grow_under_top(parse_layers<double>("conv:4:5:2:2,relu,conv:3:3:1:1,relu,fc:1"));
  REQUIRE(stages.size() == 2);
  DynamicModel<double> first(shape, stages[0]);
  mt::randomize(first, engine, 0.5, 0.5);
  DynamicModel<double> second(shape, stages[1]);
  initialize_normal(second, engine, 0.01);
  copy_parameters(first, second, top_layer(first));
  // Layer 0 computes the same maps in both models: their pattern of layer 1 (ReLU) agrees.
  const Batch<double> x = ref::random_batch<double>(shape, 2, engine);
  const ActivationPattern<double> p1 = first.bottom_up(x), p2 = second.bottom_up(x);
  REQUIRE(p1.layers.size() == 3);
  CHECK(p1.layers[1].count_differences(p2.layers[1]) == 0);
  CHECK(second.layer(4).index() == 0);  // the top: a Conv over the whole 3×8×8 map
  CHECK(std::get<Conv<double>>(second.layer(4)).kernel_height() == 8);
  CHECK(std::get<Conv<double>>(first.layer(2)).kernel_height() == 8);
  CHECK(std::get<Conv<double>>(second.layer(4)).weights().dimension(1) == 3);  // another shape than first's top
}
