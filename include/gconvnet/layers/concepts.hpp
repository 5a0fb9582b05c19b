// gconvnet/layers/concepts.hpp — the contract every layer meets.
//
// A layer is a small value type L over a scalar S (float or double). The model calls, in order:
//
//   Shape configure(const Shape& input)
//       requires: the input shape this layer will see (the previous layer's output).
//       ensures:  allocates the parameters (zero-initialised) and returns the output shape.
//       throws:   Error naming the layer when the input does not fit (too small for the kernel, …).
//   void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& pattern)
//       requires: x has the configured input shape, any batch size N ≥ 1.
//       ensures:  y = layer(x) (resized only when its extents change); pattern records this layer's
//                 part of δ (nothing for a convolution). A convolution also keeps the patches of x
//                 for a following accumulate_gradient.
//   void backward(const LayerPattern<S>& pattern, const Batch<S>& dy, Batch<S>& dx)
//       The top-down pass (eq. 6.7): dx = Jᵀ dy, where J is the layer's Jacobian on the piece
//       selected by `pattern` — it depends on the pattern and the weights only, never on x.
//   S-valued bias_term(dy, n) and accumulate_gradient(dy, scale, blocks)
//       The layer's contribution to α_{w,δ} (eq. 6.14) for chain n, and `scale`·∂f/∂(parameters)
//       summed over the batch, given dy = ∂f/∂y and the patches kept by the last forward.
//   Index parameter_blocks(); ParameterRef<S> parameter(Index i); const char* name(); std::string describe()
//
// Layers without parameters return 0 blocks; layers without a pattern leave it empty.
// gconvnet::testing::check_layer_gradients (testing/gradient_check.hpp) checks all of this numerically.
#pragma once

#include <string>
#include <vector>

#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

/// A named, shaped, mutable view of one parameter block (weights or biases) of a layer.
template <class S>
struct ParameterRef {
  std::string name;          ///< "weight" or "bias"; the model prefixes "layer<i>."
  S* data = nullptr;         ///< contiguous ColMajor storage
  std::vector<Index> dims;   ///< extents, ColMajor (weights: filters, channels, kernel_h, kernel_w)
  bool is_bias = false;
  Index layer = -1;          ///< index of the owning layer in the model (set by the model)

  Index size() const {
    Index n = 1;
    for (Index d : dims) n *= d;
    return n;
  }
  Eigen::Map<Vector<S>> vector() const { return Eigen::Map<Vector<S>>(data, size()); }
};

}  // namespace gconvnet
