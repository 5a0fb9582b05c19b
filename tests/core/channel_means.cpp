// core/channel_means.hpp: per-channel means of images and batches, subtracted and added back.
#include <gconvnet/core/channel_means.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using namespace gconvnet;

TEST_CASE("channel_means of a batch: one mean per channel over every pixel of every image", "[core][channel_means]") {
  Batch<double> b(3, 2, 2, 2);
  for (Index n = 0; n < 2; ++n)
    for (Index y = 0; y < 2; ++y)
      for (Index x = 0; x < 2; ++x)
        for (Index c = 0; c < 3; ++c) b(c, y, x, n) = 100.0 * c + 10.0 * y + x + 4.0 * n;
  const std::vector<double> means = channel_means(b);
  REQUIRE(means.size() == 3);
  // mean over y of 10y = 5, over x of x = 0.5, over n of 4n = 2
  for (Index c = 0; c < 3; ++c) CHECK(means[static_cast<std::size_t>(c)] == Approx(100.0 * c + 7.5).epsilon(1e-14));
  Batch<double> copy = b;
  subtract_channel_means(copy, means);
  for (double m : channel_means(copy)) CHECK(m == Approx(0.0).margin(1e-12));
  add_channel_means(copy, means);
  for (Index i = 0; i < b.size(); ++i) CHECK(copy.data()[i] == Approx(b.data()[i]).epsilon(1e-14));
}

TEST_CASE("channel_means of an image, float: exact where the values allow it", "[core][channel_means]") {
  Image<float> im(2, 2, 2);
  im.setValues({{{1, 2}, {3, 6}}, {{-8, 0}, {0, 0}}});  // channel 0: 1, 2, 3, 6; channel 1: -8, 0, 0, 0
  const std::vector<double> m = channel_means(im);
  REQUIRE(m.size() == 2);
  CHECK(m[0] == 3.0);
  CHECK(m[1] == -2.0);
  subtract_channel_means(im, m);
  CHECK(im(0, 0, 0) == -2.0f);
  CHECK(im(0, 1, 1) == 3.0f);
  CHECK(im(1, 0, 0) == -6.0f);
  CHECK(im(1, 1, 1) == 2.0f);
  add_channel_means(im, {10.0, 20.0});
  CHECK(im(0, 0, 0) == 8.0f);
  CHECK(im(1, 0, 0) == 14.0f);
}

TEST_CASE("channel means on random data: subtract then add restores the images to rounding", "[core][channel_means]") {
  std::mt19937_64 engine(2);
  std::normal_distribution<float> normal;
  Batch<float> b(3, 4, 5, 2);
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = normal(engine) + (i % 3 == 0 ? 100.0f : 0.0f);
  const Batch<float> original = b;
  const std::vector<double> means = channel_means(b);
  CHECK(means[0] == Approx(100).margin(0.5));  // 40 draws of N(0, 1): s.e. 0.16, k = 3
  subtract_channel_means(b, means);
  for (double m : channel_means(b)) CHECK(std::abs(m) < 1e-5);
  add_channel_means(b, means);
  for (Index i = 0; i < b.size(); ++i) CHECK(b.data()[i] == Approx(original.data()[i]).margin(1e-4));
}

TEST_CASE("channel means refuse empty or non-finite images and wrong means, leaving the images unchanged",
          "[core][channel_means][error]") {
  Batch<float> none(3, 4, 4, 0);
  CHECK_THROWS_WITH(channel_means(none), "channel_means: argument 'images' is empty (3x4x4x0), expected an image or a batch");
  Image<double> im(2, 2, 2);
  im.setConstant(1.0);
  im(1, 0, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(channel_means(im), "channel_means: argument 'images' contains NaN or Inf");
  im.setConstant(1.0);
  CHECK_THROWS_WITH(subtract_channel_means(im, {1.0}),
                    "subtract_channel_means: argument 'means' has 1 values, expected one per channel (2)");
  CHECK_THROWS_WITH(add_channel_means(im, {1.0, std::numeric_limits<double>::infinity()}),
                    "add_channel_means: argument 'means' has inf at channel 1, expected finite values");
  for (Index i = 0; i < im.size(); ++i) CHECK(im.data()[i] == 1.0);
}
