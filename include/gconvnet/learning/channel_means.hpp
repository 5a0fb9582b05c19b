// gconvnet/learning/channel_means.hpp — per-channel mean subtraction of observed images (Sec. 8:
// "we subtract the mean image"; the release code subtracted one mean per colour channel).
#pragma once

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

/// Subtracts from every channel its mean over all pixels of all images; returns the C means
/// (computed in double, stored as S).
/// requires: a non-empty batch. ensures: every channel of `images` has mean ≈ 0.
/// throws: Error on an empty batch.
template <class S>
Vector<S> subtract_channel_means(Batch<S>& images) {
  detail::check(images.size() > 0, "subtract_channel_means", "argument 'images' is empty (",
                to_string(shape_of(images)), "x", batch_size(images), ")");
  auto px = as_pixel_columns(images);  // channels × (H·W·N)
  const Vector<S> means = (px.template cast<double>().rowwise().sum() / static_cast<double>(px.cols()))
                              .template cast<S>();
  px.colwise() -= means;
  return means;
}

/// The same for one image.
template <class S>
Vector<S> subtract_channel_means(Image<S>& image) {
  Batch<S> b = as_batch(image);
  Vector<S> means = subtract_channel_means(b);
  std::copy(b.data(), b.data() + b.size(), image.data());
  return means;
}

/// Adds `means` (one per channel) back to every pixel of every image: the inverse of subtract_channel_means.
/// throws: Error when means.size() differs from the number of channels.
template <class S>
void add_channel_means(Batch<S>& images, const Vector<S>& means) {
  detail::check(means.size() == images.dimension(0), "add_channel_means", "argument 'means' has ", means.size(),
                " entries, expected one per channel (", images.dimension(0), ")");
  as_pixel_columns(images).colwise() += means;
}

/// The same for one image.
template <class S>
void add_channel_means(Image<S>& image, const Vector<S>& means) {
  detail::check(means.size() == image.dimension(0), "add_channel_means", "argument 'means' has ", means.size(),
                " entries, expected one per channel (", image.dimension(0), ")");
  Eigen::Map<Matrix<S>>(image.data(), image.dimension(0), image.dimension(1) * image.dimension(2)).colwise() += means;
}

}  // namespace gconvnet
