// parse_layers + DynamicModel against the equivalent EnergyModel; parameters(), summary(), macs() and
// initialize_normal.
#include <gconvnet/gconvnet.hpp>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

const Shape shape{3, 20, 18};
const char* const spec = "conv:6:5:2:2,relu,maxpool:3:2,conv:4:3:1:1,softplus,fc:3,relu";

auto static_model() {
  return EnergyModel(shape, Conv<double>(6, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(3, 2), Conv<double>(4, 3).padding(1),
                     Softplus<double>{}, Conv<double>::fully_connected(3), ReLU<double>{});
}

}  // namespace

TEST_CASE("parse_layers builds the layers the spec names, with its numbers", "[model][dynamic]") {
  const auto layers = parse_layers<float>("conv:100:15:3:2,relu,conv:64:5,softplus,maxpool:2,maxpool:3:1,fc:7");
  REQUIRE(layers.size() == 7);
  const auto& c0 = std::get<Conv<float>>(layers[0]);
  CHECK(c0.filters() == 100);
  CHECK(c0.stride() == 3);
  CHECK(c0.padding() == 2);
  CHECK(c0.describe() == "Conv 100 15x15 stride 3 pad 2");
  CHECK(std::holds_alternative<ReLU<float>>(layers[1]));
  const auto& c2 = std::get<Conv<float>>(layers[2]);
  CHECK(c2.stride() == 1);  // defaults
  CHECK(c2.padding() == 0);
  CHECK(std::holds_alternative<Softplus<float>>(layers[3]));
  CHECK(std::get<MaxPool<float>>(layers[4]).stride() == 2);  // stride defaults to the kernel
  CHECK(std::get<MaxPool<float>>(layers[5]).kernel() == 3);
  CHECK(std::get<MaxPool<float>>(layers[5]).stride() == 1);
  CHECK(std::get<Conv<float>>(layers[6]).describe() == "Conv 7 whole stride 1 pad 0");
}

TEST_CASE("DynamicModel from parse_layers equals the equivalent EnergyModel", "[model][dynamic]") {
  std::mt19937_64 engine(701);
  auto fixed = static_model();
  DynamicModel<double> dyn(shape, parse_layers<double>(spec));
  REQUIRE(dyn.num_layers() == fixed.num_layers());
  for (Index l = 0; l < fixed.num_layers(); ++l) CHECK(dyn.output_shape(l) == fixed.output_shape(l));
  CHECK(dyn.num_parameters() == fixed.num_parameters());
  CHECK(dyn.macs() == fixed.macs());
  mt::randomize(fixed, engine, 0.3, 0.2);
  mt::copy_parameters(fixed, dyn);

  const Batch<double> x = ref::random_batch<double>(shape, 3, engine);
  for (Index depth : {7, 4}) {
    CAPTURE(depth);
    fixed.set_depth(depth);
    dyn.set_depth(depth);
    Vector<double> s1, s2;
    Batch<double> g1, g2;
    fixed.score_and_gradient(x, s1, g1);
    dyn.score_and_gradient(x, s2, g2);
    CHECK(ref::relative_error(s2, s1) == 0.0);  // same operations in the same order: bitwise
    CHECK(ref::relative_error(g2, g1) == 0.0);
    CHECK(dyn.last_pattern() == fixed.last_pattern());
    const auto r1 = fixed.top_down(fixed.last_pattern());
    const auto r2 = dyn.top_down(dyn.last_pattern());
    CHECK(ref::relative_error(r2.alpha, r1.alpha) == 0.0);
    auto p1 = fixed.zero_gradients();
    auto p2 = dyn.zero_gradients();
    fixed.accumulate_parameter_gradient(x, p1, 0.5);
    dyn.accumulate_parameter_gradient(x, p2, 0.5);
    for (std::size_t b = 0; b < p1.blocks.size(); ++b) CHECK(ref::relative_error(p2.blocks[b], p1.blocks[b]) == 0.0);
    CHECK(ref::relative_error(dyn.energy(x, 2.0), fixed.energy(x, 2.0)) == 0.0);
  }
}

TEST_CASE("parameters() names, shapes and owns every block, and zero_gradients matches it", "[model]") {
  auto model = static_model();
  const auto params = model.parameters();
  REQUIRE(params.size() == 6);
  const std::vector<std::string> names = {"layer0.weight", "layer0.bias", "layer3.weight",
                                          "layer3.bias",   "layer5.weight", "layer5.bias"};
  const std::vector<Index> layers = {0, 0, 3, 3, 5, 5};
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].name == names[i]);
    CHECK(params[i].layer == layers[i]);
    CHECK(params[i].is_bias == (i % 2 == 1));
  }
  CHECK(params[0].dims == std::vector<Index>{6, 3, 5, 5});
  CHECK(params[2].dims == std::vector<Index>{4, 6, 3, 3});
  CHECK(params[4].dims == std::vector<Index>{3, 4, 4, 4});  // the whole 4×4 map (10×9 pooled 3, stride 2)
  CHECK(params[0].data == model.layer<0>().weights().data());
  Index total = 0;
  for (const auto& p : params) total += p.size();
  CHECK(model.num_parameters() == total);
  CHECK(total == 6 * 75 + 6 + 4 * 54 + 4 + 3 * 64 + 3);
  const auto g = model.zero_gradients();
  REQUIRE(g.blocks.size() == params.size());
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(g.blocks[i].size() == params[i].size());
  CHECK(g.squared_norm() == 0.0);
  CHECK(model.output_shape(0) == (Shape{6, 10, 9}));
  CHECK(model.output_shape(2) == (Shape{6, 4, 4}));
  CHECK(model.top_shape() == (Shape{3, 1, 1}));
  // MACs: per conv, output size × patch size
  CHECK(model.macs() == 6 * 10 * 9 * 75 + 4 * 4 * 4 * 54 + 3 * 64);
}

TEST_CASE("summary() lists each layer, its output and parameters, and the total", "[model][summary]") {
  DynamicModel<double> model(shape, parse_layers<double>(spec));
  const std::string s = model.summary();
  INFO(s);
  std::istringstream in(s);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 2 + 7 + 1);
  CHECK(lines[0] == "DynamicModel on 3x20x18, depth 7 of 7");
  const std::vector<std::string> types = {"Conv 6 5x5 stride 2 pad 2", "ReLU", "MaxPool 3x3 stride 2",
                                          "Conv 4 3x3 stride 1 pad 1", "Softplus", "Conv 3 4x4 stride 1 pad 0",
                                          "ReLU"};
  const std::vector<std::string> outputs = {"6x10x9", "6x10x9", "6x4x4", "4x4x4", "4x4x4", "3x1x1", "3x1x1"};
  for (std::size_t l = 0; l < 7; ++l) {
    CAPTURE(l);
    std::istringstream row(lines[2 + l]);
    std::string index;
    row >> index;
    CHECK(index == std::to_string(l));
    CHECK(lines[2 + l].find(types[l]) != std::string::npos);
    CHECK(lines[2 + l].find(outputs[l]) != std::string::npos);
  }
  // parameter counts are the last column
  auto last_number = [](const std::string& line) { return std::stoll(line.substr(line.find_last_of(' ') + 1)); };
  CHECK(last_number(lines[2]) == 6 * 3 * 25 + 6);
  CHECK(last_number(lines[3]) == 0);
  CHECK(last_number(lines[5]) == 4 * 6 * 9 + 4);
  CHECK(last_number(lines[7]) == 3 * 4 * 16 + 3);
  CHECK(lines.back() == "total parameters: " + std::to_string(model.num_parameters()));

  model.set_depth(3);
  const std::string partial = model.summary();
  CHECK(partial.find("depth 3 of 7") != std::string::npos);
  CHECK(partial.find("\n3*") != std::string::npos);  // inactive layers are starred
  CHECK(partial.find("\n2 ") != std::string::npos);
  CHECK(partial.find("(* inactive)") != std::string::npos);
}

TEST_CASE("initialize_normal draws N(0, sigma^2) weights, sets the biases, and repeats with the seed", "[model]") {
  DynamicModel<double> a(Shape{3, 32, 32}, parse_layers<double>("conv:50:7:2,relu,conv:20:5,relu"));
  DynamicModel<double> b = a;
  std::mt19937_64 e1(702), e2(702);
  initialize_normal(a, e1, 0.01, 0.5);
  initialize_normal(b, e2, 0.01, 0.5);
  double sum = 0, sq = 0;
  Index n = 0;
  for (const auto& p : a.parameters()) {
    if (p.is_bias) {
      CHECK((p.vector().array() == 0.5).all());
      continue;
    }
    sum += p.vector().sum();
    sq += p.vector().squaredNorm();
    n += p.size();
  }
  REQUIRE(n == 50 * 3 * 49 + 20 * 50 * 25);
  // mean: standard error 0.01/√n; k = 4. variance of x²: 2σ⁴, so the sample variance has standard
  // error σ²·√(2/n); k = 4.
  const double mean = sum / n, var = sq / n;
  CHECK(std::abs(mean) < 4 * 0.01 / std::sqrt(double(n)));
  CHECK(std::abs(var - 1e-4) < 4 * 1e-4 * std::sqrt(2.0 / n));
  // same engine state → identical parameters
  const auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].vector() == pb[i].vector());
}
