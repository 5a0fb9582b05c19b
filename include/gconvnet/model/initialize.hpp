// gconvnet/model/initialize.hpp — random initial parameters.
#pragma once

#include <random>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

/// Sets every weight of every layer to an independent N(0, weight_sigma²) draw from `engine` and
/// every bias to `bias` (the release code: weight_sigma = 0.01, bias = 0).
/// requires: weight_sigma ≥ 0. Deterministic for a given engine state.
template <class Model, class Engine>
void initialize_normal(Model& model, Engine& engine, double weight_sigma, double bias = 0.0) {
  using S = typename Model::Scalar;
  detail::check(weight_sigma >= 0, "initialize_normal", "argument 'weight_sigma' is ", weight_sigma, ", expected >= 0");
  std::normal_distribution<double> normal(0.0, 1.0);
  for (auto& p : model.parameters()) {
    auto v = p.vector();
    if (p.is_bias)
      v.setConstant(static_cast<S>(bias));
    else
      for (Index i = 0; i < v.size(); ++i) v(i) = static_cast<S>(weight_sigma * normal(engine));
  }
}

}  // namespace gconvnet
