// gconvnet/layers/softplus.hpp — a smooth nonlinearity h(r) = log(1 + eʳ) (Sec. 9).
#pragma once

#include <string>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// What this object represents: y = log(1 + exp(x)) elementwise (computed stably). Its "pattern" is
/// h′(x) = 1/(1 + e⁻ˣ) ∈ (0, 1) (eq. 9.1), recorded in the gate; the top-down pass is dx = h′ ⊙ dy, so
/// B = ∂f/∂I still holds but f = α + ⟨I, B⟩ does not: the model is no longer piecewise Gaussian.
template <class S>
class Softplus {
public:
  using Scalar = S;
  static const char* name() { return "Softplus"; }
  Shape configure(const Shape& in) {
    detail::check(!in.empty(), "Softplus::configure", "argument 'input' is empty (", to_string(in), ")");
    shape_ = in;
    return in;
  }

  void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& pattern) const {
    const Index n = batch_size(x);
    ensure_shape(y, shape_, n);
    ensure_shape(pattern.gate, shape_, n);
    pattern.smooth = true;
    const Index size = x.size();
    detail::parallel_blocks(size, detail::cost::scalar * 30 * static_cast<double>(size), [&](Index b, Index len) {
      const auto xa = as_vector(x).segment(b, len).array();
      as_vector(y).segment(b, len).array() = xa.max(S(0)) + (-xa.abs()).exp().log1p();
      as_vector(pattern.gate).segment(b, len).array() = S(1) / (S(1) + (-xa).exp());
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
  std::string describe() const { return "Softplus"; }
  Index macs() const { return 0; }

private:
  Shape shape_{};
};

}  // namespace gconvnet
