// gconvnet/layers/layer_pattern.hpp — one layer's part of the activation pattern δ (eq. 6.4, Sec. 9).
#pragma once

#include <algorithm>
#include <cstdint>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"

namespace gconvnet {

/// What one layer records on its way up, and all it needs on the way down.
///
/// - ReLU: `gate` holds δ ∈ {0, 1} for every unit (eq. 6.4).
/// - smooth nonlinearity: `gate` holds h′(r) ∈ (0, 1) (eq. 9.1).
/// - max pooling: `switches` holds, for every output unit, the flat index within its image
///   (channel + C·(row + H·column)) of the input unit that won.
/// - convolution: nothing (both empty).
template <class S>
struct LayerPattern {
  Batch<S> gate;
  Eigen::Tensor<Index, 4, Eigen::ColMajor> switches;
  /// True for a smooth nonlinearity: its gate varies continuously and is not a piece of δ, so
  /// count_differences ignores it.
  bool smooth = false;

  bool empty() const { return gate.size() == 0 && switches.size() == 0; }

  /// Number of units whose state differs from `other` (δ flipped, or a switch moved).
  Index count_differences(const LayerPattern& other) const {
    Index n = 0;
    if (smooth && other.smooth) {
    } else if (gate.size() == other.gate.size()) {
      for (Index i = 0; i < gate.size(); ++i) n += (gate.data()[i] != other.gate.data()[i]);
    } else {
      n += std::max(gate.size(), other.gate.size());
    }
    if (switches.size() == other.switches.size()) {
      for (Index i = 0; i < switches.size(); ++i) n += (switches.data()[i] != other.switches.data()[i]);
    } else {
      n += std::max(switches.size(), other.switches.size());
    }
    return n;
  }
};

namespace detail {

/// dx = gate ⊙ dy: the top-down pass of an elementwise nonlinearity whose forward pass stored its
/// derivative in the pattern's gate (ReLU: δ; Softplus: h′), in elementwise blocks shared among the
/// threads. requires: dx has dy's shape, the gate dy's size.
template <class S>
void gated_backward(const LayerPattern<S>& pattern, const Batch<S>& dy, Batch<S>& dx) {
  const Index size = dy.size();
  parallel_blocks(size, cost::scalar * 3 * static_cast<double>(size), [&](Index b, Index len) {
    as_vector(dx).segment(b, len).array() =
        as_vector(pattern.gate).segment(b, len).array() * as_vector(dy).segment(b, len).array();
  });
}

}  // namespace detail

}  // namespace gconvnet
