// gconvnet/model/receptive_field.hpp — which responses of a model see known pixels only.
//
// Learning from a photograph with a hole (inpainting) must not let the hole into the observed
// statistics H_obs = ∂f(I_obs)/∂w. A response of the top layer whose receptive field lies among the known
// pixels, and its gradient in w, do not depend on the hole at all; known_top_units finds them, and
// ModelBase::accumulate_parameter_gradient with a top weight sums over them alone (LearningOptions::
// observed_known does both for the learners).
#pragma once

#include <cstdint>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/conv.hpp"
#include "gconvnet/layers/max_pool.hpp"
#include "gconvnet/layers/relu.hpp"
#include "gconvnet/layers/softplus.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"

namespace gconvnet {
namespace detail {

/// Per position (h, w) of image n of one layer's maps: whether it depends on known pixels only.
struct KnownMap {
  Index height = 0, width = 0, images = 0;
  std::vector<std::uint8_t> known;  // h + height·(w + width·n)
  std::uint8_t& at(Index h, Index w, Index n) { return known[static_cast<std::size_t>(h + height * (w + width * n))]; }
  std::uint8_t at(Index h, Index w, Index n) const {
    return known[static_cast<std::size_t>(h + height * (w + width * n))];
  }
};

inline KnownMap make_known_map(const Shape& s, Index images) {
  return {s.height, s.width, images, std::vector<std::uint8_t>(static_cast<std::size_t>(s.height * s.width * images), 1)};
}

/// Output (u, v) is known when every input position of its window is: the window's rows are
/// u·stride − pad + i, i < kernel_h (columns likewise); outside the input they are zero padding (known)
/// or, when `wrap`, the opposite side's positions.
inline KnownMap window_known(const KnownMap& in, const Shape& out, Index kernel_h, Index kernel_w, Index stride,
                             Index pad, bool wrap, bool outside_known) {
  KnownMap o = make_known_map(out, in.images);
  for (Index n = 0; n < in.images; ++n)
    for (Index v = 0; v < out.width; ++v)
      for (Index u = 0; u < out.height; ++u) {
        bool known = true;
        for (Index j = 0; j < kernel_w && known; ++j)
          for (Index i = 0; i < kernel_h && known; ++i) {
            Index h = u * stride - pad + i, w = v * stride - pad + j;
            if (wrap) {
              h = (h % in.height + in.height) % in.height;
              w = (w % in.width + in.width) % in.width;
            } else if (h < 0 || h >= in.height || w < 0 || w >= in.width) {
              known = outside_known;
              continue;
            }
            known = in.at(h, w, n) != 0;
          }
        o.at(u, v, n) = known ? 1 : 0;
      }
  return o;
}

template <class S>
KnownMap propagate_known(const Conv<S>& conv, const KnownMap& in, const Shape& out, bool padding_known) {
  return window_known(in, out, conv.kernel_height(), conv.kernel_width(), conv.stride(), conv.padding(),
                      conv.padding_mode() == PaddingMode::circular, padding_known);
}
template <class S>
KnownMap propagate_known(const MaxPool<S>& pool, const KnownMap& in, const Shape& out, bool) {
  return window_known(in, out, pool.kernel(), pool.kernel(), pool.stride(), 0, false, true);
}
template <class S>
KnownMap propagate_known(const ReLU<S>&, const KnownMap& in, const Shape&, bool) {
  return in;
}
template <class S>
KnownMap propagate_known(const Softplus<S>&, const KnownMap& in, const Shape&, bool) {
  return in;
}
template <class Layer>
KnownMap propagate_known(const Layer&, const KnownMap&, const Shape&, bool) {
  static_assert(sizeof(Layer) == 0, "known_top_units: this layer type has no receptive-field rule (propagate_known)");
  return {};
}

}  // namespace detail

/// Which responses of the model's top layer (the output of layer depth() − 1) depend on known pixels
/// only: result(k, u, v, n) = 1 when every pixel, in every channel, of the receptive field of position
/// (u, v) is known in image n (nonzero in `known`), else 0. The receptive field follows each layer's
/// window: a convolution's kernel at its stride (circular padding wraps; zero padding holds a
/// constant: known, or with padding_known false unknown, so that only responses whose receptive field
/// lies inside the image count), a max pooling's window; ReLU and Softplus keep the mask. A known
/// response and its gradient in w are the same whatever the unknown pixels hold.
/// requires: `known` shaped (C, H, W, N) with the model's input shape, N ≥ 1; the library's layers.
/// ensures: the result is shaped (K, H_top, W_top, N), like the top layer's output.
/// throws: Error when `known` has another shape.
template <class Model>
PixelMask known_top_units(const Model& model, const PixelMask& known, bool padding_known = true) {
  detail::check(shape_of(known) == model.input_shape() && batch_size(known) >= 1, "known_top_units",
                "argument 'known' has shape ", to_string(shape_of(known)), "x", batch_size(known), ", expected ",
                to_string(model.input_shape()), "xN with N >= 1 (the model's input shape)");
  const Shape& in = model.input_shape();
  const Index N = batch_size(known);
  detail::KnownMap map = detail::make_known_map(in, N);
  for (Index n = 0; n < N; ++n)
    for (Index w = 0; w < in.width; ++w)
      for (Index h = 0; h < in.height; ++h)
        for (Index c = 0; c < in.channels; ++c)
          if (known(c, h, w, n) == 0) map.at(h, w, n) = 0;
  model.for_each_layer(
      [&](Index l, const auto& layer) { map = detail::propagate_known(layer, map, model.output_shape(l), padding_known); });
  const Shape& top = model.top_shape();
  PixelMask out = make_batch<std::uint8_t>(top, N);
  for (Index n = 0; n < N; ++n)
    for (Index w = 0; w < top.width; ++w)
      for (Index h = 0; h < top.height; ++h)
        for (Index k = 0; k < top.channels; ++k) out(k, h, w, n) = map.at(h, w, n);
  return out;
}

}  // namespace gconvnet
