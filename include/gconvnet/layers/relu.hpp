// gconvnet/layers/relu.hpp — the rectified linear unit h(r) = max(r, 0) and its pattern δ (eq. 6.4).
#pragma once

#include <string>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// What this object represents: y = max(x, 0) elementwise. Forward records δ = 1(x > 0) in the
/// pattern's gate; the top-down pass is dx = δ ⊙ dy, so on the piece where δ is fixed the layer is
/// linear and the model is piecewise Gaussian (Theorem 1). No parameters.
template <class S>
class ReLU {
public:
  using Scalar = S;
  static const char* name() { return "ReLU"; }
  Shape configure(const Shape& in) {
    detail::check(!in.empty(), "ReLU::configure", "argument 'input' is empty (", to_string(in), ")");
    shape_ = in;
    return in;
  }

  void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& pattern) const {
    const Index n = batch_size(x);
    ensure_shape(y, shape_, n);
    ensure_shape(pattern.gate, shape_, n);
    const Index size = x.size();
    const S* in = x.data();
    S* gate = pattern.gate.data();
    S* out = y.data();
    // A plain loop, which the compiler vectorises (Eigen 3.4 evaluates the cast of a comparison one
    // value at a time); y is std::max(x, 0), as Eigen's max gives, NaN and −0 included.
    detail::parallel_blocks(size, detail::cost::scalar * 3 * static_cast<double>(size), [&](Index b, Index len) {
      for (Index i = b; i < b + len; ++i) {
        const S v = in[i];
        gate[i] = v > S(0) ? S(1) : S(0);
        out[i] = v < S(0) ? S(0) : v;
      }
    });
  }

  void backward(const LayerPattern<S>& pattern, const Batch<S>& dy, Batch<S>& dx) const {
    ensure_shape(dx, shape_, batch_size(dy));
    detail::gated_backward(pattern, dy, dx);
  }

  S bias_term(const Batch<S>&, Index) const { return S(0); }
  void accumulate_gradient(const Batch<S>&, S, Vector<S>*) const {}
  static constexpr Index parameter_blocks() { return 0; }
  ParameterRef<S> parameter(Index) { return {}; }
  std::string describe() const { return "ReLU"; }
  Index macs() const { return 0; }

private:
  Shape shape_{};
};

}  // namespace gconvnet
