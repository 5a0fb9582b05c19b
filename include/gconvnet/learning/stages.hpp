// gconvnet/learning/stages.hpp — the layer stages of a model, for layer growing (Sec. 8).
#pragma once

#include <vector>

#include "gconvnet/core/tensor.hpp"

namespace gconvnet {

/// The stage boundaries of a model declared with all its layers: stage s learns the prefix of
/// stage_depths(model)[s] layers. A stage ends after each parameterised layer's (Conv's) following
/// nonlinearity / pooling layers, so conv,relu,conv,relu → {2, 4} and conv,relu,maxpool,conv,relu →
/// {3, 5}. Layers before the first Conv belong to stage 0; a model without parameters has one stage.
/// ensures: strictly increasing, last entry = model.num_layers().
template <class Model>
std::vector<Index> stage_depths(const Model& model) {
  std::vector<Index> starts;  // index of every parameterised layer
  model.for_each_layer_all([&](Index l, const auto& layer) {
    if (layer.parameter_blocks() > 0) starts.push_back(l);
  });
  std::vector<Index> depths;
  for (std::size_t i = 1; i < starts.size(); ++i) depths.push_back(starts[i]);
  depths.push_back(model.num_layers());
  return depths;
}

/// The index of the model's last layer with parameters (its top filter in a model grown under a fixed
/// top), or −1 when no layer has parameters.
template <class Model>
Index top_layer(const Model& model) {
  Index top = -1;
  model.for_each_layer_all([&](Index l, const auto& layer) {
    if (layer.parameter_blocks() > 0) top = l;
  });
  return top;
}

/// The stage whose depth is `depth` exactly, or −1 when `depth` is not a stage boundary.
template <class Model>
Index stage_of_depth(const Model& model, Index depth) {
  const auto d = stage_depths(model);
  for (std::size_t s = 0; s < d.size(); ++s)
    if (d[s] == depth) return static_cast<Index>(s);
  return -1;
}

}  // namespace gconvnet
