// gconvnet/io/checkpoint.hpp — weights and learner checkpoints as safetensors files (target gconvnet::io).
//
// Weights file: one tensor per parameter block, named as model.parameters() ("layer0.weight",
// "layer0.bias", …), F32 for float models and F64 for double, shape = the ColMajor extents reversed
// (a Conv weight (filters, channels, kh, kw) is stored as [kw, kh, channels, filters]); metadata:
// format, architecture (input shape and every layer's description), depth.
// Checkpoint file: the same tensors plus "chains" and the optimizer state
// ("optimizer.first_moment.<name>", "optimizer.second_moment.<name>" for Adam); metadata adds the
// learner kind, iteration, stage, the optimizer's per-block step counts and the mt19937_64 engine
// state as text (operator<<). A checkpoint is also a valid weights file for load_weights.
// Files are written atomically (temporary file in the same directory, fsync, rename); a file that
// is truncated, corrupted or written for another model is refused with an Error naming it, before
// anything is changed.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/io/safetensors.hpp"
#include "gconvnet/learning/learner_base.hpp"
#include "gconvnet/learning/options.hpp"

namespace gconvnet::io {

inline constexpr const char* weights_format = "gconvnet.weights.v1";
inline constexpr const char* checkpoint_format = "gconvnet.checkpoint.v1";

/// The model's architecture as one line: input shape and every layer (active or not), as stored in
/// files and compared on loading.
template <class Model>
std::string architecture(Model& model) {
  std::string s = "input " + to_string(model.input_shape());
  model.for_each_layer_all([&](Index l, auto& layer) { s += "; " + std::to_string(l) + ": " + layer.describe(); });
  return s;
}

namespace detail_checkpoint {

template <class Model>
void add_weights(SafetensorsWriter& w, Model& model) {
  for (const auto& p : model.parameters()) w.add(p.name, row_major_shape(p.dims), p.data);
  w.set_metadata("architecture", architecture(model));
  w.set_metadata("depth", std::to_string(model.depth()));
}

inline Index parse_index(const SafetensorsReader& r, const std::string& key) {
  const std::string& v = r.metadata(key);
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty()) r.fail("has metadata '", key, "' = '", v, "', expected an integer");
  return static_cast<Index>(x);
}

template <class Model>
void check_architecture(const SafetensorsReader& r, Model& model) {
  const std::string& a = r.metadata("architecture");
  const std::string mine = architecture(model);
  if (a != mine) r.fail("was written for another model (", a, "); this model is ", mine);
}

/// The largest iteration and optimizer step count accepted from a file (2⁵³: exact in double, and
/// far from overflowing when counted on).
inline constexpr Index max_count = Index(1) << 53;

/// Refuses a stored tensor holding NaN or Inf (or, with nonnegative, a negative value).
template <class S>
void check_values(const SafetensorsReader& r, const std::string& name, const S* values, Index n,
                  bool nonnegative = false) {
  for (Index i = 0; i < n; ++i) {
    if (!std::isfinite(values[i]))
      r.fail("has tensor '", name, "' holding ", values[i], " at element ", i, ", expected finite values");
    if (nonnegative && values[i] < S(0))
      r.fail("has tensor '", name, "' holding ", values[i], " at element ", i, ", expected values >= 0");
  }
}

/// Copies a stored tensor into `out` (size prod(shape)) and checks its values.
template <class S>
void read_tensor(const SafetensorsReader& r, const std::string& name, const std::vector<Index>& shape, S* out,
                 Index n, bool nonnegative = false) {
  r.copy_to(name, shape, out);
  check_values(r, name, out, n, nonnegative);
}

/// Reads every parameter block into staging vectors (nothing in the model changes).
template <class Model>
std::vector<Vector<typename Model::Scalar>> read_weights(const SafetensorsReader& r, Model& model) {
  std::vector<Vector<typename Model::Scalar>> out;
  for (const auto& p : model.parameters()) {
    out.emplace_back(p.size());
    read_tensor(r, p.name, row_major_shape(p.dims), out.back().data(), p.size());
  }
  return out;
}

template <class Model>
void commit_weights(Model& model, const std::vector<Vector<typename Model::Scalar>>& values) {
  auto params = model.parameters();
  for (std::size_t b = 0; b < params.size(); ++b) params[b].vector() = values[b];
}

inline std::vector<Index> batch_dims(const Shape& s, Index n) { return {s.channels, s.height, s.width, n}; }

}  // namespace detail_checkpoint

/// Writes every parameter block of `model` (all layers, active or not) and its depth to `path`.
/// ensures: `path` holds the old file or the whole new one. throws: Error naming the path.
template <class Model>
void save_weights(Model& model, const std::string& path) {
  SafetensorsWriter w;
  detail_checkpoint::add_weights(w, model);
  w.set_metadata("format", weights_format);
  w.write(path);
}

/// load_weights from a validated safetensors file (SafetensorsReader::read or ::from_memory); its
/// function name and path start every message.
/// requires: as load_weights.  throws: as load_weights; the model is unchanged then.
template <class Model>
void load_weights(Model& model, const SafetensorsReader& r) {
  const std::string& format = r.metadata("format");
  if (format != weights_format && format != checkpoint_format)
    r.fail("has format '", format, "', expected ", weights_format, " or ", checkpoint_format);
  detail_checkpoint::check_architecture(r, model);
  const Index depth = detail_checkpoint::parse_index(r, "depth");
  if (depth < 1 || depth > model.num_layers()) r.fail("has depth ", depth, ", expected 1..", model.num_layers());
  const auto values = detail_checkpoint::read_weights(r, model);
  detail_checkpoint::commit_weights(model, values);
  model.set_depth(depth);
}

/// Loads weights written by save_weights (or a checkpoint) into `model` and sets its depth to the
/// stored one — enough to synthesize without learning.
/// requires: the same architecture (input shape, layers), the same scalar type.
/// throws: Error naming the file when it is unreadable, truncated, corrupted or for another model
///         (missing tensor, wrong dtype or shape, NaN or Inf values); the model is unchanged then.
template <class Model>
void load_weights(Model& model, const std::string& path) {
  load_weights(model, SafetensorsReader::read(path, "load_weights"));
}

/// load_weights from `size` bytes at `data` (a weights file held in memory); `name` names it in messages.
/// requires: data points to `size` bytes; as load_weights.  throws: as load_weights.
template <class Model>
void load_weights_from_memory(Model& model, const unsigned char* data, std::size_t size, const std::string& name) {
  load_weights(model, SafetensorsReader::from_memory(data, size, name, "load_weights"));
}

/// Saves and restores everything a learner needs to continue bit-identically: weights, chains,
/// optimizer state, iteration, stage, random engine. Used by the learners' save_checkpoint /
/// load_checkpoint members and by the free functions below.
template <class Model>
struct LearnerCheckpoint {
  using S = typename Model::Scalar;

  /// throws: Error naming the path when it cannot be written; the old file stays intact then.
  static void save(const LearnerBase<Model>& l, const std::string& path) {
    Model& model = *l.model_;
    SafetensorsWriter w;
    detail_checkpoint::add_weights(w, model);
    w.add("chains", row_major_shape(detail_checkpoint::batch_dims(shape_of(l.chains_), batch_size(l.chains_))),
          l.chains_.data());
    const auto params = model.parameters();
    const Optimizer<S>& opt = l.optimizer_;
    for (std::size_t b = 0; b < params.size(); ++b) {
      w.add("optimizer.first_moment." + params[b].name, row_major_shape(params[b].dims), opt.first_moment.blocks[b].data());
      if (!opt.second_moment.blocks.empty())
        w.add("optimizer.second_moment." + params[b].name, row_major_shape(params[b].dims),
              opt.second_moment.blocks[b].data());
    }
    std::ostringstream engine;
    engine << l.engine_;
    w.set_metadata("format", checkpoint_format);
    w.set_metadata("learner", l.learner_name_);
    w.set_metadata("iteration", std::to_string(l.iteration_));
    w.set_metadata("stage", std::to_string(l.stage_));
    w.set_metadata("engine", engine.str());
    w.set_metadata("optimizer.method", method_name(opt.options().method));
    w.set_metadata("optimizer.steps", nlohmann::json(opt.steps).dump());
    w.write(path);
  }

  /// throws: Error naming the file when it is unreadable, truncated, corrupted (also: NaN or Inf values,
  /// a negative second moment, an iteration or step count above 2⁵³), or does not fit this learner
  /// (other model, learner kind, optimizer method, number of chains, scalar type); the learner and its
  /// model are unchanged then.
  static void load(LearnerBase<Model>& l, const std::string& path) {
    load(l, SafetensorsReader::read(path, function_name(l)));
  }

  /// load from `size` bytes at `data` (a checkpoint held in memory); `name` names it in messages.
  /// throws: as load.
  static void load_from_memory(LearnerBase<Model>& l, const unsigned char* data, std::size_t size,
                               const std::string& name) {
    load(l, SafetensorsReader::from_memory(data, size, name, function_name(l)));
  }

  /// load from a validated safetensors file. throws: as load.
  static void load(LearnerBase<Model>& l, const SafetensorsReader& r) {
    Model& model = *l.model_;
    // 1. validate everything and stage it
    const std::string& format = r.metadata("format");
    if (format != checkpoint_format) r.fail("has format '", format, "', expected ", checkpoint_format);
    if (r.metadata("learner") != l.learner_name_)
      r.fail("was written by a ", r.metadata("learner"), ", not a ", l.learner_name_);
    detail_checkpoint::check_architecture(r, model);
    const Index iteration = detail_checkpoint::parse_index(r, "iteration");
    const Index stage = detail_checkpoint::parse_index(r, "stage");
    if (iteration < 0 || iteration > detail_checkpoint::max_count)
      r.fail("has iteration ", iteration, ", expected 0..", detail_checkpoint::max_count);
    if (stage < 0 || stage >= l.num_stages()) r.fail("has stage ", stage, ", expected 0..", l.num_stages() - 1);
    const Index depth = detail_checkpoint::parse_index(r, "depth");
    if (depth != l.depths_[static_cast<std::size_t>(stage)])
      r.fail("has depth ", depth, " for stage ", stage, ", expected ", l.depths_[static_cast<std::size_t>(stage)]);
    const Optimizer<S>& opt = l.optimizer_;
    const std::string method = method_name(opt.options().method);
    if (r.metadata("optimizer.method") != method)
      r.fail("holds the state of optimizer '", r.metadata("optimizer.method"), "', this learner uses '", method, "'");
    std::vector<Index> steps;
    try {
      const auto j = nlohmann::json::parse(r.metadata("optimizer.steps"));
      for (const auto& v : j) {
        constexpr auto max = static_cast<std::uint64_t>(detail_checkpoint::max_count);
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max)
          throw std::runtime_error("expected integers 0.." + std::to_string(detail_checkpoint::max_count) + ", found " +
                                   v.dump());
        steps.push_back(static_cast<Index>(v.get<std::uint64_t>()));
      }
    } catch (const std::exception& e) {
      r.fail("has unreadable metadata 'optimizer.steps' (", e.what(), ")");
    }
    const auto params = model.parameters();
    if (steps.size() != params.size())
      r.fail("has ", steps.size(), " optimizer step counts, expected ", params.size());
    Engine engine;
    {
      std::istringstream in(r.metadata("engine"));
      in >> engine;
      if (in.fail()) r.fail("has unreadable metadata 'engine' (the random engine's state)");
    }
    const auto weights = detail_checkpoint::read_weights(r, model);
    const Index n = batch_size(l.chains_);
    Batch<S> chains = make_batch<S>(model.input_shape(), n);
    if (r.contains("chains") && r.entry("chains").shape.size() == 4 && r.entry("chains").shape[0] != n)
      r.fail("holds ", r.entry("chains").shape[0], " chains, this learner has ", n);
    detail_checkpoint::read_tensor(r, "chains", row_major_shape(detail_checkpoint::batch_dims(model.input_shape(), n)),
                                   chains.data(), chains.size());
    Gradients<S> first, second;
    for (const auto& p : params) {
      first.blocks.emplace_back(p.size());
      detail_checkpoint::read_tensor(r, "optimizer.first_moment." + p.name, row_major_shape(p.dims),
                                     first.blocks.back().data(), p.size());
      if (!opt.second_moment.blocks.empty()) {
        second.blocks.emplace_back(p.size());
        detail_checkpoint::read_tensor(r, "optimizer.second_moment." + p.name, row_major_shape(p.dims),
                                       second.blocks.back().data(), p.size(), /*nonnegative=*/true);
      }
    }
    // 2. commit (nothing below throws)
    detail_checkpoint::commit_weights(model, weights);
    l.stage_ = stage;
    model.set_depth(depth);
    l.iteration_ = iteration;
    l.engine_ = engine;
    l.chains_ = std::move(chains);
    l.optimizer_.first_moment = std::move(first);
    l.optimizer_.second_moment = std::move(second);
    l.optimizer_.steps = std::move(steps);
    l.gradient_.set_zero();
  }

private:
  using Engine = typename LearnerBase<Model>::Engine;
  static std::string function_name(const LearnerBase<Model>& l) {
    return std::string(l.learner_name_) + "::load_checkpoint";
  }
  static std::string method_name(OptimizerOptions::Method m) { return m == OptimizerOptions::Method::adam ? "adam" : "sgd"; }
};

/// Free-function forms of learner.save_checkpoint(path) / learner.load_checkpoint(path).
template <class Learner>
void save_checkpoint(const Learner& learner, const std::string& path) {
  LearnerCheckpoint<typename Learner::ModelType>::save(learner, path);
}
template <class Learner>
void load_checkpoint(Learner& learner, const std::string& path) {
  LearnerCheckpoint<typename Learner::ModelType>::load(learner, path);
}

/// learner.load_checkpoint from `size` bytes at `data` (a checkpoint held in memory); `name` names it in
/// messages. requires: data points to `size` bytes. throws: as load_checkpoint; the learner is unchanged then.
template <class Learner>
void load_checkpoint_from_memory(Learner& learner, const unsigned char* data, std::size_t size,
                                 const std::string& name) {
  LearnerCheckpoint<typename Learner::ModelType>::load_from_memory(learner, data, size, name);
}

}  // namespace gconvnet::io
