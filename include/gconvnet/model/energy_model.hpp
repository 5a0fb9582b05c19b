// gconvnet/model/energy_model.hpp — EnergyModel<Layers...>: the generative ConvNet p(I; w) ∝ exp(f(I; w)) q(I).
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/model/model_base.hpp"

namespace gconvnet {

/// What this object represents: the generative ConvNet (eq. 3.4) whose ConvNet is the layers listed
/// bottom-up, all over one scalar type, on images of a fixed input shape:
///
///   EnergyModel net(Shape{3, 64, 64}, Conv<float>(100, 15).stride(3).padding(2), ReLU<float>{},
///                                     Conv<float>(64, 5).padding(2), ReLU<float>{});
///
/// requires: at least one layer, each meeting the layer contract (layers/concepts.hpp, checked at
///           compile time); every layer fits the output of the one below.
/// ensures:  shapes inferred once; parameters zero (see initialize_normal).
/// throws:   Error naming the layer whose input does not fit ("EnergyModel::EnergyModel: layer 2 …").
/// The algorithms (score, bottom_up, top_down, gradients, …) are those of ModelBase.
template <class... Layers>
class EnergyModel
    : public ModelBase<EnergyModel<Layers...>, detail::layer_scalar_t<std::tuple_element_t<0, std::tuple<Layers...>>>> {
  static_assert(sizeof...(Layers) >= 1, "EnergyModel needs at least one layer");
  using Base =
      ModelBase<EnergyModel<Layers...>, detail::layer_scalar_t<std::tuple_element_t<0, std::tuple<Layers...>>>>;
  friend Base;
  static constexpr bool contract_met = (check_layer_contract<Layers>() && ...);

public:
  using Scalar = typename Base::Scalar;
  static_assert(!contract_met || (std::is_same_v<detail::layer_scalar_t<Layers>, Scalar> && ...),
                "EnergyModel: every layer must use the same scalar type");

  explicit EnergyModel(const Shape& input_shape, Layers... layers) : layers_(std::move(layers)...) {
    if constexpr (contract_met) this->configure(input_shape);
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
    visit_layers(f, this->depth());
  }
  template <class F>
  void for_each_layer(F&& f) const {
    visit_layers([&](Index l, auto& layer) { f(l, std::as_const(layer)); }, this->depth());
  }
  /// Calls f(index, layer) on the active layers, top-down.
  template <class F>
  void for_each_layer_reverse(F&& f) {
    visit_layers_reverse(f, this->depth());
  }
  template <class F>
  void for_each_layer_reverse(F&& f) const {
    visit_layers_reverse([&](Index l, auto& layer) { f(l, std::as_const(layer)); }, this->depth());
  }
  /// Calls f(index, layer) on every layer, active or not, bottom-up.
  template <class F>
  void for_each_layer_all(F&& f) {
    visit_layers(f, layer_count());
  }
  template <class F>
  void for_each_layer_all(F&& f) const {
    visit_layers([&](Index l, auto& layer) { f(l, std::as_const(layer)); }, layer_count());
  }

private:
  static constexpr Index layer_count() { return static_cast<Index>(sizeof...(Layers)); }

  // For ModelBase: the first `limit` layers as mutable references (the layers keep the work buffers
  // of the const queries).
  template <class F>
  void visit_layers(F&& f, Index limit) const {
    visit(f, std::index_sequence_for<Layers...>{}, limit);
  }
  template <class F>
  void visit_layers_reverse(F&& f, Index limit) const {
    visit_reverse(f, std::index_sequence_for<Layers...>{}, limit);
  }
  template <class F, std::size_t... I>
  void visit(F& f, std::index_sequence<I...>, Index limit) const {
    ((static_cast<Index>(I) < limit ? (void)f(static_cast<Index>(I), std::get<I>(layers_)) : (void)0), ...);
  }
  template <class F, std::size_t... I>
  void visit_reverse(F& f, std::index_sequence<I...>, Index limit) const {
    constexpr std::size_t N = sizeof...(Layers);
    ((static_cast<Index>(N - 1 - I) < limit ? (void)f(static_cast<Index>(N - 1 - I), std::get<N - 1 - I>(layers_))
                                             : (void)0),
     ...);
  }

  mutable std::tuple<Layers...> layers_;
};

/// EnergyModel(shape, Conv<float>(8, 5).stride(2), ReLU<float>{}) is an EnergyModel<Conv<float>,
/// ReLU<float>>: the layers are taken by value (a chained setter's Conv&& decays to Conv).
template <class... Layers>
EnergyModel(const Shape&, Layers...) -> EnergyModel<Layers...>;

}  // namespace gconvnet
