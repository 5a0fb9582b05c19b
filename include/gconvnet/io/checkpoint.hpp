// gconvnet/io/checkpoint.hpp — weights and learner checkpoints as safetensors files (target gconvnet::io).
//
// Weights file: one tensor per parameter block, named as model.parameters() ("layer0.weight",
// "layer0.bias", …), F32 for float models and F64 for double, shape = the ColMajor extents reversed
// (a Conv weight (filters, channels, kh, kw) is stored as [kw, kh, channels, filters]); metadata:
// format, architecture (input shape and every layer's description), depth.
// Checkpoint file: a LearnerState (learning/learner_state.hpp), every field listed by for_each_field
// stored by its type — per-block tensors named prefix + block name ("layer0.weight",
// "optimizer.first_moment.layer0.weight", "optimizer.second_moment.<name>" for Adam), the batch
// "chains", and metadata: the step counts "optimizer.steps" (JSON list), "engine" (the mt19937_64
// state as text, operator<<), "iteration", "stage", and "learning_rate" (shortest exact decimal) when
// set_learning_rate made it differ from the options'; plus the metadata of a weights file, the
// learner kind and the optimizer method. A checkpoint is also a valid weights file for load_weights.
// Files written before learning_rate existed load as before (the learner's options give η).
// Files are written atomically (temporary file in the same directory, fsync, rename); a file that
// is truncated, corrupted or written for another model is refused with an Error naming it, before
// anything is changed.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/io/safetensors.hpp"
#include "gconvnet/learning/learner_base.hpp"
#include "gconvnet/learning/learner_state.hpp"
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

/// The shortest decimal that reads back as exactly `v` (locale-independent).
inline std::string exact_decimal(double v) {
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  return std::string(buffer, end);
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
/// ensures: `path` holds the old file or the whole new one. throws: Error naming save_weights and the path.
template <class Model>
void save_weights(Model& model, const std::string& path) {
  SafetensorsWriter w;
  detail_checkpoint::add_weights(w, model);
  w.set_metadata("format", weights_format);
  w.write(path, "save_weights");
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

namespace detail_checkpoint {

/// Name of block b of a per-block field in files.
template <class S>
std::string block_name(const LearnerStateField& f, const ParameterRef<S>& p) {
  return f.block_prefix + p.name;
}

/// Writes every field of a LearnerState by its type (the visitor of for_each_field, given the state
/// and the learner's defaults()).
template <class S>
struct StateWriter {
  SafetensorsWriter& w;
  const std::vector<ParameterRef<S>>& params;

  // per-block tensors; an empty field (Adam's second moment under SGD) writes nothing
  void operator()(const LearnerStateField& f, const std::vector<Vector<S>>& blocks, const std::vector<Vector<S>>&) {
    for (std::size_t b = 0; b < blocks.size(); ++b)
      w.add(block_name(f, params[b]), row_major_shape(params[b].dims), blocks[b].data());
  }
  void operator()(const LearnerStateField& f, const Batch<S>& x, const Batch<S>&) {
    w.add(f.name, row_major_shape(batch_dims(shape_of(x), batch_size(x))), x.data());
  }
  void operator()(const LearnerStateField& f, const std::vector<Index>& counts, const std::vector<Index>&) {
    w.set_metadata(f.name, nlohmann::json(counts).dump());
  }
  void operator()(const LearnerStateField& f, const std::mt19937_64& engine, const std::mt19937_64&) {
    std::ostringstream text;
    text << engine;
    w.set_metadata(f.name, text.str());
  }
  void operator()(const LearnerStateField& f, Index value, Index default_value) {
    if (!(f.optional && value == default_value)) w.set_metadata(f.name, std::to_string(value));
  }
  void operator()(const LearnerStateField& f, double value, double default_value) {
    if (!(f.optional && value == default_value)) w.set_metadata(f.name, exact_decimal(value));
  }
};

/// Reads every field of a LearnerState by its type into the first state, checking each value; the
/// second is the learner's current state (the shapes it expects: a field it has empty is not read),
/// the third its defaults() (what an optional field missing from the file reads as).
template <class S>
struct StateReader {
  const SafetensorsReader& r;
  const std::vector<ParameterRef<S>>& params;

  bool missing(const LearnerStateField& f) const { return f.optional && r.metadata().count(f.name) == 0; }

  void operator()(const LearnerStateField& f, std::vector<Vector<S>>& out, const std::vector<Vector<S>>& mine,
                  const std::vector<Vector<S>>&) {
    out.clear();
    if (mine.empty()) return;
    for (const auto& p : params) {
      out.emplace_back(p.size());
      read_tensor(r, block_name(f, p), row_major_shape(p.dims), out.back().data(), p.size(), f.nonnegative);
    }
  }
  void operator()(const LearnerStateField& f, Batch<S>& out, const Batch<S>& mine, const Batch<S>&) {
    const Index n = batch_size(mine);
    if (r.contains(f.name) && r.entry(f.name).shape.size() == 4 && r.entry(f.name).shape[0] != n)
      r.fail("holds ", r.entry(f.name).shape[0], " ", f.name, ", this learner has ", n);
    out = make_batch<S>(shape_of(mine), n);
    read_tensor(r, f.name, row_major_shape(batch_dims(shape_of(mine), n)), out.data(), out.size(), f.nonnegative);
  }
  void operator()(const LearnerStateField& f, std::vector<Index>& out, const std::vector<Index>&,
                  const std::vector<Index>&) {
    out.clear();
    try {
      const auto j = nlohmann::json::parse(r.metadata(f.name));
      if (!j.is_array()) throw std::runtime_error("expected a list, found " + j.dump());
      for (const auto& v : j) {
        constexpr auto max = static_cast<std::uint64_t>(max_count);
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max)
          throw std::runtime_error("expected integers 0.." + std::to_string(max_count) + ", found " + v.dump());
        out.push_back(static_cast<Index>(v.get<std::uint64_t>()));
      }
    } catch (const std::exception& e) {
      r.fail("has unreadable metadata '", f.name, "' (", e.what(), ")");
    }
  }
  void operator()(const LearnerStateField& f, std::mt19937_64& out, const std::mt19937_64&, const std::mt19937_64&) {
    std::istringstream in(r.metadata(f.name));
    in >> out;
    if (in.fail()) r.fail("has unreadable metadata '", f.name, "' (the random engine's state)");
  }
  void operator()(const LearnerStateField& f, Index& out, Index, Index default_value) {
    if (missing(f)) {
      out = default_value;
      return;
    }
    out = parse_index(r, f.name);
    if (out < 0 || out > max_count) r.fail("has ", f.name, " ", out, ", expected 0..", max_count);
  }
  void operator()(const LearnerStateField& f, double& out, double, double default_value) {
    if (missing(f)) {
      out = default_value;
      return;
    }
    const std::string& v = r.metadata(f.name);
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(out))
      r.fail("has metadata '", f.name, "' = '", v, "', expected a finite number");
  }
};

inline std::string method_name(OptimizerOptions::Method m) {
  return m == OptimizerOptions::Method::adam ? "adam" : "sgd";
}

}  // namespace detail_checkpoint

/// Saves and restores a learner's state() — everything it needs to continue bit-identically — with
/// the model's architecture. Used by the learners' save_checkpoint / load_checkpoint members and by
/// the free functions below.
template <class Model>
struct LearnerCheckpoint {
  using S = typename Model::Scalar;

  /// throws: Error naming "<Learner>::save_checkpoint" and the path when it cannot be written; the
  /// old file stays intact then.
  static void save(const LearnerBase<Model>& l, const std::string& path) {
    // the learner holds its model by pointer; writing only reads it (parameters() is not const)
    Model& model = const_cast<Model&>(l.model());
    const LearnerState<S> state = l.state(), defaults = l.defaults();
    const auto params = model.parameters();
    SafetensorsWriter w;
    for_each_field(detail_checkpoint::StateWriter<S>{w, params}, state, defaults);
    w.set_metadata("format", checkpoint_format);
    w.set_metadata("learner", l.name());
    w.set_metadata("architecture", architecture(model));
    w.set_metadata("depth", std::to_string(l.stage_depths()[static_cast<std::size_t>(state.stage)]));
    w.set_metadata("optimizer.method", detail_checkpoint::method_name(l.options().optimizer.method));
    w.write(path, std::string(l.name()) + "::save_checkpoint");
  }

  /// throws: Error naming the file when it is unreadable, truncated, corrupted (also: NaN or Inf values,
  /// a negative second moment, an iteration or step count above 2⁵³), or does not fit this learner
  /// (other model, learner kind, optimizer method, number of chains, scalar type, or a state that
  /// restore() refuses); the learner and its model are unchanged then.
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
    Model& model = l.model();
    // 1. validate everything and stage it
    const std::string& format = r.metadata("format");
    if (format != checkpoint_format) r.fail("has format '", format, "', expected ", checkpoint_format);
    if (r.metadata("learner") != l.name()) r.fail("was written by a ", r.metadata("learner"), ", not a ", l.name());
    detail_checkpoint::check_architecture(r, model);
    const std::string method = detail_checkpoint::method_name(l.options().optimizer.method);
    if (r.metadata("optimizer.method") != method)
      r.fail("holds the state of optimizer '", r.metadata("optimizer.method"), "', this learner uses '", method, "'");
    const auto params = model.parameters();
    const LearnerState<S> mine = l.state(), defaults = l.defaults();
    LearnerState<S> staged;
    for_each_field(detail_checkpoint::StateReader<S>{r, params}, staged, mine, defaults);
    const std::string problem = l.mismatch(staged);
    if (!problem.empty()) r.fail("does not fit this learner: ", problem);
    const Index depth = detail_checkpoint::parse_index(r, "depth");
    const Index expected = l.stage_depths()[static_cast<std::size_t>(staged.stage)];
    if (depth != expected) r.fail("has depth ", depth, " for stage ", staged.stage, ", expected ", expected);
    // 2. commit (restore() accepts what mismatch() accepted)
    l.restore(staged);
  }

private:
  static std::string function_name(const LearnerBase<Model>& l) { return std::string(l.name()) + "::load_checkpoint"; }
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
