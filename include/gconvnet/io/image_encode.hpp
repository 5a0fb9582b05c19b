// gconvnet/io/image_encode.hpp — writing images: 8-bit PNG through Debian's stb_image_write, saved
// atomically. Link gconvnet::io.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <stb/stb_image_write.h>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/io/atomic_file.hpp"

namespace gconvnet::io {

/// Encodes intensities as an 8-bit PNG in memory: each value is clipped to [0, 255] and rounded.
/// requires: 1 to 4 channels (gray, gray+alpha, RGB, RGBA), height and width ≥ 1, at most 2²⁸ values,
///           finite values.
/// throws: Error on bad shape or a NaN/Inf value.
template <class S>
std::vector<unsigned char> encode_png(const Image<S>& image) {
  const char* fn = "encode_png";
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  detail::check(C >= 1 && C <= 4 && H >= 1 && W >= 1, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected 1 to 4 channels and a non-empty picture");
  // stb_image_write sizes its buffers in int (filtered rows, compressed stream growing by doubling).
  constexpr Index max_values = Index(1) << 28;
  detail::check(H * W <= max_values / C, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected at most ", max_values, " values");
  detail::check(all_finite(image), fn, "argument 'image' contains NaN or Inf");
  std::vector<unsigned char> pixels(static_cast<std::size_t>(C * H * W));
  for (Index y = 0; y < H; ++y)
    for (Index x = 0; x < W; ++x)
      for (Index c = 0; c < C; ++c) {
        const double v = std::clamp(static_cast<double>(image(c, y, x)), 0.0, 255.0);
        pixels[static_cast<std::size_t>((y * W + x) * C + c)] = static_cast<unsigned char>(std::lround(v));
      }
  std::vector<unsigned char> bytes;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* p = static_cast<const unsigned char*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(append, &bytes, static_cast<int>(W), static_cast<int>(H), static_cast<int>(C),
                                        pixels.data(), static_cast<int>(W * C));
  detail::check(ok != 0 && !bytes.empty(), fn, "stb_image_write failed for an image of shape ",
                to_string(shape_of(image)));
  return bytes;
}

/// Saves intensities as an 8-bit PNG, clipped to [0, 255] and rounded, atomically (temporary file +
/// rename: an interrupted program leaves the old file or the new one, never half of one).
/// requires: as encode_png; the directory of `path` exists.
/// throws: Error naming the file when it cannot be written.
template <class S>
void save_png(const Image<S>& image, const std::string& path) {
  write_file_atomically(path, encode_png(image), "save_png");
}

}  // namespace gconvnet::io
