// examples/support/canvas.hpp — a learned texture model on another canvas: the same filters on a larger
// image (the model is convolutional) or on a torus (circular padding: tileable textures), Langevin
// sampling with a progress line, where the chains start, and the measures and pictures of tiling.
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/learning/growth.hpp>

#include "process.hpp"
#include "progress.hpp"
#include "texture_recipe.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace gconvnet::examples {

/// The product of the strides of the model's layers: a torus canvas's sides are multiples of it.
inline Index stride_product(const TextureModel& model) {
  Index product = 1;
  for (Index l = 0; l < model.num_layers(); ++l) {
    if (const auto* conv = std::get_if<Conv<float>>(&model.layer(l))) product *= conv->stride();
    if (const auto* pool = std::get_if<MaxPool<float>>(&model.layer(l))) product *= pool->stride();
  }
  return product;
}

/// The learned model (its layers given by `spec`, the parse_layers string it was built from) with its
/// weights on `canvas`, at the learned model's depth. With `torus` every convolution's padding becomes
/// circular, ⌊(k − 1)/2⌋ (centred), so that the model lives on a torus and its samples tile without a seam.
/// throws: Error when a layer does not fit the canvas (for a torus: a side not a multiple of
/// stride_product, the message of Conv::configure) or a parameter block changes size (a whole-image filter).
inline TextureModel model_on_canvas(const TextureModel& learned, const std::string& spec, const Shape& canvas,
                                    bool torus) {
  std::vector<AnyLayer<float>> layers = parse_layers<float>(spec);
  if (torus)  // (the kernel size from the learned, configured layer: a layer not yet in a model reads 0)
    for (std::size_t l = 0; l < layers.size(); ++l)
      if (auto* conv = std::get_if<Conv<float>>(&layers[l]))
        conv->padding((std::get<Conv<float>>(learned.layer(static_cast<Index>(l))).kernel_height() - 1) / 2,
                      PaddingMode::circular);
  TextureModel model(canvas, std::move(layers));
  copy_parameters(learned, model);
  model.set_depth(learned.depth());
  return model;
}

/// Chains on `canvas` from the learned chains laid side by side: chain n, tile t holds learned chain
/// (n + t) mod M, so that no two neighbouring tiles are alike; a canvas smaller than a tile gets its
/// centre. With `inset` > 0 a tile is a learned chain without its outer `inset` pixels (where zero
/// padding leaves a frame).  requires: learned chains square, 0 <= inset < side / 2.
inline Batch<float> tiled_chains(const Batch<float>& learned, const Shape& canvas, Index inset = 0) {
  const Index M = batch_size(learned), s = learned.dimension(1) - 2 * inset, across = (canvas.width + s - 1) / s;
  const Index oy = std::max<Index>(0, (s - canvas.height) / 2), ox = std::max<Index>(0, (s - canvas.width) / 2);
  Batch<float> chains = make_batch<float>(canvas, M);
  for (Index n = 0; n < M; ++n)
    for (Index x = 0; x < canvas.width; ++x)
      for (Index y = 0; y < canvas.height; ++y)
        for (Index c = 0; c < canvas.channels; ++c)
          chains(c, y, x, n) = learned(c, inset + (y + oy) % s, inset + (x + ox) % s, (n + (y / s) * across + x / s) % M);
  return chains;
}

/// `steps` steps of `options` on `chains` (options.steps is ignored), in chunks of 10 between which a
/// stop signal is heeded and "LABEL: step 40/100  ETA 0:12" is printed now and then (stderr). Returns
/// false when a stop signal ended it early.  throws: what langevin throws.
inline bool sample(const TextureModel& model, Batch<float>& chains, const LangevinOptions& options, Index steps,
                   std::mt19937_64& engine, const std::string& label) {
  LangevinWorkspace<float> ws;
  const auto start = std::chrono::steady_clock::now();
  const Index every = std::max<Index>(10, steps / 10 / 10 * 10);
  for (Index done = 0; done < steps;) {
    if (stop_requested()) return false;
    LangevinOptions chunk = options;
    chunk.steps = std::min<Index>(10, steps - done);
    langevin(model, chains, chunk, engine, ws);
    done += chunk.steps;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == steps || done % every == 0)
      std::cerr << label << ": step " << done << "/" << steps << "  ETA "
                << clock_time(elapsed / static_cast<double>(done) * static_cast<double>(steps - done)) << "\n";
  }
  return !stop_requested();
}

/// The seam measure of a tile: the mean squared intensity difference between neighbouring pixels across
/// the wrap-around seam (row H−1 and row 0, column W−1 and column 0) over the same mean between interior
/// neighbours, every channel, intensities clipped to 0–255 as in the PNG. About 1 for a tile that
/// repeats without a seam; larger when the opposite sides do not match.
/// requires: at least 2×2 pixels, not constant.
inline double seam_ratio(const Image<float>& image) {
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  auto at = [&](Index c, Index y, Index x) { return std::clamp(static_cast<double>(image(c, y, x)), 0.0, 255.0); };
  double seam = 0, inner = 0;
  Index n_seam = 0, n_inner = 0;
  for (Index c = 0; c < C; ++c)
    for (Index y = 0; y < H; ++y)
      for (Index x = 0; x < W; ++x) {
        const double v = at(c, y, x), down = v - at(c, (y + 1) % H, x), right = v - at(c, y, (x + 1) % W);
        (y + 1 == H ? seam : inner) += down * down;
        ++(y + 1 == H ? n_seam : n_inner);
        (x + 1 == W ? seam : inner) += right * right;
        ++(x + 1 == W ? n_seam : n_inner);
      }
  return (seam / static_cast<double>(n_seam)) / (inner / static_cast<double>(n_inner));
}

/// The image repeated 2×2 without gaps: a seam shows as a cross through the middle.
inline Image<float> tiled_2x2(const Image<float>& image) {
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  Image<float> out(C, 2 * H, 2 * W);
  for (Index x = 0; x < 2 * W; ++x)
    for (Index y = 0; y < 2 * H; ++y)
      for (Index c = 0; c < C; ++c) out(c, y, x) = image(c, y % H, x % W);
  return out;
}

}  // namespace gconvnet::examples
