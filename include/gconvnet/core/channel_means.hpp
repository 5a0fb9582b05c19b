// gconvnet/core/channel_means.hpp — per-channel means of observed images (Sec. 8: "we subtract the mean
// image"; the release code subtracts one mean per colour channel and adds it back before saving).
//
//   const std::vector<double> means = channel_means(observed);   // one per channel
//   subtract_channel_means(observed, means);                      // what the model learns from
//   ...
//   add_channel_means(synthesized, means);                        // back to 0–255 intensities
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

namespace detail {

template <class S, int R>
constexpr void check_image_rank() {
  static_assert(R == 3 || R == 4, "gconvnet: channel means take an Image<S> (rank 3) or a Batch<S> (rank 4)");
}

/// "CxHxW" of an image, "CxHxWxN" of a batch.
template <class S, int R>
std::string extents(const Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  std::string s;
  for (int d = 0; d < R; ++d) s += (d ? "x" : "") + std::to_string(t.dimension(d));
  return s;
}

/// t(c, …) += sign · values[c] for every channel c (dimension 0), after checking `values`.
template <class S, int R>
void add_per_channel(Eigen::Tensor<S, R, Eigen::ColMajor>& t, const std::vector<double>& values, double sign,
                     const char* fn) {
  check_image_rank<S, R>();
  const Index C = t.dimension(0);
  check(static_cast<Index>(values.size()) == C, fn, "argument 'means' has ", values.size(),
        " values, expected one per channel (", C, ")");
  for (std::size_t c = 0; c < values.size(); ++c)
    check(std::isfinite(values[c]), fn, "argument 'means' has ", values[c], " at channel ", c,
          ", expected finite values");
  const Index pixels = C > 0 ? t.size() / C : 0;
  for (Index p = 0; p < pixels; ++p)  // ColMajor: the channels of a pixel are contiguous
    for (Index c = 0; c < C; ++c) t.data()[p * C + c] += static_cast<S>(sign * values[static_cast<std::size_t>(c)]);
}

}  // namespace detail

/// The mean of each channel over all pixels (and all images of a batch), computed in double.
/// requires: an Image<S> or Batch<S>, non-empty, finite.
/// ensures:  one value per channel (dimension 0).
/// throws:   Error on an empty tensor or one holding NaN or Inf.
template <class S, int R>
std::vector<double> channel_means(const Eigen::Tensor<S, R, Eigen::ColMajor>& images) {
  detail::check_image_rank<S, R>();
  const char* fn = "channel_means";
  detail::check(images.size() > 0, fn, "argument 'images' is empty (", detail::extents(images),
                "), expected an image or a batch");
  detail::check(all_finite(images), fn, "argument 'images' contains NaN or Inf");
  const Index C = images.dimension(0), pixels = images.size() / C;
  std::vector<double> means(static_cast<std::size_t>(C), 0.0);
  for (Index p = 0; p < pixels; ++p)  // in order, pixel by pixel: the same sums on every platform
    for (Index c = 0; c < C; ++c) means[static_cast<std::size_t>(c)] += static_cast<double>(images.data()[p * C + c]);
  for (double& m : means) m /= static_cast<double>(pixels);
  return means;
}

/// Subtracts means[c] from every value of channel c, in place (the model's input: 0–255 minus the means).
/// requires: one finite mean per channel.  throws: Error otherwise (and `images` is unchanged).
template <class S, int R>
void subtract_channel_means(Eigen::Tensor<S, R, Eigen::ColMajor>& images, const std::vector<double>& means) {
  detail::add_per_channel(images, means, -1.0, "subtract_channel_means");
}

/// Adds means[c] to every value of channel c, in place: the inverse of subtract_channel_means (back to
/// 0–255 intensities before saving).
/// requires: one finite mean per channel.  throws: Error otherwise (and `images` is unchanged).
template <class S, int R>
void add_channel_means(Eigen::Tensor<S, R, Eigen::ColMajor>& images, const std::vector<double>& means) {
  detail::add_per_channel(images, means, +1.0, "add_channel_means");
}

}  // namespace gconvnet
