// gconvnet/model/energy_model.hpp — EnergyModel<Layers...>: the generative ConvNet p(I; w) ∝ exp(f(I; w)) q(I).
#pragma once

#include <cstddef>
#include <tuple>
#include <utility>

#include "gconvnet/model/model_base.hpp"

namespace gconvnet {

/// What this object represents: the generative ConvNet (eq. 3.4) whose ConvNet is the layers listed
/// bottom-up, all over one scalar type, on images of a fixed input shape:
///
///   EnergyModel net(Shape{3, 64, 64}, Conv<float>(100, 15, 3, 2), ReLU<float>{},
///                                     Conv<float>(64, 5, 1, 2), ReLU<float>{});
///
/// requires: at least one layer; every layer fits the output of the one below.
/// ensures:  shapes inferred once; parameters zero (see initialize_normal).
/// throws:   Error naming the layer whose input does not fit.
/// The algorithms (score, bottom_up, top_down, gradients, …) are those of ModelBase.
template <class... Layers>
class EnergyModel : public ModelBase<EnergyModel<Layers...>,
                                     typename std::tuple_element_t<0, std::tuple<Layers...>>::Scalar> {
  static_assert(sizeof...(Layers) >= 1, "EnergyModel needs at least one layer");
  using Base = ModelBase<EnergyModel<Layers...>, typename std::tuple_element_t<0, std::tuple<Layers...>>::Scalar>;
  friend Base;

public:
  using Scalar = typename Base::Scalar;
  static_assert((std::is_same_v<typename Layers::Scalar, Scalar> && ...),
                "EnergyModel: every layer must use the same scalar type");

  explicit EnergyModel(const Shape& input_shape, Layers... layers) : layers_(std::move(layers)...) {
    this->configure(input_shape);
  }
  EnergyModel(const EnergyModel&) = default;
  EnergyModel& operator=(const EnergyModel&) = default;
  EnergyModel(EnergyModel&&) noexcept = default;
  EnergyModel& operator=(EnergyModel&&) noexcept = default;

  /// Layer I (compile-time index).
  template <std::size_t I>
  auto& layer() { return std::get<I>(layers_); }
  template <std::size_t I>
  const auto& layer() const { return std::get<I>(layers_); }

  static const char* model_name() { return "EnergyModel"; }

  /// Calls f(index, layer) on the active layers, bottom-up.
  template <class F>
  void for_each_layer(F&& f) {
    visit(f, std::index_sequence_for<Layers...>{}, this->depth());
  }
  /// Calls f(index, layer) on the active layers, top-down.
  template <class F>
  void for_each_layer_reverse(F&& f) {
    visit_reverse(f, std::index_sequence_for<Layers...>{}, this->depth());
  }
  /// Calls f(index, layer) on every layer, active or not, bottom-up.
  template <class F>
  void for_each_layer_all(F&& f) {
    visit(f, std::index_sequence_for<Layers...>{}, static_cast<Index>(sizeof...(Layers)));
  }

private:
  template <class F, std::size_t... I>
  void visit(F& f, std::index_sequence<I...>, Index limit) {
    ((static_cast<Index>(I) < limit ? (void)f(static_cast<Index>(I), std::get<I>(layers_)) : (void)0), ...);
  }
  template <class F, std::size_t... I>
  void visit_reverse(F& f, std::index_sequence<I...>, Index limit) {
    constexpr std::size_t N = sizeof...(Layers);
    ((static_cast<Index>(N - 1 - I) < limit ? (void)f(static_cast<Index>(N - 1 - I), std::get<N - 1 - I>(layers_))
                                             : (void)0),
     ...);
  }

  std::tuple<Layers...> layers_;
};

}  // namespace gconvnet
