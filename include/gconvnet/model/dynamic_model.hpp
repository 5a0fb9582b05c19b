// gconvnet/model/dynamic_model.hpp — a model whose layer list is chosen at run time.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gconvnet/layers/conv.hpp"
#include "gconvnet/layers/max_pool.hpp"
#include "gconvnet/layers/relu.hpp"
#include "gconvnet/layers/softplus.hpp"
#include "gconvnet/model/model_base.hpp"

namespace gconvnet {

/// Any of the library's layers.
template <class S>
using AnyLayer = std::variant<Conv<S>, ReLU<S>, MaxPool<S>, Softplus<S>>;

/// What this object represents: the same model as EnergyModel, with its layers in a run-time list
/// (for programs that read the architecture from the command line). Every algorithm that takes a
/// model takes this one too.
template <class S>
class DynamicModel : public ModelBase<DynamicModel<S>, S> {
  using Base = ModelBase<DynamicModel<S>, S>;
  friend Base;

public:
  using Scalar = S;

  /// requires: at least one layer, each fitting the one below. throws: Error naming the layer.
  DynamicModel(const Shape& input_shape, std::vector<AnyLayer<S>> layers) : layers_(std::move(layers)) {
    detail::check(!layers_.empty(), "DynamicModel::DynamicModel", "argument 'layers' is empty, expected at least one layer");
    this->configure(input_shape);
  }

  AnyLayer<S>& layer(Index l) { return layers_.at(static_cast<std::size_t>(l)); }
  const AnyLayer<S>& layer(Index l) const { return layers_.at(static_cast<std::size_t>(l)); }

  static const char* model_name() { return "DynamicModel"; }

  /// Calls f(index, layer) on the active layers, bottom-up (as EnergyModel's).
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
  Index layer_count() const { return static_cast<Index>(layers_.size()); }

  // For ModelBase: the first `limit` layers as mutable references (the layers keep the work buffers
  // of the const queries).
  template <class F>
  void visit_layers(F&& f, Index limit) const {
    for (Index l = 0; l < limit; ++l) visit_one(f, l);
  }
  template <class F>
  void visit_layers_reverse(F&& f, Index limit) const {
    for (Index l = limit - 1; l >= 0; --l) visit_one(f, l);
  }
  template <class F>
  void visit_one(F& f, Index l) const {
    std::visit([&](auto& layer) { f(l, layer); }, layers_[static_cast<std::size_t>(l)]);
  }

  mutable std::vector<AnyLayer<S>> layers_;
};

/// Parses a layer list such as "conv:100:15:3:2,relu,conv:64:5:1:2,relu,maxpool:2,fc:1,softplus".
///   conv:FILTERS:KERNEL[:STRIDE[:PADDING[c]]]   fc:FILTERS (kernel over the whole input)
///     a `c` after the padding makes it circular (PaddingMode::circular): "conv:64:5:1:2c"
///   relu   softplus   maxpool:KERNEL[:STRIDE]
/// throws: Error naming the item that does not parse.
template <class S>
std::vector<AnyLayer<S>> parse_layers(const std::string& spec) {
  const char* fn = "parse_layers";
  std::vector<AnyLayer<S>> out;
  std::size_t start = 0;
  detail::check(!spec.empty(), fn, "argument 'spec' is empty, expected e.g. \"conv:64:5:1:2,relu\"");
  while (start <= spec.size()) {
    const std::size_t end = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, end - start);
    std::vector<std::string> parts;
    for (std::size_t a = 0;;) {
      const std::size_t b = item.find(':', a);
      parts.push_back(item.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    // conv's padding may end in 'c' (circular)
    const bool circular = parts[0] == "conv" && parts.size() == 5 && !parts[4].empty() && parts[4].back() == 'c';
    std::vector<Index> nums;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      std::size_t used = 0;
      long long v = 0;
      const std::string digits = circular && i == 4 ? parts[i].substr(0, parts[i].size() - 1) : parts[i];
      try {
        v = std::stoll(digits, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      detail::check(used == digits.size() && !digits.empty(), fn, "argument 'spec': item '", item,
                    "' has '", parts[i], "' where an integer was expected");
      nums.push_back(static_cast<Index>(v));
    }
    const std::string& kind = parts[0];
    auto arity = [&](std::size_t lo, std::size_t hi) {
      detail::check(nums.size() >= lo && nums.size() <= hi, fn, "argument 'spec': item '", item, "' takes ", lo,
                    lo == hi ? "" : std::string(" to ") + std::to_string(hi), " numbers, got ", nums.size());
    };
    // A layer's own check (zero stride, …) is reported with the item it came from.
    auto add = [&](auto make) {
      try {
        out.emplace_back(make());
      } catch (const Error& e) {
        detail::fail(fn, "argument 'spec': item '", item, "': ", e.what());
      }
    };
    if (kind == "conv") {
      arity(2, 4);
      add([&] {
        return Conv<S>(nums[0], nums[1])
            .stride(nums.size() > 2 ? nums[2] : 1)
            .padding(nums.size() > 3 ? nums[3] : 0, circular ? PaddingMode::circular : PaddingMode::zero);
      });
    } else if (kind == "fc") {
      arity(1, 1);
      add([&] { return Conv<S>::fully_connected(nums[0]); });
    } else if (kind == "relu") {
      arity(0, 0);
      out.emplace_back(ReLU<S>{});
    } else if (kind == "softplus") {
      arity(0, 0);
      out.emplace_back(Softplus<S>{});
    } else if (kind == "maxpool") {
      arity(1, 2);
      add([&] { return MaxPool<S>(nums[0], nums.size() > 1 ? nums[1] : 0); });
    } else {
      detail::fail(fn, "argument 'spec': item '", item, "' is not a layer; expected conv, fc, relu, softplus or maxpool");
    }
    start = end + 1;
  }
  return out;
}

}  // namespace gconvnet
