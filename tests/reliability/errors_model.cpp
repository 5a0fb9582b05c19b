// The documented errors of core/, layers/ and model/ (docs/errors.md): one test case per entry, each
// provoking the error and matching the whole message against the catalogue's template.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using reliability::expect_error;

namespace {

using Net = EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>;

Net small_net() { return Net(Shape{3, 8, 8}, Conv<double>(4, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{}); }

Batch<double> zeros(const Shape& s, Index n) {
  Batch<double> b = make_batch<double>(s, n);
  b.setZero();
  return b;
}

}  // namespace

TEST_CASE("core.image_of.index", "[reliability][errors][core]") {
  const Batch<double> x = zeros(Shape{1, 2, 2}, 3);
  CHECK_THAT(expect_error("core.image_of.index", [&] { image_of(x, 3); }), Contains("'n' is 3") && Contains("[0, 3)"));
  CHECK_THAT(expect_error("core.image_of.index", [&] { image_of(x, -1); }), Contains("'n' is -1"));
}

TEST_CASE("layers.conv.filters, kernel, stride, padding, in_channels", "[reliability][errors][layers]") {
  CHECK_THAT(expect_error("layers.conv.filters", [] { Conv<float>(0, 3); }), Contains("'filters' is 0"));
  CHECK_THAT(expect_error("layers.conv.kernel", [] { Conv<float>(2, 0); }), Contains("'kernel' is 0"));
  CHECK_THAT(expect_error("layers.conv.kernel", [] { Conv<float>(2, -2); }), Contains("'kernel' is -2"));
  CHECK_THAT(expect_error("layers.conv.stride", [] { Conv<float>(2, 3).stride(0); }), Contains("'stride' is 0"));
  CHECK_THAT(expect_error("layers.conv.padding", [] { Conv<float>(2, 3).padding(-1); }), Contains("'padding' is -1"));
  CHECK_THAT(expect_error("layers.conv.in_channels", [] { Conv<float>(2, 3).in_channels(-3); }),
             Contains("'in_channels' is -3"));
}

TEST_CASE("layers.conv.configured", "[reliability][errors][layers]") {
  Net net = small_net();
  CHECK_THAT(expect_error("layers.conv.configured", [&] { net.layer<0>().stride(2); }),
             Contains("Conv::stride: the layer is already configured (Conv 4 3x3 stride 1 pad 0)"));
  expect_error("layers.conv.configured", [&] { net.layer<2>().padding(1); });
  expect_error("layers.conv.configured", [&] { net.layer<2>().in_channels(4); });
  CHECK(net.layer<0>().stride() == 1);
}

TEST_CASE("core.channel_means.empty, not_finite, size, means_not_finite", "[reliability][errors][core]") {
  const Batch<float> none = make_batch<float>(Shape{3, 4, 4}, 0);
  CHECK_THAT(expect_error("core.channel_means.empty", [&] { channel_means(none); }), Contains("(3x4x4x0)"));
  Image<double> image(2, 0, 3);
  CHECK_THAT(expect_error("core.channel_means.empty", [&] { channel_means(image); }), Contains("(2x0x3)"));
  Image<double> rgb(3, 2, 2);
  rgb.setConstant(1.0);
  rgb(2, 1, 0) = std::numeric_limits<double>::infinity();
  expect_error("core.channel_means.not_finite", [&] { channel_means(rgb); });
  rgb.setConstant(1.0);
  CHECK_THAT(expect_error("core.channel_means.size", [&] { subtract_channel_means(rgb, {1.0}); }),
             Catch::StartsWith("subtract_channel_means: ") && Contains("has 1 values, expected one per channel (3)"));
  Batch<float> b = make_batch<float>(Shape{2, 2, 2}, 2);
  b.setZero();
  expect_error("core.channel_means.size", [&] { add_channel_means(b, {1.0, 2.0, 3.0}); });
  CHECK_THAT(expect_error("core.channel_means.means_not_finite", [&] { add_channel_means(b, {1.0, std::nan("")}); }),
             Contains("has nan at channel 1"));
  CHECK(as_vector(b).cwiseAbs().maxCoeff() == 0.0f);  // refused before anything changed
}

TEST_CASE("learning.copy_parameters.*, learning.grow_under_top.too_few", "[reliability][errors][learning]") {
  DynamicModel<float> a(Shape{1, 8, 8}, parse_layers<float>("conv:4:3,relu,conv:2:3,relu"));
  DynamicModel<float> b(Shape{1, 8, 8}, parse_layers<float>("conv:4:3,relu,conv:3:3,relu"));
  DynamicModel<float> c(Shape{1, 8, 8}, parse_layers<float>("relu,conv:4:3"));
  CHECK_THAT(expect_error("learning.copy_parameters.to_layers", [&] { copy_parameters(a, c); }),
             Contains("'to' has 2 layers, argument 'from' 4"));
  CHECK_THAT(expect_error("learning.copy_parameters.layers", [&] { copy_parameters(a, b, 5); }),
             Contains("is 5, expected 0..4"));
  CHECK_THAT(expect_error("learning.copy_parameters.blocks", [&] { copy_parameters(a, c, 1); }),
             Contains("layer 0 has 2 parameter blocks in 'from'"));
  CHECK_THAT(expect_error("learning.copy_parameters.shape", [&] { copy_parameters(a, b); }),
             Contains("'layer2.weight' has shape 2x4x3x3 in 'from'"));
  CHECK_THAT(expect_error("learning.grow_under_top.too_few",
                          [] { grow_under_top(parse_layers<float>("conv:4:3,relu")); }),
             Contains("has 1 layers with parameters"));
}

TEST_CASE("layers.input_empty", "[reliability][errors][layers]") {
  const Shape empty{0, 8, 8};
  CHECK_THAT(expect_error("layers.input_empty", [&] { Conv<float>(2, 3).configure(empty); }),
             Contains("Conv::configure") && Contains("(0x8x8)"));
  CHECK_THAT(expect_error("layers.input_empty", [&] { ReLU<float>{}.configure(Shape{2, 0, 3}); }),
             Contains("ReLU::configure") && Contains("(2x0x3)"));
  CHECK_THAT(expect_error("layers.input_empty", [&] { Softplus<float>{}.configure(empty); }),
             Contains("Softplus::configure"));
  CHECK_THAT(expect_error("layers.input_empty", [&] { MaxPool<float>(2).configure(empty); }),
             Contains("MaxPool::configure"));
}

TEST_CASE("layers.conv.channels", "[reliability][errors][layers]") {
  CHECK_THAT(expect_error("layers.conv.channels", [] { Conv<float>(2, 3).in_channels(3).configure(Shape{1, 8, 8}); }),
             Contains("has 1 channels, layer expects 3"));
}

TEST_CASE("layers.conv.kernel_too_large", "[reliability][errors][layers]") {
  CHECK_THAT(expect_error("layers.conv.kernel_too_large", [] { Conv<float>(2, 7).padding(1).configure(Shape{1, 4, 5}); }),
             Contains("kernel 7x7 is larger than the padded input 6x7") && Contains("padding 1"));
}

TEST_CASE("layers.max_pool.kernel, stride, kernel_too_large", "[reliability][errors][layers]") {
  CHECK_THAT(expect_error("layers.max_pool.kernel", [] { MaxPool<float>(0); }), Contains("'kernel' is 0"));
  CHECK_THAT(expect_error("layers.max_pool.stride", [] { MaxPool<float>(2, -1); }), Contains("'stride' is -1"));
  CHECK_THAT(expect_error("layers.max_pool.kernel_too_large", [] { MaxPool<float>(5).configure(Shape{3, 4, 8}); }),
             Contains("kernel 5x5 is larger than the input 3x4x8"));
}

TEST_CASE("model.dynamic.no_layers", "[reliability][errors][model]") {
  expect_error("model.dynamic.no_layers", [] { DynamicModel<float>(Shape{1, 8, 8}, {}); });
}

TEST_CASE("model.parse_layers.*", "[reliability][errors][model]") {
  expect_error("model.parse_layers.empty", [] { parse_layers<float>(""); });
  CHECK_THAT(expect_error("model.parse_layers.not_integer", [] { parse_layers<float>("conv:8:x"); }),
             Contains("item 'conv:8:x' has 'x'"));
  CHECK_THAT(expect_error("model.parse_layers.not_integer", [] { parse_layers<float>("conv:8::1"); }),
             Contains("has ''"));
  CHECK_THAT(expect_error("model.parse_layers.arity", [] { parse_layers<float>("conv:8"); }),
             Contains("takes 2 to 4 numbers, got 1"));
  CHECK_THAT(expect_error("model.parse_layers.arity", [] { parse_layers<float>("relu:1"); }),
             Contains("takes 0 numbers, got 1"));
  CHECK_THAT(expect_error("model.parse_layers.layer_argument", [] { parse_layers<float>("relu,conv:8:3:0"); }),
             Contains("item 'conv:8:3:0': Conv::stride: argument 'stride' is 0"));
  CHECK_THAT(expect_error("model.parse_layers.layer_argument", [] { parse_layers<float>("maxpool:0"); }),
             Contains("MaxPool::MaxPool: argument 'kernel' is 0"));
  CHECK_THAT(expect_error("model.parse_layers.unknown_layer", [] { parse_layers<float>("conv:8:3,pool:2"); }),
             Contains("item 'pool:2' is not a layer"));
  CHECK_THAT(expect_error("model.parse_layers.unknown_layer", [] { parse_layers<float>("relu,"); }),
             Contains("item '' is not a layer"));
}

TEST_CASE("model.initialize.weight_sigma", "[reliability][errors][model]") {
  Net net = small_net();
  std::mt19937_64 engine(1);
  CHECK_THAT(expect_error("model.initialize.weight_sigma", [&] { initialize_normal(net, engine, -1.0); }),
             Contains("is -1"));
}

TEST_CASE("model.set_depth", "[reliability][errors][model]") {
  Net net = small_net();
  CHECK_THAT(expect_error("model.set_depth", [&] { net.set_depth(0); }),
             Contains("EnergyModel::set_depth") && Contains("expected 1..4"));
  DynamicModel<double> dyn(Shape{1, 8, 8}, parse_layers<double>("conv:2:3,relu"));
  CHECK_THAT(expect_error("model.set_depth", [&] { dyn.set_depth(3); }), Contains("DynamicModel::set_depth"));
  CHECK(net.depth() == 4);
}

TEST_CASE("model.input_shape_empty", "[reliability][errors][model]") {
  CHECK_THAT(expect_error("model.input_shape_empty", [] { EnergyModel(Shape{3, 0, 8}, Conv<double>(4, 3)); }),
             Contains("EnergyModel::EnergyModel") && Contains("(3x0x8)"));
}

TEST_CASE("model.layer_does_not_fit", "[reliability][errors][model]") {
  CHECK_THAT(expect_error("model.layer_does_not_fit",
                          [] { DynamicModel<double>(Shape{2, 10, 10}, parse_layers<double>("conv:4:3,maxpool:9")); }),
             Contains("layer 1 (MaxPool 9x9 stride 9)") && Contains("MaxPool::configure: kernel 9x9"));
  CHECK_THAT(expect_error("model.layer_does_not_fit",
                          [] { EnergyModel(Shape{1, 8, 8}, Conv<double>(4, 3).in_channels(3), ReLU<double>{}); }),
             Contains("layer 0") && Contains("Conv::configure: argument 'input' has 1 channels"));
}

TEST_CASE("model.reference_sigma", "[reliability][errors][model]") {
  Net net = small_net();
  const Batch<double> x = zeros(Shape{3, 8, 8}, 1);
  CHECK_THAT(expect_error("model.reference_sigma", [&] { net.energy(x, 0.0); }), Contains("EnergyModel::energy"));
  CHECK_THAT(expect_error("model.reference_sigma", [&] { net.energy(x, std::nan("")); }), Contains("is nan"));
}

TEST_CASE("model.images_empty, images_channels, images_shape name the function called", "[reliability][errors][model]") {
  Net net = small_net();
  DynamicModel<double> dyn(Shape{3, 8, 8}, parse_layers<double>("conv:4:3,relu"));
  const Batch<double> grey = zeros(Shape{1, 8, 8}, 2);
  Vector<double> s;
  Batch<double> g;
  auto grads = net.zero_gradients();
  const auto channels = [&](const char* fn, auto&& call) {
    const std::string what = expect_error("model.images_channels", call);
    CHECK_THAT(what, Catch::StartsWith(std::string("EnergyModel::") + fn + ": "));
    CHECK_THAT(what, Contains("has 1 channels, model expects 3"));
  };
  channels("score", [&] { net.score(grey); });
  channels("energy", [&] { net.energy(grey, 1.0); });  // was reported as EnergyModel::score
  channels("bottom_up", [&] { net.bottom_up(grey); });
  channels("score_and_gradient", [&] { net.score_and_gradient(grey, s, g); });
  channels("image_gradient", [&] { net.image_gradient(image_of(grey, 0)); });  // was score_and_gradient
  channels("accumulate_parameter_gradient", [&] { net.accumulate_parameter_gradient(grey, grads, 1.0); });
  channels("accumulate_parameter_gradient", [&] { net.accumulate_parameter_gradient(grey, grads, 1.0, s); });
  CHECK_THAT(expect_error("model.images_channels", [&] { dyn.score(grey); }), Catch::StartsWith("DynamicModel::score: "));

  CHECK_THAT(expect_error("model.images_shape", [&] { net.score(zeros(Shape{3, 8, 9}, 1)); }),
             Contains("has shape 3x8x9, model expects 3x8x8"));
  CHECK_THAT(expect_error("model.images_shape", [&] { net.energy(zeros(Shape{3, 7, 8}, 1), 1.0); }),
             Catch::StartsWith("EnergyModel::energy: "));
  CHECK_THAT(expect_error("model.images_empty", [&] { net.score(zeros(Shape{3, 8, 8}, 0)); }),
             Contains("is empty (3x8x8x0)"));
  CHECK_THAT(expect_error("model.images_empty", [&] { net.bottom_up(Batch<double>()); }),
             Contains("EnergyModel::bottom_up"));
}

TEST_CASE("model.pattern_mismatch, pattern_no_chains", "[reliability][errors][model]") {
  Net net = small_net();
  std::mt19937_64 engine(2);
  initialize_normal(net, engine, 0.1);
  const Batch<double> x = zeros(Shape{3, 8, 8}, 2);
  auto pattern = net.bottom_up(x);
  net.set_depth(2);
  CHECK_THAT(expect_error("model.pattern_mismatch", [&] { net.top_down(pattern); }),
             Contains("(4 layers on 3x8x8; expected 2 layers on 3x8x8)"));
  net.set_depth(4);
  pattern.chains = 0;
  expect_error("model.pattern_no_chains", [&] { net.top_down(pattern); });
}

TEST_CASE("model.gradients_layout", "[reliability][errors][model]") {
  Net net = small_net();
  const Batch<double> x = zeros(Shape{3, 8, 8}, 1);
  Gradients<double> g = net.zero_gradients();
  g.blocks.pop_back();
  CHECK_THAT(expect_error("model.gradients_layout", [&] { net.accumulate_parameter_gradient(x, g, 1.0); }),
             Contains("(3 blocks, expected 4)"));
}

TEST_CASE("model.top_weight_shape, model.known_shape", "[reliability][errors][model]") {
  Net net = small_net();
  const Batch<double> x = zeros(Shape{3, 8, 8}, 2);
  Gradients<double> g = net.zero_gradients();
  Vector<double> scores;
  const Batch<double> three = zeros(Shape{2, 4, 4}, 3);
  CHECK_THAT(expect_error("model.top_weight_shape", [&] { net.accumulate_parameter_gradient(x, g, 1.0, scores, three); }),
             Catch::StartsWith("EnergyModel::accumulate_parameter_gradient: ") &&
                 Contains("'top_weight' has shape 2x4x4x3, expected 2x4x4x1 or 2x4x4x2"));
  net.set_depth(2);  // a map of the full model's top after set_depth
  const Batch<double> full = zeros(Shape{2, 4, 4}, 1);
  CHECK_THAT(expect_error("model.top_weight_shape", [&] { net.accumulate_parameter_gradient(x, g, 1.0, scores, full); }),
             Contains("expected 4x6x6x1"));
  PixelMask known = make_batch<std::uint8_t>(Shape{1, 8, 8}, 1);
  CHECK_THAT(expect_error("model.known_shape", [&] { known_top_units(net, known); }),
             Contains("'known' has shape 1x8x8x1, expected 3x8x8xN"));
  PixelMask none = make_batch<std::uint8_t>(Shape{3, 8, 8}, 0);
  CHECK_THAT(expect_error("model.known_shape", [&] { known_top_units(net, none); }), Contains("3x8x8x0"));
}

TEST_CASE("layers.conv.padding (setter), circular_padding_too_large, circular_stride, circular_tiling",
          "[reliability][errors][layers][circular]") {
  constexpr auto circular = PaddingMode::circular;
  CHECK_THAT(expect_error("layers.conv.padding", [] { Conv<float>(2, 3).padding(-2, circular); }),
             Catch::StartsWith("Conv::padding: ") && Contains("'padding' is -2"));
  CHECK_THAT(expect_error("layers.conv.circular_padding_too_large",
                          [] { Conv<float>(2, 9).padding(4, circular).configure(Shape{1, 3, 5}); }),
             Contains("'padding' is 4 (circular), larger than the input 1x3x5; expected at most 3"));
  CHECK_THAT(expect_error("layers.conv.circular_stride",
                          [] { Conv<float>(2, 5).stride(2).padding(2, circular).configure(Shape{1, 8, 9}); }),
             Contains("'input' is 1x8x9; circular padding at stride 2"));
  CHECK_THAT(expect_error("layers.conv.circular_tiling",
                          [] { Conv<float>(2, 15).stride(3).padding(2, circular).configure(Shape{3, 126, 126}); }),
             Contains("gives a 39x39 output on the input 3x126x126, expected 42x42") && Contains("use padding 6 to 7"));
  CHECK_THAT(expect_error("layers.conv.circular_tiling",
                          [] { Conv<float>(2, 4).padding(1, circular).configure(Shape{3, 8, 8}); }),
             Contains("use an odd kernel or a stride >= 2"));
  // through a model and a layer spec: reported as the layer that does not fit
  CHECK_THAT(expect_error("model.layer_does_not_fit",
                          [] { DynamicModel<float>(Shape{3, 128, 128}, parse_layers<float>("conv:8:15:3:6c,relu")); }),
             Contains("layer 0 (Conv 8 15x15 stride 3 pad 6 circular)") && Contains("circular padding at stride 3"));
  CHECK_THAT(expect_error("model.parse_layers.not_integer", [] { parse_layers<float>("conv:8:3c:1:1"); }),
             Contains("item 'conv:8:3c:1:1' has '3c'"));
  CHECK_THAT(expect_error("model.parse_layers.not_integer", [] { parse_layers<float>("conv:8:3:1:c"); }),
             Contains("has 'c'"));
}
