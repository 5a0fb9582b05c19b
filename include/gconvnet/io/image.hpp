// gconvnet/io/image.hpp — images in and out, one header for all of it:
//   io/image_decode.hpp  image_info, decode_image, load_image (PNG, JPEG, BMP, GIF through stb_image)
//   io/image_resize.hpp  resize_image
//   io/image_encode.hpp  encode_png, save_png (atomic)
//   io/figure.hpp        image_grid, contact_sheet (the paper's figure layouts)
//   core/channel_means.hpp  channel_means, subtract_channel_means, add_channel_means
//
// Intensities are kept as the release code keeps them: 0–255 per channel, as floats. The model sees
// them minus the per-channel means (subtract_channel_means); the means go back on before saving
// (add_channel_means), and save_png clips to 0–255.
//
// Decoding, encoding and resizing are Debian's libstb (<stb/...>, compiled implementations in
// libstb.so): link gconvnet::io. This header is not part of the umbrella header.
#pragma once

#include "gconvnet/core/channel_means.hpp"
#include "gconvnet/io/figure.hpp"
#include "gconvnet/io/image_decode.hpp"
#include "gconvnet/io/image_encode.hpp"
#include "gconvnet/io/image_resize.hpp"
