// gconvnet/layers/max_pool.hpp — local max pooling with recorded arg-max switches (Sec. 9).
#pragma once

#include <algorithm>
#include <string>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// What this object represents: y(c, u, v) = max over the k×k window at (u·s, v·s) of x(c, ·, ·),
/// no padding, output extent (H − k)/s + 1. Forward records the arg-max (the first maximum on ties)
/// as a switch; the top-down pass routes dy to the switch and zero elsewhere, so with the switches
/// fixed the layer is linear (a selection) and Theorem 1 still holds. No parameters.
template <class S>
class MaxPool {
public:
  using Scalar = S;
  /// requires: kernel ≥ 1, stride ≥ 1 (0 = kernel). Throws Error otherwise.
  explicit MaxPool(Index kernel, Index stride = 0) : kernel_(kernel), stride_(stride == 0 ? kernel : stride) {
    detail::check(kernel >= 1, "MaxPool::MaxPool", "argument 'kernel' is ", kernel, ", expected >= 1");
    detail::check(stride >= 0, "MaxPool::MaxPool", "argument 'stride' is ", stride, ", expected >= 1 (0 = kernel)");
  }

  static const char* name() { return "MaxPool"; }
  Shape configure(const Shape& in) {
    const char* fn = "MaxPool::configure";
    detail::check(!in.empty(), fn, "argument 'input' is empty (", to_string(in), ")");
    detail::check(kernel_ <= in.height && kernel_ <= in.width, fn, "kernel ", kernel_, "x", kernel_,
                  " is larger than the input ", to_string(in));
    in_ = in;
    out_ = Shape{in.channels, (in.height - kernel_) / stride_ + 1, (in.width - kernel_) / stride_ + 1};
    return out_;
  }

  void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& pattern) const {
    const Index N = batch_size(x), C = in_.channels, H = in_.height;
    const Index Ho = out_.height, Wo = out_.width;
    ensure_shape(y, out_, N);
    if (pattern.switches.dimension(0) != C || pattern.switches.dimension(1) != Ho ||
        pattern.switches.dimension(2) != Wo || pattern.switches.dimension(3) != N)
      pattern.switches.resize(C, Ho, Wo, N);
    const Index outer = Wo * N;
    const double work = detail::cost::scalar * static_cast<double>(C * Ho * outer * (kernel_ * kernel_ + 2));
    detail::parallel_for(outer, work, [&](Index vn) {
      const Index v = vn % Wo, n = vn / Wo;
      const S* xs = x.data() + n * in_.size();
      for (Index u = 0; u < Ho; ++u) {
        S* yo = y.data() + C * (u + Ho * vn);
        Index* so = pattern.switches.data() + C * (u + Ho * vn);
        for (Index c = 0; c < C; ++c) {
          Index best = c + C * (u * stride_ + H * (v * stride_));
          S best_value = xs[best];
          for (Index j = 0; j < kernel_; ++j)
            for (Index i = 0; i < kernel_; ++i) {
              const Index at = c + C * (u * stride_ + i + H * (v * stride_ + j));
              if (xs[at] > best_value) {
                best_value = xs[at];
                best = at;
              }
            }
          yo[c] = best_value;
          so[c] = best;
        }
      }
    });
  }

  void backward(const LayerPattern<S>& pattern, const Batch<S>& dy, Batch<S>& dx) const {
    const Index N = batch_size(dy), per_out = out_.size(), per_in = in_.size();
    ensure_shape(dx, in_, N);
    const double work = detail::cost::scalar * static_cast<double>(N * (per_in + 3 * per_out));
    detail::parallel_for(N, work, [&](Index n) {
      const Index* s = pattern.switches.data() + n * per_out;
      const S* d = dy.data() + n * per_out;
      S* o = dx.data() + n * per_in;
      std::fill(o, o + per_in, S(0));
      for (Index k = 0; k < per_out; ++k) o[s[k]] += d[k];
    });
  }

  S bias_term(const Batch<S>&, Index) const { return S(0); }
  void accumulate_gradient(const Batch<S>&, S, Vector<S>*) const {}
  static constexpr Index parameter_blocks() { return 0; }
  ParameterRef<S> parameter(Index) { return {}; }
  std::string describe() const {
    return "MaxPool " + std::to_string(kernel_) + "x" + std::to_string(kernel_) + " stride " + std::to_string(stride_);
  }
  Index macs() const { return 0; }
  Index kernel() const { return kernel_; }
  Index stride() const { return stride_; }

private:
  Index kernel_, stride_;
  Shape in_{}, out_{};
};

}  // namespace gconvnet
