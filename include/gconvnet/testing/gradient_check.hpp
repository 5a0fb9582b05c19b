// gconvnet/testing/gradient_check.hpp — finite-difference checks for layers and whole models.
//
// The tool the library's own tests use, public so that a user who writes a layer can check it the
// same way (as dlib's test_layer). Use double: central differences in float are too coarse.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/layer_pattern.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet::testing {

struct GradientCheckOptions {
  double step = 1e-6;          ///< central-difference step h
  double tolerance = 1e-6;     ///< on |fd − analytic| / max(1, |fd|, |analytic|)
  Index max_entries = 300;     ///< entries checked per tensor (a random subset beyond that)
};

struct GradientCheckResult {
  double max_error = 0;        ///< the largest scaled error seen
  Index checked = 0;           ///< entries compared
  Index skipped = 0;           ///< entries whose ±h perturbation changed δ (a kink or a pooling tie)
  std::string worst;           ///< where the largest error was, with both values
  bool passed = true;
};

namespace detail {

inline void record(GradientCheckResult& r, double fd, double an, const std::string& where, double tol) {
  const double err = std::abs(fd - an) / std::max({1.0, std::abs(fd), std::abs(an)});
  ++r.checked;
  if (err > r.max_error) {
    r.max_error = err;
    std::ostringstream os;
    os << where << ": finite difference " << fd << ", analytic " << an;
    r.worst = os.str();
  }
  if (err > tol) r.passed = false;
}

template <class Engine>
std::vector<Index> pick(Index n, Index most, Engine& engine) {
  std::vector<Index> idx(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
  if (n > most) {
    std::shuffle(idx.begin(), idx.end(), engine);
    idx.resize(static_cast<std::size_t>(most));
  }
  return idx;
}

}  // namespace detail

/// Checks a layer's top-down pass and parameter gradient against finite differences of
/// g(x, w) = ⟨R, layer(x)⟩ with R and x drawn N(0, 1) from `engine` (weights drawn too when the
/// layer has any). Entries whose ±h perturbation changes the layer's pattern are skipped and counted.
template <class Layer, class Engine>
GradientCheckResult check_layer_gradients(Layer layer, const Shape& input, Index batch, Engine& engine,
                                          const GradientCheckOptions& opt = {}) {
  using S = typename Layer::Scalar;
  std::normal_distribution<double> normal;
  const Shape out = layer.configure(input);
  for (Index b = 0; b < layer.parameter_blocks(); ++b) {
    auto v = layer.parameter(b).vector();
    for (Index i = 0; i < v.size(); ++i) v(i) = static_cast<S>(normal(engine));
  }
  Batch<S> x = make_batch<S>(input, batch), y, dx, R = make_batch<S>(out, batch);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<S>(normal(engine));
  for (Index i = 0; i < R.size(); ++i) R.data()[i] = static_cast<S>(normal(engine));

  LayerPattern<S> pattern, probe;
  layer.forward(x, y, pattern);
  layer.backward(pattern, R, dx);
  std::vector<Vector<S>> grads;
  for (Index b = 0; b < layer.parameter_blocks(); ++b) grads.push_back(Vector<S>::Zero(layer.parameter(b).size()));
  if (!grads.empty()) layer.accumulate_gradient(R, S(1), grads.data());

  auto objective = [&](bool& same_piece) {
    layer.forward(x, y, probe);
    same_piece = same_piece && probe.count_differences(pattern) == 0;
    return static_cast<double>((as_vector(R).template cast<double>().array() *
                                as_vector(y).template cast<double>().array()).sum());
  };
  auto central = [&](S& entry, bool& same) {
    const S saved = entry;
    entry = static_cast<S>(saved + opt.step);
    const double fp = objective(same);
    entry = static_cast<S>(saved - opt.step);
    const double fm = objective(same);
    entry = saved;
    return (fp - fm) / (2 * opt.step);
  };

  GradientCheckResult r;
  for (Index i : detail::pick(x.size(), opt.max_entries, engine)) {
    bool same = true;
    const double fd = central(x.data()[i], same);
    if (!same) { ++r.skipped; continue; }
    detail::record(r, fd, static_cast<double>(dx.data()[i]), "input[" + std::to_string(i) + "]", opt.tolerance);
  }
  for (Index b = 0; b < layer.parameter_blocks(); ++b) {
    ParameterRef<S> p = layer.parameter(b);
    for (Index i : detail::pick(p.size(), opt.max_entries, engine)) {
      bool same = true;
      const double fd = central(p.data[i], same);
      if (!same) { ++r.skipped; continue; }
      detail::record(r, fd, static_cast<double>(grads[static_cast<std::size_t>(b)](i)),
                     p.name + "[" + std::to_string(i) + "]", opt.tolerance);
    }
  }
  return r;
}

/// Checks a model's ∂f/∂I (score_and_gradient) and ∂f/∂w (accumulate_parameter_gradient) at `x`
/// against central differences of Σ_n f(x_n). Entries whose perturbation changes δ are skipped.
template <class Model, class Engine>
GradientCheckResult check_model_gradients(Model& model, const Batch<typename Model::Scalar>& x, Engine& engine,
                                          const GradientCheckOptions& opt = {}) {
  using S = typename Model::Scalar;
  Vector<S> scores;
  Batch<S> grad;
  model.score_and_gradient(x, scores, grad);
  const ActivationPattern<S> pattern = model.last_pattern();
  auto g = model.zero_gradients();
  model.accumulate_parameter_gradient(x, g, S(1));

  Batch<S> probe = x;
  auto total = [&](bool& same) {
    const Vector<S> f = model.score(probe);
    same = same && model.last_pattern().count_differences(pattern) == 0;
    return static_cast<double>(f.template cast<double>().sum());
  };
  auto central = [&](S& entry, bool& same) {
    const S saved = entry;
    entry = static_cast<S>(saved + opt.step);
    const double fp = total(same);
    entry = static_cast<S>(saved - opt.step);
    const double fm = total(same);
    entry = saved;
    return (fp - fm) / (2 * opt.step);
  };

  GradientCheckResult r;
  for (Index i : detail::pick(probe.size(), opt.max_entries, engine)) {
    bool same = true;
    const double fd = central(probe.data()[i], same);
    if (!same) { ++r.skipped; continue; }
    detail::record(r, fd, static_cast<double>(grad.data()[i]), "image[" + std::to_string(i) + "]", opt.tolerance);
  }
  auto params = model.parameters();
  for (std::size_t b = 0; b < params.size(); ++b) {
    if (params[b].layer >= model.depth()) continue;
    for (Index i : detail::pick(params[b].size(), opt.max_entries, engine)) {
      bool same = true;
      const double fd = central(params[b].data[i], same);
      if (!same) { ++r.skipped; continue; }
      detail::record(r, fd, static_cast<double>(g.blocks[b](i)), params[b].name + "[" + std::to_string(i) + "]",
                     opt.tolerance);
    }
  }
  return r;
}

}  // namespace gconvnet::testing
