// gconvnet/core/tensor.hpp — images, batches of images, and their shapes.
//
// An image is an Eigen::Tensor<S,3> indexed (channel, row, column); a batch of N images (a batch of
// Langevin chains, of observed images) is an Eigen::Tensor<S,4> indexed (channel, row, column, n).
// Both are ColMajor, so the channels of one pixel are contiguous and a batch viewed as a matrix with
// `channels` rows has one column per pixel: a convolution is then one GEMM (see layers/conv.hpp).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "gconvnet/core/error.hpp"

namespace gconvnet {

using Index = Eigen::Index;

/// One image: (channels, height, width), ColMajor.
template <class S>
using Image = Eigen::Tensor<S, 3, Eigen::ColMajor>;

/// A batch of images: (channels, height, width, n), ColMajor.
template <class S>
using Batch = Eigen::Tensor<S, 4, Eigen::ColMajor>;

/// A column vector (per-chain values, flattened parameters).
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// A column-major matrix (the GEMM operands).
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// The extents of one image: channels × height × width.
struct Shape {
  Index channels = 0;
  Index height = 0;
  Index width = 0;

  /// Number of scalars in one image of this shape.
  Index size() const { return channels * height * width; }
  /// Number of pixels (height × width).
  Index pixels() const { return height * width; }
  bool empty() const { return size() == 0; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.channels == b.channels && a.height == b.height && a.width == b.width;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    return os << s.channels << "x" << s.height << "x" << s.width;
  }
};

/// "CxHxW", for messages.
inline std::string to_string(const Shape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

/// The shape of an image.
template <class S>
Shape shape_of(const Image<S>& image) {
  return Shape{image.dimension(0), image.dimension(1), image.dimension(2)};
}

/// The shape of one image of a batch.
template <class S>
Shape shape_of(const Batch<S>& batch) {
  return Shape{batch.dimension(0), batch.dimension(1), batch.dimension(2)};
}

/// Number of images in a batch.
template <class S>
Index batch_size(const Batch<S>& batch) {
  return batch.dimension(3);
}

/// A batch of `n` images of shape `s`, uninitialised.
template <class S>
Batch<S> make_batch(const Shape& s, Index n) {
  return Batch<S>(s.channels, s.height, s.width, n);
}

/// Resizes `b` to n images of shape `s` when its extents differ; keeps its memory otherwise.
template <class S>
void ensure_shape(Batch<S>& b, const Shape& s, Index n) {
  if (b.dimension(0) != s.channels || b.dimension(1) != s.height || b.dimension(2) != s.width ||
      b.dimension(3) != n)
    b.resize(s.channels, s.height, s.width, n);
}

/// A batch of one image (a copy).
template <class S>
Batch<S> as_batch(const Image<S>& image) {
  Batch<S> b(image.dimension(0), image.dimension(1), image.dimension(2), 1);
  std::copy(image.data(), image.data() + image.size(), b.data());
  return b;
}

/// Image `n` of a batch (a copy).
template <class S>
Image<S> image_of(const Batch<S>& batch, Index n) {
  detail::check(n >= 0 && n < batch.dimension(3), "image_of", "argument 'n' is ", n,
                ", expected an index in [0, ", batch.dimension(3), ")");
  Image<S> im(batch.dimension(0), batch.dimension(1), batch.dimension(2));
  const Index sz = im.size();
  std::copy(batch.data() + n * sz, batch.data() + (n + 1) * sz, im.data());
  return im;
}

/// The batch viewed as a matrix with one column per image (size × n).
template <class S>
Eigen::Map<Matrix<S>> as_columns(Batch<S>& b) {
  return Eigen::Map<Matrix<S>>(b.data(), b.dimension(0) * b.dimension(1) * b.dimension(2),
                               b.dimension(3));
}
template <class S>
Eigen::Map<const Matrix<S>> as_columns(const Batch<S>& b) {
  return Eigen::Map<const Matrix<S>>(b.data(), b.dimension(0) * b.dimension(1) * b.dimension(2),
                                     b.dimension(3));
}

/// The batch viewed as a matrix with one column per pixel (channels × height·width·n).
template <class S>
Eigen::Map<Matrix<S>> as_pixel_columns(Batch<S>& b) {
  return Eigen::Map<Matrix<S>>(b.data(), b.dimension(0), b.dimension(1) * b.dimension(2) * b.dimension(3));
}
template <class S>
Eigen::Map<const Matrix<S>> as_pixel_columns(const Batch<S>& b) {
  return Eigen::Map<const Matrix<S>>(b.data(), b.dimension(0),
                                     b.dimension(1) * b.dimension(2) * b.dimension(3));
}

/// The whole tensor viewed as one flat vector.
template <class S, int R>
Eigen::Map<Vector<S>> as_vector(Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  return Eigen::Map<Vector<S>>(t.data(), t.size());
}
template <class S, int R>
Eigen::Map<const Vector<S>> as_vector(const Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  return Eigen::Map<const Vector<S>>(t.data(), t.size());
}

namespace detail {

/// Stops compilation with one static_assert line naming both scalar types, where a model or sampler
/// over ModelScalar is given images of ImageScalar (the overloads that catch this call it).
template <class ModelScalar, class ImageScalar>
constexpr void scalar_mismatch() {
  constexpr bool float_double = std::is_same_v<ModelScalar, float> && std::is_same_v<ImageScalar, double>;
  constexpr bool double_float = std::is_same_v<ModelScalar, double> && std::is_same_v<ImageScalar, float>;
  static_assert(!float_double, "gconvnet: the images' scalar type (double) differs from the model's Scalar (float): "
                               "convert them with .cast<float>()");
  static_assert(!double_float, "gconvnet: the images' scalar type (float) differs from the model's Scalar (double): "
                               "convert them with .cast<double>()");
  static_assert(float_double || double_float || std::is_same_v<ModelScalar, ImageScalar>,
                "gconvnet: the images' scalar type differs from the model's Scalar: convert them with "
                ".cast<Model::Scalar>()");
}

}  // namespace detail

/// True when every entry is finite.
template <class S, int R>
bool all_finite(const Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  return as_vector(t).allFinite();
}

}  // namespace gconvnet
