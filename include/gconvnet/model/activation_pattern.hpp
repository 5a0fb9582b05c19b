// gconvnet/model/activation_pattern.hpp — δ(I; w) for every layer, and the reconstruction it selects.
#pragma once

#include <cstddef>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// The activation pattern of a batch of images (eq. 6.4 and Sec. 9): one LayerPattern per active
/// layer, bottom-up. It is tied to the model (and depth) that computed it by `signature`; top_down
/// refuses a pattern from another model or shape.
template <class S>
struct ActivationPattern {
  std::vector<LayerPattern<S>> layers;
  Shape input_shape{};
  Index chains = 0;
  std::size_t signature = 0;

  /// Number of units (δ or switches, all layers, all chains) that differ from `other`.
  Index count_differences(const ActivationPattern& other) const {
    Index n = 0;
    const std::size_t common = std::min(layers.size(), other.layers.size());
    for (std::size_t l = 0; l < common; ++l) n += layers[l].count_differences(other.layers[l]);
    for (std::size_t l = common; l < layers.size(); ++l) n += layers[l].gate.size() + layers[l].switches.size();
    for (std::size_t l = common; l < other.layers.size(); ++l)
      n += other.layers[l].gate.size() + other.layers[l].switches.size();
    return n;
  }
  friend bool operator==(const ActivationPattern& a, const ActivationPattern& b) {
    return a.signature == b.signature && a.chains == b.chains && a.count_differences(b) == 0;
  }
  friend bool operator!=(const ActivationPattern& a, const ActivationPattern& b) { return !(a == b); }

  /// Mean of layer l's gate (the fraction of active ReLU units); NaN-free: 0 for layers without gates.
  double active_fraction(std::size_t l) const {
    const auto& g = layers.at(l).gate;
    if (g.size() == 0) return 0.0;
    return static_cast<double>(as_vector(g).template cast<double>().mean());
  }
};

/// The top-down reconstruction of a pattern (eq. 6.7, 6.13–6.14): the image B_{w,δ} and the constant
/// α_{w,δ}, one per chain, with f(I) = α + ⟨I, B⟩ for every I whose pattern is δ (Theorem 1).
template <class S>
struct Reconstruction {
  Batch<S> B;
  Vector<S> alpha;
};

/// Parameter gradients (or any per-parameter state), block for block like model.parameters().
template <class S>
struct Gradients {
  std::vector<Vector<S>> blocks;

  void set_zero() {
    for (auto& b : blocks) b.setZero();
  }
  double squared_norm() const {
    double s = 0;
    for (const auto& b : blocks) s += static_cast<double>(b.squaredNorm());
    return s;
  }
  bool all_finite() const {
    for (const auto& b : blocks)
      if (!b.allFinite()) return false;
    return true;
  }
};

}  // namespace gconvnet
