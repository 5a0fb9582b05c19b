// gconvnet/learning/statistics.hpp — what a learning iteration reports, and the moments eq. 5.8 /
// 7.3–7.4 match at the maximum likelihood estimate (frequency of δ being on, per filter).
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet {

/// The statistics of one learning iteration (returned by MleLearner::step and CdLearner::step).
struct IterationStats {
  Index iteration = 0;                    ///< global 0-based index of the iteration just done (across stages)
  Index stage = 0;                        ///< 0-based layer stage
  double score_observed = 0;              ///< mean f over observed images (parameters before the update)
  double score_synthesized = 0;           ///< mean f over synthesized chains (parameters before the update)
  std::vector<double> active_observed;    ///< per active layer with a gate (ReLU): fraction of units on, observed
  std::vector<double> active_synthesized; ///< same, synthesized
  std::vector<double> gradient_norm;      ///< per active layer with parameters: ‖H_obs − H_syn‖ (before normalisation)
  double contrast_observed = 0;           ///< root mean square of the observed images' values (as learned from)
  double contrast_synthesized = 0;        ///< root mean square of the chains' values after the Langevin steps
  double learning_rate = 0;               ///< η of this iteration (after the per-stage factor)
  double seconds = 0;                     ///< wall time of this iteration
};

/// Fraction of units on in every layer that has a gate (ReLU, or a smooth gate h′), bottom-up, into
/// `out` (its capacity reused: no allocation once it has held as many layers).
template <class S>
void active_fractions(const ActivationPattern<S>& pattern, std::vector<double>& out) {
  out.clear();
  for (std::size_t l = 0; l < pattern.layers.size(); ++l)
    if (pattern.layers[l].gate.size() > 0) out.push_back(pattern.active_fraction(l));
}
/// The same, returned.
template <class S>
std::vector<double> active_fractions(const ActivationPattern<S>& pattern) {
  std::vector<double> out;
  active_fractions(pattern, out);
  return out;
}

/// For every layer with a gate, bottom-up: the fraction of units on in each channel (filter k),
/// pooled over positions and images — the first moment matched by eq. 7.4 (eq. 5.8 for the prototype).
template <class S>
std::vector<Vector<double>> channel_active_fractions(const ActivationPattern<S>& pattern) {
  std::vector<Vector<double>> out;
  for (const auto& layer : pattern.layers) {
    if (layer.gate.size() == 0) continue;
    const auto px = as_pixel_columns(layer.gate);  // channels × (H·W·N)
    out.push_back(px.template cast<double>().rowwise().mean());
  }
  return out;
}

/// Root mean square, over every channel of every gated layer, of the difference between two sets
/// of per-channel activation frequencies (e.g. observed and synthesized).
/// throws: Error when the two do not have the same layers and channels.
inline double activation_frequency_mismatch(const std::vector<Vector<double>>& a, const std::vector<Vector<double>>& b) {
  detail::check(a.size() == b.size(), "activation_frequency_mismatch", "arguments have ", a.size(), " and ",
                b.size(), " layers, expected the same");
  double sum = 0;
  Index n = 0;
  for (std::size_t l = 0; l < a.size(); ++l) {
    detail::check(a[l].size() == b[l].size(), "activation_frequency_mismatch", "layer ", l, " has ", a[l].size(),
                  " and ", b[l].size(), " channels, expected the same");
    sum += (a[l] - b[l]).squaredNorm();
    n += a[l].size();
  }
  return n == 0 ? 0.0 : std::sqrt(sum / static_cast<double>(n));
}

}  // namespace gconvnet
