// gconvnet/io/image_resize.hpp — resampling an image (Debian's stb_image_resize). Link gconvnet::io.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include <stb/stb_image_resize.h>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet::io {

/// Resamples an image to height × width (stb_image_resize: Mitchell filter when shrinking,
/// Catmull–Rom when enlarging, edges clamped, linear intensities).
/// requires: a non-empty image with at most 64 channels; height, width ≥ 1; at most 2²⁹−1 values in
///           and out (stb_image_resize's int offsets).
/// ensures: the result is (channels, height, width); a constant image stays constant; the filters may
///          overshoot slightly at sharp edges (values are not clipped).
/// throws: Error on bad arguments.
template <class S>
Image<S> resize_image(const Image<S>& image, Index height, Index width) {
  const char* fn = "resize_image";
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  detail::check(C >= 1 && C <= 64 && H >= 1 && W >= 1, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected a non-empty image with 1 to 64 channels");
  detail::check(height >= 1 && width >= 1, fn, "arguments 'height', 'width' are ", height, ", ", width,
                ", expected both >= 1");
  // stb_image_resize computes byte offsets in int: each side of the resampling must fit.
  constexpr Index max_values = std::numeric_limits<int>::max() / static_cast<Index>(sizeof(float));
  detail::check(H * W <= max_values / C, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected at most ", max_values, " values");
  detail::check(height <= max_values / C / width, fn, "arguments 'height', 'width' are ", height, ", ", width,
                ", expected at most ", max_values, " values with ", C, " channels");
  std::vector<float> in(static_cast<std::size_t>(C * H * W)), out(static_cast<std::size_t>(C * height * width));
  for (Index y = 0; y < H; ++y)
    for (Index x = 0; x < W; ++x)
      for (Index c = 0; c < C; ++c) in[static_cast<std::size_t>((y * W + x) * C + c)] = static_cast<float>(image(c, y, x));
  const int ok = stbir_resize_float(in.data(), static_cast<int>(W), static_cast<int>(H), 0, out.data(),
                                    static_cast<int>(width), static_cast<int>(height), 0, static_cast<int>(C));
  detail::check(ok != 0, fn, "stb_image_resize failed for ", to_string(shape_of(image)), " -> ", height, "x", width);
  Image<S> result(C, height, width);
  for (Index y = 0; y < height; ++y)
    for (Index x = 0; x < width; ++x)
      for (Index c = 0; c < C; ++c)
        result(c, y, x) = static_cast<S>(out[static_cast<std::size_t>((y * width + x) * C + c)]);
  return result;
}

}  // namespace gconvnet::io
