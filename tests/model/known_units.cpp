// The statistics of the known part of an image (inpainting): known_top_units against a brute-force
// receptive field, the weighted parameter gradient (ω = 1 is the plain one bit for bit, finite
// differences of Σ ω·y), and H_obs over the known responses independent of what the hole holds.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/model/receptive_field.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

constexpr auto circular = PaddingMode::circular;

/// Every top response y(k, u, v, n) of `x`, read one at a time as the weighted score with a one-hot ω.
template <class Model>
Batch<double> top_responses(Model& model, const Batch<double>& x) {
  const Shape top = model.top_shape();
  Batch<double> y = make_batch<double>(top, batch_size(x));
  Batch<double> onehot = make_batch<double>(top, 1);
  Gradients<double> g = model.zero_gradients();
  Vector<double> scores;
  for (Index i = 0; i < top.size(); ++i) {
    onehot.setZero();
    onehot.data()[i] = 1;
    model.accumulate_parameter_gradient(x, g, 1.0, scores, onehot);
    for (Index n = 0; n < batch_size(x); ++n) y.data()[i + n * top.size()] = scores(n);
  }
  return y;
}

/// Positive weights and biases: with positive images every unit is on and increases strictly with
/// every pixel of its receptive field, so that a response changes when, and only when, a pixel of its
/// receptive field does.
template <class Model>
void positive_parameters(Model& model, std::mt19937_64& engine) {
  std::uniform_real_distribution<double> u(0.1, 1.0);
  for (auto& p : model.parameters())
    for (Index i = 0; i < p.size(); ++i) p.data[i] = p.is_bias ? 0.3 * u(engine) : u(engine);
}

/// A mask of `images` images: every pixel known but a random rectangle (in random channels) and a few
/// random pixels, different per image.
PixelMask random_mask(const Shape& s, Index images, std::mt19937_64& engine) {
  PixelMask known = make_batch<std::uint8_t>(s, images);
  known.setConstant(1);
  std::uniform_int_distribution<Index> row(0, s.height - 1), col(0, s.width - 1), channel(0, s.channels - 1);
  std::bernoulli_distribution half(0.5);
  for (Index n = 0; n < images; ++n) {
    const Index h0 = row(engine), w0 = col(engine);
    const Index h1 = std::min(s.height, h0 + 1 + row(engine) / 3), w1 = std::min(s.width, w0 + 1 + col(engine) / 3);
    const bool every_channel = half(engine);
    const Index c0 = channel(engine);
    for (Index w = w0; w < w1; ++w)
      for (Index h = h0; h < h1; ++h)
        for (Index c = 0; c < s.channels; ++c)
          if (every_channel || c == c0) known(c, h, w, n) = 0;
    for (int k = 0; k < 2; ++k) known(channel(engine), row(engine), col(engine), n) = 0;
  }
  return known;
}

/// known_top_units against the brute force at every depth of the model, over random masks; returns
/// how many known and unknown top responses were compared (so that a test sees both kinds).
template <class Model>
std::pair<Index, Index> check_against_brute_force(Model& model, std::mt19937_64& engine, int trials) {
  Index known_seen = 0, unknown_seen = 0;
  positive_parameters(model, engine);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (Index depth = 1; depth <= model.num_layers(); ++depth) {
    model.set_depth(depth);
    for (int t = 0; t < trials; ++t) {
      const Index N = 2;
      const PixelMask known = random_mask(model.input_shape(), N, engine);
      Batch<double> x = make_batch<double>(model.input_shape(), N), moved = x;
      for (Index i = 0; i < x.size(); ++i) {
        x.data()[i] = u(engine);
        moved.data()[i] = x.data()[i] + (known.data()[i] ? 0.0 : 1e3);
      }
      const Batch<double> y = top_responses(model, x), y_moved = top_responses(model, moved);
      const PixelMask got = known_top_units(model, known);
      REQUIRE(shape_of(got) == model.top_shape());
      REQUIRE(batch_size(got) == N);
      for (Index i = 0; i < y.size(); ++i) {
        // an unchanged response differs by rounding at most (a Winograd tile mixes its neighbours' pixels:
        // about 1e3·1e-15); a changed one by at least 0.1·1e3 through every layer
        const bool unchanged = std::abs(y_moved.data()[i] - y.data()[i]) <= 1e-9 * std::abs(y.data()[i]);
        CAPTURE(depth, t, i);
        CHECK((got.data()[i] != 0) == unchanged);
        ++(unchanged ? known_seen : unknown_seen);
      }
    }
  }
  return {known_seen, unknown_seen};
}

/// known_top_units with padding_known false against the brute force on a larger canvas: the image in
/// the middle of a canvas `margin` pixels wider on every side (a multiple of the strides' product, so
/// that every layer's grid lines up), the same layers and weights there, the margin unknown too. A
/// response of the small model whose receptive field lies inside the image is the big model's response
/// at the same place; one that reaches into the padding sees the margin there.
void check_inside_image(const std::string& spec, const Shape& small, Index margin, Index total_stride,
                        std::mt19937_64& engine) {
  DynamicModel<double> model(small, parse_layers<double>(spec));
  const Shape wide{small.channels, small.height + 2 * margin, small.width + 2 * margin};
  DynamicModel<double> big(wide, parse_layers<double>(spec));
  positive_parameters(model, engine);
  mt::copy_parameters(model, big);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Index inside = 0, outside = 0;
  for (Index depth = 1; depth <= model.num_layers(); ++depth) {
    model.set_depth(depth);
    big.set_depth(depth);
    for (int t = 0; t < 4; ++t) {
      PixelMask known = random_mask(small, 1, engine);
      if (t == 0) known.setConstant(1);  // no hole: the image's border alone
      PixelMask known_big = make_batch<std::uint8_t>(wide, 1);
      known_big.setZero();  // the margin is unknown
      for (Index w = 0; w < small.width; ++w)
        for (Index h = 0; h < small.height; ++h)
          for (Index c = 0; c < small.channels; ++c) known_big(c, h + margin, w + margin, 0) = known(c, h, w, 0);
      Batch<double> x = make_batch<double>(wide, 1), moved = x;
      for (Index i = 0; i < x.size(); ++i) {
        x.data()[i] = u(engine);
        moved.data()[i] = x.data()[i] + (known_big.data()[i] ? 0.0 : 1e3);
      }
      const Batch<double> y = top_responses(big, x), y_moved = top_responses(big, moved);
      const PixelMask got = known_top_units(model, known, /*padding_known=*/false);
      const Shape top = model.top_shape(), top_big = big.top_shape();
      // the image's top left response in the big model's map: margin / (the strides up to this depth)
      const Index offset = (top_big.height - top.height) / 2;
      REQUIRE(offset * total_stride >= margin);
      for (Index v = 0; v < top.width; ++v)
        for (Index r = 0; r < top.height; ++r)
          for (Index k = 0; k < top.channels; ++k) {
            const double a = y(k, r + offset, v + offset, 0), b = y_moved(k, r + offset, v + offset, 0);
            const bool unchanged = std::abs(b - a) <= 1e-9 * std::abs(a);
            CAPTURE(depth, t, k, r, v, to_string(top_big));
            CHECK((got(k, r, v, 0) != 0) == unchanged);
            ++(unchanged ? inside : outside);
          }
    }
  }
  CHECK(inside > 10);
  CHECK(outside > 10);
}

/// g as one vector.
Vector<double> flat(const Gradients<double>& g) {
  std::vector<double> all;
  for (const auto& b : g.blocks) all.insert(all.end(), b.data(), b.data() + b.size());
  return Eigen::Map<Vector<double>>(all.data(), static_cast<Index>(all.size()));
}

}  // namespace

TEST_CASE("known_top_units marks exactly the top responses whose receptive field holds known pixels only",
          "[model][known_units][slow]") {
  std::mt19937_64 engine(1301);
  SECTION("zero padding at stride 2, max pooling, a circular layer, softplus") {
    auto model = EnergyModel(Shape{2, 14, 12}, Conv<double>(3, 5).stride(2).padding(2), ReLU<double>{}, MaxPool<double>(3, 2),
                             Conv<double>(2, 3).padding(1, circular), Softplus<double>{});
    CHECK(model.top_shape() == Shape{2, 3, 2});
    const auto seen = check_against_brute_force(model, engine, 6);
    CHECK(seen.first > 20);
    CHECK(seen.second > 20);
  }
  SECTION("the texture net's shape on the torus (15x15 at stride 3), an even kernel, zero padding") {
    DynamicModel<double> model(Shape{2, 18, 21},
                               parse_layers<double>("conv:3:7:3:3c,relu,conv:3:4:1:0,relu,conv:2:3:1:2,relu"));
    CHECK(model.top_shape() == Shape{2, 5, 6});
    const auto seen = check_against_brute_force(model, engine, 6);
    CHECK(seen.first > 20);
    CHECK(seen.second > 20);
  }
  SECTION("padding_known false: only the responses whose receptive field lies inside the image") {
    check_inside_image("conv:3:7:3:3,relu,conv:3:4:1:0,relu,conv:2:3:1:2,relu", Shape{2, 18, 21}, 6, 3, engine);
    check_inside_image("conv:3:5:2:2,relu,maxpool:3:2,conv:2:3:1:1,softplus", Shape{2, 14, 12}, 8, 4, engine);
  }
  SECTION("a filter over the whole image sees every pixel") {
    DynamicModel<double> model(Shape{1, 7, 6}, parse_layers<double>("conv:2:3:1:1,relu,fc:3"));
    const auto seen = check_against_brute_force(model, engine, 4);
    CHECK(seen.second > 0);
    PixelMask all = make_batch<std::uint8_t>(model.input_shape(), 1);
    all.setConstant(1);
    const PixelMask top = known_top_units(model, all);
    CHECK(std::all_of(top.data(), top.data() + top.size(), [](std::uint8_t v) { return v == 1; }));
    all(0, 6, 5, 0) = 0;  // one unknown pixel in the corner: no response of the fc layer is known
    const PixelMask none = known_top_units(model, all);
    CHECK(std::all_of(none.data(), none.data() + none.size(), [](std::uint8_t v) { return v == 0; }));
  }
}

TEST_CASE("the weighted parameter gradient: weight 1 is the plain one bit for bit, finite differences of the "
          "weighted score", "[model][known_units][gradient]") {
  std::mt19937_64 engine(1302);
  for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
    CAPTURE(static_cast<int>(algorithm));
    auto model = EnergyModel(Shape{2, 15, 12}, Conv<double>(4, 7).stride(3).padding(3, circular), Softplus<double>{},
                             Conv<double>(3, 5).stride(1).padding(2), Softplus<double>{});
    model.layer<0>().set_algorithm(algorithm);
    model.layer<2>().set_algorithm(algorithm);
    mt::randomize(model, engine, 0.2, 0.2);
    const Batch<double> x = ref::random_batch<double>(model.input_shape(), 3, engine);

    // ω = 1: the plain overload, bit for bit (scores and gradients)
    Batch<double> ones = make_batch<double>(model.top_shape(), 1);
    ones.setConstant(1.0);
    Gradients<double> plain = model.zero_gradients(), weighted = model.zero_gradients();
    Vector<double> plain_scores, weighted_scores;
    model.accumulate_parameter_gradient(x, plain, 0.7, plain_scores);
    model.accumulate_parameter_gradient(x, weighted, 0.7, weighted_scores, ones);
    const Vector<double> a = flat(plain), b = flat(weighted);
    CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
    CHECK(std::equal(plain_scores.data(), plain_scores.data() + 3, weighted_scores.data()));

    // a random ω per image: ∂/∂w of Σ_n Σ ω·y against central differences (h = 1e-6, smooth layers)
    Batch<double> omega = ref::random_batch<double>(model.top_shape(), 3, engine);
    Gradients<double> g = model.zero_gradients();
    Vector<double> scores;
    model.accumulate_parameter_gradient(x, g, 1.0, scores, omega);
    auto weighted_score = [&] {
      Gradients<double> unused = model.zero_gradients();
      Vector<double> s;
      model.accumulate_parameter_gradient(x, unused, 1.0, s, omega);
      return s.sum();
    };
    const auto params = model.parameters();
    std::uniform_int_distribution<int> pick(0, 1 << 30);
    double worst = 0;
    for (std::size_t block = 0; block < params.size(); ++block)
      for (int trial = 0; trial < 12; ++trial) {
        const Index i = pick(engine) % params[block].size();
        double& w = params[block].data[i];
        const double kept = w, h = 1e-6;
        w = kept + h;
        const double up = weighted_score();
        w = kept - h;
        const double down = weighted_score();
        w = kept;
        const double fd = (up - down) / (2 * h), analytic = g.blocks[block](i);
        worst = std::max(worst, std::abs(fd - analytic) / std::max({1.0, std::abs(fd), std::abs(analytic)}));
      }
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("H_obs over the known top responses does not depend on what the hole holds", "[model][known_units]") {
  std::mt19937_64 engine(1303);
  for (const ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
    CAPTURE(static_cast<int>(algorithm));
    auto model = EnergyModel(Shape{3, 30, 33}, Conv<double>(6, 7).stride(3).padding(2), ReLU<double>{}, Conv<double>(5, 5).stride(1).padding(2),
                             ReLU<double>{}, Conv<double>(4, 3).stride(1).padding(2), ReLU<double>{});
    model.layer<0>().set_algorithm(algorithm);
    model.layer<2>().set_algorithm(algorithm);
    model.layer<4>().set_algorithm(algorithm);
    mt::randomize(model, engine, 0.3, 0.2);
    // a central hole of 8x9 pixels
    auto hole_mask = [&](Index margin) {
      PixelMask known = make_batch<std::uint8_t>(model.input_shape(), 1);
      known.setConstant(1);
      for (Index w = 12 + margin; w < 21 - margin; ++w)
        for (Index h = 11 + margin; h < 19 - margin; ++h)
          for (Index c = 0; c < 3; ++c) known(c, h, w, 0) = 0;
      return known;
    };
    const PixelMask known = hole_mask(0);
    const Batch<double> x = ref::random_batch<double>(model.input_shape(), 2, engine);
    Batch<double> other = ref::random_batch<double>(model.input_shape(), 2, engine);
    for (Index n = 0; n < 2; ++n)
      for (Index i = 0; i < known.size(); ++i)
        if (known.data()[i]) other.data()[i + n * known.size()] = x.data()[i + n * known.size()];

    auto h_obs = [&](const Batch<double>& images, const PixelMask& mask, Vector<double>& scores) {
      const PixelMask top = known_top_units(model, mask);
      Batch<double> omega = make_batch<double>(model.top_shape(), 1);
      for (Index i = 0; i < omega.size(); ++i) omega.data()[i] = top.data()[i];
      Gradients<double> g = model.zero_gradients();
      model.accumulate_parameter_gradient(images, g, 0.5, scores, omega);
      return flat(g);
    };
    Vector<double> scores_x, scores_other;
    const Vector<double> gx = h_obs(x, known, scores_x), go = h_obs(other, known, scores_other);
    const double scale = gx.cwiseAbs().maxCoeff();
    CHECK(scale > 0);
    if (algorithm == ConvAlgorithm::im2col) {
      // the responses that see the hole get ∂/∂y = 0 exactly, and so does every unit below them
      CHECK(std::equal(gx.data(), gx.data() + gx.size(), go.data()));
      CHECK(std::equal(scores_x.data(), scores_x.data() + 2, scores_other.data()));
    } else {
      // Winograd's transforms mix a tile's pixels: the hole enters the rounding only
      CHECK((gx - go).cwiseAbs().maxCoeff() <= 1e-12 * scale);
      CHECK((scores_x - scores_other).cwiseAbs().maxCoeff() <= 1e-12 * scores_x.cwiseAbs().maxCoeff());
    }
    // control: a mask that misses the hole's rim lets the hole in (3 pixels wide: the top responses are
    // 3 pixels apart, so some receptive field ends in the rim)
    Vector<double> unused_x, unused_other;
    const Vector<double> rim_x = h_obs(x, hole_mask(3), unused_x), rim_other = h_obs(other, hole_mask(3), unused_other);
    CHECK((rim_x - rim_other).cwiseAbs().maxCoeff() > 1e-6 * scale);
  }
}
