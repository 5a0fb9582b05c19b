// gconvnet/learning/growth.hpp — layer growing under a fixed top filter (Sec. 8.2: "When growing the
// layers, we always keep the top-layer single filter, and train it together with the existing layers"),
// and copy_parameters, which carries learned weights from one model to the next.
//
//   const auto stages = grow_under_top(parse_layers<float>("conv:32:7:2:3,relu,conv:32:5:1:2,relu,fc:1"));
//   // stages[0]: conv,relu,fc:1   stages[1]: conv,relu,conv,relu,fc:1
//   DynamicModel<float> small(shape, stages[0]);
//   ... learn ...
//   DynamicModel<float> grown(shape, stages[1]);
//   copy_parameters(small, grown, top_layer(small));  // the layers below the top carry over
//
// The top covers a different map at every stage, so it starts afresh (its shape differs in general).
// Growing a model declared with all its layers (EnergyModel, set_depth) is stages.hpp's.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/learning/stages.hpp"
#include "gconvnet/model/dynamic_model.hpp"

namespace gconvnet {

namespace detail {

inline std::string dims_string(const std::vector<Index>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s.empty() ? "(scalar)" : s;
}

template <class Model>
std::vector<std::string> layer_descriptions(const Model& model) {
  std::vector<std::string> out;
  model.for_each_layer_all([&](Index, const auto& layer) { out.push_back(layer.describe()); });
  return out;
}

}  // namespace detail

/// Copies, bit for bit, every parameter block of the bottom `layers` layers of `from` into the same
/// layers of `to` (layers = −1: every layer of `from`). Layers above are left as they are.
/// requires: both models over one scalar type; 0 ≤ layers ≤ both models' num_layers(); each copied
///           layer has the same parameter blocks, of the same shapes, in both.
/// ensures:  on success the copied blocks of `to` equal those of `from` exactly; on an Error `to` is
///           unchanged (everything is checked before anything is copied).
/// throws:   Error naming the layer, both layers' descriptions and both shapes on a mismatch, or a
///           layer count out of range.
template <class From, class To>
void copy_parameters(const From& from, To& to, Index layers = -1) {
  static_assert(std::is_same_v<typename From::Scalar, typename To::Scalar>,
                "gconvnet: copy_parameters copies between models of one scalar type (bit for bit)");
  const char* fn = "copy_parameters";
  const Index most = std::min(from.num_layers(), to.num_layers());
  if (layers == -1) {
    detail::check(to.num_layers() >= from.num_layers(), fn, "argument 'to' has ", to.num_layers(),
                  " layers, argument 'from' ", from.num_layers(),
                  ": expected at least as many in 'to' to copy every layer (or give 'layers')");
    layers = from.num_layers();
  }
  detail::check(layers >= 0 && layers <= most, fn, "argument 'layers' is ", layers, ", expected 0..", most,
                " (the layers both models have) or -1 (every layer of 'from')");
  const auto source = from.parameters();
  auto target = to.parameters();
  const auto from_layers = detail::layer_descriptions(from), to_layers = detail::layer_descriptions(to);
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (source block, target block)
  for (Index l = 0; l < layers; ++l) {
    std::vector<std::size_t> a, b;
    for (std::size_t i = 0; i < source.size(); ++i)
      if (source[i].layer == l) a.push_back(i);
    for (std::size_t i = 0; i < target.size(); ++i)
      if (target[i].layer == l) b.push_back(i);
    const auto& fl = from_layers[static_cast<std::size_t>(l)];
    const auto& tl = to_layers[static_cast<std::size_t>(l)];
    detail::check(a.size() == b.size(), fn, "layer ", l, " has ", a.size(), " parameter blocks in 'from' (", fl,
                  "), ", b.size(), " in 'to' (", tl, "), expected the same layer in both");
    for (std::size_t k = 0; k < a.size(); ++k) {
      const auto& p = source[a[k]];
      const auto& q = target[b[k]];
      detail::check(p.dims == q.dims, fn, "parameter '", p.name, "' has shape ",
                    detail::dims_string(p.dims), " in 'from' (", fl, "), ", detail::dims_string(q.dims), " in 'to' (",
                    tl, "), expected the same shape");
      pairs.emplace_back(a[k], b[k]);
    }
  }
  for (const auto& [i, j] : pairs) std::copy(source[i].data, source[i].data + source[i].size(), target[j].data);
}

/// The layer lists of growing under a fixed top: the top is the last layer with parameters and the
/// layers above it; the layers below it form blocks, each starting at a layer with parameters (layers
/// before the first such layer belong to block 0, as in stage_depths). Stage s is blocks 0…s followed
/// by the top: "conv,relu,conv,relu,fc:1" gives {"conv,relu,fc:1", "conv,relu,conv,relu,fc:1"}.
/// requires: `layers` has at least two layers with parameters (one below the top).
/// ensures:  one list per block below the top, each a prefix of `layers` plus the top; the last list
///           is `layers`. The bottom top_layer(stage s) layers of stage s + 1 are those of stage s, so
///           copy_parameters(model_s, model_s+1, top_layer(model_s)) carries the learned ones over.
/// throws:   Error when `layers` has fewer than two layers with parameters.
template <class S>
std::vector<std::vector<AnyLayer<S>>> grow_under_top(const std::vector<AnyLayer<S>>& layers) {
  std::vector<std::size_t> with_parameters;
  for (std::size_t l = 0; l < layers.size(); ++l)
    if (std::visit([](const auto& layer) { return layer.parameter_blocks() > 0; }, layers[l]))
      with_parameters.push_back(l);
  detail::check(with_parameters.size() >= 2, "grow_under_top", "argument 'layers' has ", with_parameters.size(),
                " layers with parameters, expected at least 2 (a top filter and a layer to grow under it)");
  const std::size_t top = with_parameters.back();
  std::vector<std::vector<AnyLayer<S>>> stages;
  for (std::size_t b = 1; b < with_parameters.size(); ++b) {  // block b − 1 ends where block b starts
    std::vector<AnyLayer<S>> stage(layers.begin(), layers.begin() + static_cast<std::ptrdiff_t>(with_parameters[b]));
    stage.insert(stage.end(), layers.begin() + static_cast<std::ptrdiff_t>(top), layers.end());
    stages.push_back(std::move(stage));
  }
  return stages;
}

}  // namespace gconvnet
