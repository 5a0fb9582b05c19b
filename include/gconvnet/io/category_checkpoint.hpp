// gconvnet/io/category_checkpoint.hpp — DiscriminativeLearner checkpoints as safetensors files (target
// gconvnet::io).
//
// Tensors: every block of model.parameters() under its name ("layer0.weight", …, "heads",
// "category_bias"), "optimizer.first_moment.<name>" and, for Adam, "optimizer.second_moment.<name>";
// F32 for float models, F64 for double; shapes the ColMajor extents reversed (as io/checkpoint.hpp).
// Metadata: format, architecture (the trunk's, then the heads), the number of labelled images, iteration,
// learning rate, the mt19937_64 engine as text, optimizer method and step counts, the epoch order and cursor.
// Written atomically; a file that is unreadable, corrupted or written for another learner is refused
// with an Error naming it, before anything changes.
#pragma once

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
#include "gconvnet/io/checkpoint.hpp"
#include "gconvnet/io/safetensors.hpp"
#include "gconvnet/learning/discriminative_learner.hpp"

namespace gconvnet::io {

inline constexpr const char* discriminative_checkpoint_format = "gconvnet.discriminative_checkpoint.v1";

namespace detail_category_checkpoint {

/// The trunk's architecture line, then the heads (K × C): two CategoryModels fit when these agree.
template <class Base>
std::string architecture(const CategoryModel<Base>& model) {
  return io::architecture(model.trunk()) + "; heads " + std::to_string(model.head_size()) + "x" +
         std::to_string(model.categories());
}

inline std::string method_name(OptimizerOptions::Method m) { return m == OptimizerOptions::Method::adam ? "adam" : "sgd"; }

}  // namespace detail_category_checkpoint

/// Writes everything `learner` needs to continue bit for bit (its state(), see the file comment) to `path`.
/// ensures: `path` holds its old content or the whole new file. throws: Error naming the path.
template <class Base>
void save_discriminative_checkpoint(const DiscriminativeLearner<Base>& learner, const std::string& path) {
  const auto& model = learner.model();
  const auto state = learner.state();
  const auto params = model.parameters();
  SafetensorsWriter w;
  for (std::size_t b = 0; b < params.size(); ++b) {
    const auto shape = row_major_shape(params[b].dims);
    w.add(params[b].name, shape, state.weights[b].data());
    w.add("optimizer.first_moment." + params[b].name, shape, state.optimizer.first_moment[b].data());
    if (!state.optimizer.second_moment.empty())
      w.add("optimizer.second_moment." + params[b].name, shape, state.optimizer.second_moment[b].data());
  }
  std::ostringstream engine, rate;
  engine << state.engine;
  rate.precision(17);
  rate << state.learning_rate;
  w.set_metadata("format", discriminative_checkpoint_format);
  w.set_metadata("architecture", detail_category_checkpoint::architecture(model));
  w.set_metadata("images", std::to_string(batch_size(learner.images())));
  w.set_metadata("iteration", std::to_string(state.iteration));
  w.set_metadata("learning_rate", rate.str());
  w.set_metadata("engine", engine.str());
  w.set_metadata("optimizer.method", detail_category_checkpoint::method_name(learner.optimizer().options().method));
  w.set_metadata("optimizer.steps", nlohmann::json(state.optimizer.steps).dump());
  w.set_metadata("order", nlohmann::json(state.order).dump());
  w.set_metadata("cursor", std::to_string(state.cursor));
  w.write(path);
}

/// Restores what save_discriminative_checkpoint wrote; continuing is bit-identical to an uninterrupted run.
/// requires: a learner over a model of the same architecture and categories, the same number of labelled
///           images and the same optimizer method.
/// throws: Error naming the file when it is unreadable, truncated, corrupted (NaN or Inf values, unreadable
///         metadata) or for another learner; as DiscriminativeLearner::restore for a state that does not fit.
///         The learner and its model are unchanged then.
template <class Base>
void load_discriminative_checkpoint(DiscriminativeLearner<Base>& learner, const std::string& path) {
  const SafetensorsReader r = SafetensorsReader::read(path, "load_discriminative_checkpoint");
  auto& model = learner.model();
  const std::string& format = r.metadata("format");
  if (format != discriminative_checkpoint_format)
    r.fail("has format '", format, "', expected ", discriminative_checkpoint_format);
  const std::string mine = detail_category_checkpoint::architecture(model);
  if (r.metadata("architecture") != mine)
    r.fail("was written for another model (", r.metadata("architecture"), "); this model is ", mine);
  const Index images = detail_checkpoint::parse_index(r, "images");
  if (images != batch_size(learner.images()))
    r.fail("was written for a learner of ", images, " labelled images, this one has ", batch_size(learner.images()));
  const std::string method = detail_category_checkpoint::method_name(learner.optimizer().options().method);
  if (r.metadata("optimizer.method") != method)
    r.fail("holds the state of optimizer '", r.metadata("optimizer.method"), "', this learner uses '", method, "'");

  typename DiscriminativeLearner<Base>::State state;
  state.iteration = detail_checkpoint::parse_index(r, "iteration");
  state.cursor = detail_checkpoint::parse_index(r, "cursor");
  // metadata that parses as text: `parse` throws std::exception on bad text
  auto read_metadata = [&](const char* key, auto parse) {
    try {
      parse(r.metadata(key));
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      r.fail("has unreadable metadata '", key, "' (", e.what(), ")");
    }
  };
  read_metadata("learning_rate", [&](const std::string& v) {
    std::size_t used = 0;
    state.learning_rate = std::stod(v, &used);
    if (used != v.size()) throw std::runtime_error("trailing characters");
  });
  read_metadata("engine", [&](const std::string& v) {
    std::istringstream in(v);
    in >> state.engine;
    if (in.fail()) throw std::runtime_error("not the text of a std::mt19937_64");
  });
  read_metadata("optimizer.steps", [&](const std::string& v) { state.optimizer.steps = nlohmann::json::parse(v).get<std::vector<Index>>(); });
  read_metadata("order", [&](const std::string& v) { state.order = nlohmann::json::parse(v).get<std::vector<Index>>(); });

  const bool adam = method == "adam";
  for (const auto& p : std::as_const(model).parameters()) {
    const auto shape = row_major_shape(p.dims);
    state.weights.emplace_back(p.size());
    detail_checkpoint::read_tensor(r, p.name, shape, state.weights.back().data(), p.size());
    auto& o = state.optimizer;
    o.first_moment.emplace_back(p.size());
    detail_checkpoint::read_tensor(r, "optimizer.first_moment." + p.name, shape, o.first_moment.back().data(), p.size());
    if (adam) {
      o.second_moment.emplace_back(p.size());
      detail_checkpoint::read_tensor(r, "optimizer.second_moment." + p.name, shape, o.second_moment.back().data(),
                                     p.size(), /*nonnegative=*/true);
    }
  }
  learner.restore(state);
}

}  // namespace gconvnet::io
