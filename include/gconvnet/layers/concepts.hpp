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
//   Index parameter_blocks(); ParameterRef<S> parameter(Index i); const char* name(); std::string describe();
//   Index macs()   (multiply-accumulates of one forward pass over one image)
//   and a member type Scalar = S.
//
// Layers without parameters return 0 blocks; layers without a pattern leave it empty.
// The models check the members at compile time (check_layer_contract below: one static_assert line
// naming the first missing member); gconvnet::testing::check_layer_gradients
// (testing/gradient_check.hpp) checks what they compute numerically.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// A named, shaped view of one parameter block (weights or biases) of a layer: mutable for
/// ParameterRef<S>, read-only for ParameterRef<const S> (what a const model hands out).
template <class S>
struct ParameterRef {
  using Value = std::remove_const_t<S>;
  /// Eigen::Map over the block: writable for S, read-only for const S.
  using VectorView =
      std::conditional_t<std::is_const_v<S>, Eigen::Map<const Vector<Value>>, Eigen::Map<Vector<Value>>>;

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
  VectorView vector() const { return VectorView(data, size()); }
};

namespace detail {

// One detection trait per member of the layer contract (C++17 detection idiom). Each asks for the
// member with the argument types the model passes.
template <class L, class = void>
struct has_scalar : std::false_type {};
template <class L>
struct has_scalar<L, std::void_t<typename L::Scalar>> : std::true_type {};

/// L::Scalar, or float when L has none (so that a model over such a layer still reaches its
/// static_assert instead of failing on the missing type first).
template <class L, class = void>
struct layer_scalar {
  using type = float;
};
template <class L>
struct layer_scalar<L, std::void_t<typename L::Scalar>> {
  using type = typename L::Scalar;
};
template <class L>
using layer_scalar_t = typename layer_scalar<L>::type;

template <class L>
using layer_batch_t = Batch<layer_scalar_t<L>>;
template <class L>
using layer_pattern_t = LayerPattern<layer_scalar_t<L>>;

template <class L, class = void>
struct has_name : std::false_type {};
template <class L>
struct has_name<L, std::void_t<decltype(std::string(std::declval<const L&>().name()))>> : std::true_type {};

template <class L, class = void>
struct has_configure : std::false_type {};
template <class L>
struct has_configure<L, std::enable_if_t<std::is_convertible_v<
                            decltype(std::declval<L&>().configure(std::declval<const Shape&>())), Shape>>>
    : std::true_type {};

template <class L, class = void>
struct has_forward : std::false_type {};
template <class L>
struct has_forward<L, std::void_t<decltype(std::declval<L&>().forward(std::declval<const layer_batch_t<L>&>(),
                                                                      std::declval<layer_batch_t<L>&>(),
                                                                      std::declval<layer_pattern_t<L>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_backward : std::false_type {};
template <class L>
struct has_backward<L, std::void_t<decltype(std::declval<L&>().backward(std::declval<const layer_pattern_t<L>&>(),
                                                                        std::declval<const layer_batch_t<L>&>(),
                                                                        std::declval<layer_batch_t<L>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_bias_term : std::false_type {};
template <class L>
struct has_bias_term<L, std::enable_if_t<std::is_convertible_v<
                            decltype(std::declval<L&>().bias_term(std::declval<const layer_batch_t<L>&>(), Index{})),
                            layer_scalar_t<L>>>> : std::true_type {};

template <class L, class = void>
struct has_accumulate_gradient : std::false_type {};
template <class L>
struct has_accumulate_gradient<L, std::void_t<decltype(std::declval<L&>().accumulate_gradient(
                                      std::declval<const layer_batch_t<L>&>(), layer_scalar_t<L>{},
                                      std::declval<Vector<layer_scalar_t<L>>*>()))>> : std::true_type {};

template <class L, class = void>
struct has_parameter_blocks : std::false_type {};
template <class L>
struct has_parameter_blocks<
    L, std::enable_if_t<std::is_convertible_v<decltype(std::declval<L&>().parameter_blocks()), Index>>>
    : std::true_type {};

template <class L, class = void>
struct has_parameter : std::false_type {};
template <class L>
struct has_parameter<L, std::enable_if_t<std::is_convertible_v<decltype(std::declval<L&>().parameter(Index{})),
                                                               ParameterRef<layer_scalar_t<L>>>>> : std::true_type {};

template <class L, class = void>
struct has_describe : std::false_type {};
template <class L>
struct has_describe<L, std::void_t<decltype(std::string(std::declval<const L&>().describe()))>> : std::true_type {};

template <class L, class = void>
struct has_macs : std::false_type {};
template <class L>
struct has_macs<L, std::enable_if_t<std::is_convertible_v<decltype(std::declval<const L&>().macs()), Index>>>
    : std::true_type {};

}  // namespace detail

/// True when L has every member of the layer contract (see the file comment).
template <class L>
inline constexpr bool is_layer_v =
    detail::has_scalar<L>::value && detail::has_name<L>::value && detail::has_configure<L>::value &&
    detail::has_forward<L>::value && detail::has_backward<L>::value && detail::has_bias_term<L>::value &&
    detail::has_accumulate_gradient<L>::value && detail::has_parameter_blocks<L>::value &&
    detail::has_parameter<L>::value && detail::has_describe<L>::value && detail::has_macs<L>::value;

/// Compile-time check of the layer contract: one static_assert naming the first member L lacks (or has
/// with other argument types). Returns is_layer_v<L>, so that a model can skip what would fail next.
template <class L>
constexpr bool check_layer_contract() {
  using namespace detail;
  // ok_k: the first k members are there; each assertion fires only for the first one missing.
  constexpr bool ok1 = has_scalar<L>::value;
  constexpr bool ok2 = ok1 && has_name<L>::value;
  constexpr bool ok3 = ok2 && has_configure<L>::value;
  constexpr bool ok4 = ok3 && has_forward<L>::value;
  constexpr bool ok5 = ok4 && has_backward<L>::value;
  constexpr bool ok6 = ok5 && has_bias_term<L>::value;
  constexpr bool ok7 = ok6 && has_accumulate_gradient<L>::value;
  constexpr bool ok8 = ok7 && has_parameter_blocks<L>::value;
  constexpr bool ok9 = ok8 && has_parameter<L>::value;
  constexpr bool ok10 = ok9 && has_describe<L>::value;
  static_assert(ok1, "gconvnet layer contract: the layer type lacks the member type Scalar "
                     "(using Scalar = float or double)");
  static_assert(!ok1 || ok2, "gconvnet layer contract: the layer type lacks name() (static const char* name())");
  static_assert(!ok2 || ok3, "gconvnet layer contract: the layer type lacks configure "
                             "(Shape configure(const Shape& input))");
  static_assert(!ok3 || ok4, "gconvnet layer contract: the layer type lacks forward "
                             "(void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& pattern))");
  static_assert(!ok4 || ok5, "gconvnet layer contract: the layer type lacks backward "
                             "(void backward(const LayerPattern<S>&, const Batch<S>& dy, Batch<S>& dx))");
  static_assert(!ok5 || ok6, "gconvnet layer contract: the layer type lacks bias_term "
                             "(S bias_term(const Batch<S>& dy, Index n))");
  static_assert(!ok6 || ok7, "gconvnet layer contract: the layer type lacks accumulate_gradient "
                             "(void accumulate_gradient(const Batch<S>& dy, S scale, Vector<S>* blocks))");
  static_assert(!ok7 || ok8, "gconvnet layer contract: the layer type lacks parameter_blocks "
                             "(Index parameter_blocks())");
  static_assert(!ok8 || ok9, "gconvnet layer contract: the layer type lacks parameter "
                             "(ParameterRef<S> parameter(Index i))");
  static_assert(!ok9 || ok10, "gconvnet layer contract: the layer type lacks describe (std::string describe() const)");
  static_assert(!ok10 || has_macs<L>::value, "gconvnet layer contract: the layer type lacks macs (Index macs() const)");
  return is_layer_v<L>;
}

}  // namespace gconvnet
