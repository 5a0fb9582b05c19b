// Bad input at the model's public boundary: gconvnet::Error naming the function, the argument, what
// was expected and what came. One test case per kind of mistake.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;
using Catch::Contains;

namespace {

using Net = EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>;

Net small_net() {
  return Net(Shape{3, 8, 8}, Conv<double>(4, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
}

Batch<double> zeros(const Shape& s, Index n) {
  Batch<double> b = make_batch<double>(s, n);
  b.setZero();
  return b;
}

}  // namespace

TEST_CASE("A batch with the wrong channel count is refused by every entry point", "[model][error]") {
  Net net = small_net();
  DynamicModel<double> dyn(Shape{3, 8, 8}, parse_layers<double>("conv:4:3,relu"));
  const Batch<double> x = zeros(Shape{2, 8, 8}, 1);
  Vector<double> s;
  Batch<double> g;
  auto grads = net.zero_gradients();
  // (a combination of matchers keeps pointers to its parts: store the parts, combine in place)
  const auto came = Contains("argument 'images' has 2 channels");
  const auto expected = Contains("model expects 3");
  REQUIRE_ERROR(net.score(x), Contains("EnergyModel::score: ") && came && expected);
  REQUIRE_ERROR(net.energy(x, 1.0), Contains("EnergyModel::energy: ") && came && expected);
  REQUIRE_ERROR(net.bottom_up(x), Contains("EnergyModel::bottom_up: ") && came && expected);
  REQUIRE_ERROR(net.score_and_gradient(x, s, g), Contains("EnergyModel::score_and_gradient: ") && came && expected);
  REQUIRE_ERROR(net.accumulate_parameter_gradient(x, grads, 1.0),
                Contains("EnergyModel::accumulate_parameter_gradient: ") && came && expected);
  REQUIRE_ERROR(dyn.score(x), Contains("DynamicModel::score: ") && came && expected);
}

TEST_CASE("A batch with the wrong height or width is refused", "[model][error]") {
  Net net = small_net();
  REQUIRE_ERROR(net.score(zeros(Shape{3, 8, 9}, 2)), Contains("EnergyModel::score: ") &&
                                                         Contains("argument 'images' has shape 3x8x9") &&
                                                         Contains("model expects 3x8x8"));
  Image<double> image(3, 7, 8);
  image.setZero();
  REQUIRE_ERROR(net.score(image), Contains("EnergyModel::score: ") && Contains("3x7x8"));
}

TEST_CASE("An empty batch or an empty input shape is refused", "[model][error]") {
  Net net = small_net();
  REQUIRE_ERROR(net.score(zeros(Shape{3, 8, 8}, 0)), Contains("EnergyModel::score: ") &&
                                                         Contains("argument 'images' is empty") && Contains("3x8x8x0"));
  REQUIRE_ERROR(net.score(Batch<double>()), Contains("EnergyModel::score: ") && Contains("argument 'images' is empty"));
  REQUIRE_ERROR((EnergyModel(Shape{0, 8, 8}, Conv<double>(4, 3), ReLU<double>{})),
                Contains("EnergyModel::EnergyModel: ") && Contains("argument 'input_shape' is empty (0x8x8)"));
  REQUIRE_ERROR(DynamicModel<double>(Shape{3, 8, 8}, {}),
                Contains("DynamicModel::DynamicModel") && Contains("argument 'layers' is empty") &&
                    Contains("expected at least one layer"));
}

TEST_CASE("A Conv declared for other in_channels is refused when the model is built", "[model][error]") {
  REQUIRE_ERROR((EnergyModel(Shape{1, 8, 8}, Conv<double>(4, 3).in_channels(3), ReLU<double>{})),
                Contains("EnergyModel::EnergyModel: layer 0 (Conv 4 3x3 stride 1 pad 0)") &&
                    Contains("Conv::configure: argument 'input' has 1 channels, layer expects 3"));
  // in the second conv: its input is the 4 maps of the first
  REQUIRE_ERROR((EnergyModel(Shape{3, 8, 8}, Conv<double>(4, 3).in_channels(3), ReLU<double>{}, Conv<double>(2, 3).in_channels(5))),
                Contains("layer 2") && Contains("has 4 channels, layer expects 5"));
}

TEST_CASE("A kernel larger than the padded input is refused, naming the layer", "[model][error]") {
  // 10×10 → conv 5, stride 2 → 3×3 → conv 4 with padding 0 does not fit
  REQUIRE_ERROR((EnergyModel(Shape{2, 10, 10}, Conv<double>(4, 5).stride(2), ReLU<double>{}, Conv<double>(3, 4), ReLU<double>{})),
                Contains("EnergyModel::EnergyModel: layer 2 (Conv 3 4x4 stride 1 pad 0)") &&
                    Contains("kernel 4x4 is larger than the padded input 3x3") && Contains("input 4x3x3"));
  REQUIRE_ERROR(DynamicModel<double>(Shape{2, 10, 10}, parse_layers<double>("conv:4:3,maxpool:9")),
                Contains("DynamicModel::DynamicModel: layer 1 (MaxPool 9x9 stride 9)") &&
                    Contains("kernel 9x9 is larger than the input 4x8x8"));
}

TEST_CASE("Zero stride and zero filters are refused, in code and in a layer spec", "[model][error]") {
  REQUIRE_ERROR(Conv<float>(8, 3).stride(0), Contains("Conv::stride: argument 'stride' is 0, expected >= 1"));
  REQUIRE_ERROR(Conv<float>(0, 3), Contains("Conv::Conv: argument 'filters' is 0, expected >= 1"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3:0,relu"),
                Contains("parse_layers: argument 'spec': item 'conv:8:3:0'") && Contains("'stride' is 0"));
  REQUIRE_ERROR(parse_layers<double>("relu,fc:0"),
                Contains("parse_layers: argument 'spec': item 'fc:0'") && Contains("'filters' is 0"));
}

TEST_CASE("top_down refuses a pattern from a different model, depth or input shape", "[model][error]") {
  std::mt19937_64 engine(501);
  Net net = small_net();
  const Batch<double> x = ref::random_batch<double>(Shape{3, 8, 8}, 1, engine);
  const auto from_net = net.bottom_up(x);
  const auto msg = Contains("EnergyModel::top_down: argument 'pattern' was computed by a different model, depth or shape");

  // another architecture on the same images
  EnergyModel other(Shape{3, 8, 8}, Conv<double>(4, 5), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  REQUIRE_ERROR(other.top_down(from_net), msg);
  // the same layers on another input shape
  EnergyModel bigger(Shape{3, 9, 8}, Conv<double>(4, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  REQUIRE_ERROR(bigger.top_down(from_net), msg && Contains("4 layers on 3x8x8; expected 4 layers on 3x9x8"));
  // the same model at another depth
  net.set_depth(2);
  REQUIRE_ERROR(net.top_down(from_net), msg && Contains("4 layers on 3x8x8; expected 2 layers on 3x8x8"));
  net.set_depth(4);
  CHECK_NOTHROW(net.top_down(from_net));
  // a pattern never computed
  REQUIRE_ERROR(net.top_down(ActivationPattern<double>{}), msg);
  // a DynamicModel with the same layers accepts an EnergyModel's pattern: the layers, not the type, define δ
  DynamicModel<double> same(Shape{3, 8, 8}, parse_layers<double>("conv:4:3,relu,conv:2:3,relu"));
  CHECK_NOTHROW(same.top_down(from_net));
}

TEST_CASE("accumulate_parameter_gradient refuses gradients of the wrong layout", "[model][error]") {
  Net net = small_net();
  const Batch<double> x = zeros(Shape{3, 8, 8}, 1);
  const auto msg = Contains("EnergyModel::accumulate_parameter_gradient: argument 'gradients' does not match");
  const auto hint = Contains("make it with zero_gradients()");
  Gradients<double> missing = net.zero_gradients();
  missing.blocks.pop_back();
  REQUIRE_ERROR(net.accumulate_parameter_gradient(x, missing, 1.0), msg && Contains("(3 blocks, expected 4)"));
  Gradients<double> resized = net.zero_gradients();
  resized.blocks[2].resize(5);
  REQUIRE_ERROR(net.accumulate_parameter_gradient(x, resized, 1.0), msg && hint);
  Gradients<double> empty;
  REQUIRE_ERROR(net.accumulate_parameter_gradient(x, empty, 1.0), msg && Contains("(0 blocks, expected 4)"));
  EnergyModel other(Shape{3, 8, 8}, Conv<double>(4, 3), ReLU<double>{}, Conv<double>(3, 3), ReLU<double>{});
  Gradients<double> foreign = other.zero_gradients();
  REQUIRE_ERROR(net.accumulate_parameter_gradient(x, foreign, 1.0), msg && hint);
}

TEST_CASE("parse_layers refuses malformed specs, naming the item", "[model][error][dynamic]") {
  const auto fn = Contains("parse_layers: argument 'spec'");
  REQUIRE_ERROR(parse_layers<double>(""), fn && Contains("is empty") && Contains("expected e.g."));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3,pool:2"),
                fn && Contains("item 'pool:2' is not a layer") && Contains("expected conv, fc, relu, softplus or maxpool"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:x"), fn && Contains("item 'conv:8:x' has 'x' where an integer was expected"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3.5"), fn && Contains("has '3.5' where an integer was expected"));
  REQUIRE_ERROR(parse_layers<double>("conv:8::1"), fn && Contains("has '' where an integer was expected"));
  REQUIRE_ERROR(parse_layers<double>("conv:99999999999999999999999:3"), fn && Contains("where an integer was expected"));
  REQUIRE_ERROR(parse_layers<double>("conv:8"), fn && Contains("item 'conv:8' takes 2 to 4 numbers, got 1"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3:1:1:1"), fn && Contains("takes 2 to 4 numbers, got 5"));
  REQUIRE_ERROR(parse_layers<double>("relu:1"), fn && Contains("item 'relu:1' takes 0 numbers, got 1"));
  REQUIRE_ERROR(parse_layers<double>("fc"), fn && Contains("item 'fc' takes 1 numbers, got 0"));
  REQUIRE_ERROR(parse_layers<double>("maxpool"), fn && Contains("item 'maxpool' takes 1 to 2 numbers, got 0"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3,relu,"), fn && Contains("item '' is not a layer"));
  REQUIRE_ERROR(parse_layers<double>("conv:8:3,,relu"), fn && Contains("item '' is not a layer"));
  REQUIRE_ERROR(parse_layers<double>("Conv:8:3"), fn && Contains("item 'Conv:8:3' is not a layer"));
}

TEST_CASE("set_depth outside 1..num_layers is refused", "[model][error][depth]") {
  Net net = small_net();
  REQUIRE_ERROR(net.set_depth(0), Contains("EnergyModel::set_depth: argument 'depth' is 0, expected 1..4"));
  REQUIRE_ERROR(net.set_depth(5), Contains("EnergyModel::set_depth: argument 'depth' is 5, expected 1..4"));
  REQUIRE_ERROR(net.set_depth(-1), Contains("argument 'depth' is -1"));
  CHECK(net.depth() == 4);  // unchanged by the refused calls
}

TEST_CASE("energy refuses a reference sigma that is not a finite positive number", "[model][error]") {
  Net net = small_net();
  const Batch<double> x = zeros(Shape{3, 8, 8}, 1);
  const auto msg = Contains("EnergyModel::energy: argument 'reference_sigma' is");
  const auto expected = Contains("expected a finite value > 0");
  REQUIRE_ERROR(net.energy(x, 0.0), msg && Contains("is 0,") && expected);
  REQUIRE_ERROR(net.energy(x, -1.0), msg && Contains("is -1,") && expected);
  REQUIRE_ERROR(net.energy(x, std::numeric_limits<double>::infinity()), msg && Contains("is inf,") && expected);
  REQUIRE_ERROR(net.energy(x, std::nan("")), msg && Contains("is nan,") && expected);
}

TEST_CASE("initialize_normal and image_of refuse bad arguments", "[model][error]") {
  Net net = small_net();
  std::mt19937_64 engine(502);
  REQUIRE_ERROR(initialize_normal(net, engine, -0.1),
                Contains("initialize_normal: argument 'weight_sigma' is -0.1, expected >= 0"));
  const Batch<double> x = zeros(Shape{3, 8, 8}, 2);
  REQUIRE_ERROR(image_of(x, 2), Contains("image_of: argument 'n' is 2, expected an index in [0, 2)"));
  REQUIRE_ERROR(image_of(x, -1), Contains("image_of: argument 'n' is -1"));
}
