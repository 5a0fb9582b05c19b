// gconvnet/sampling/annealed_importance.hpp — log Z(w) by annealed importance sampling (AIS, Neal 2001),
// and log-likelihoods with it.
//
// Convention: Z(w) = E_q[exp f(I; w)] with q(I) = N(0, σ²) per pixel, its own normaliser included
// (eq. 3.1), so that p(I; w) = exp(f(I; w)) q(I) / Z(w) is a normalised density and log Z = 0 for f ≡ 0.
// AIS anneals from q (β = 0) to p (β = 1) through the tempered models p_β ∝ exp(β f) q,
// 0 = β_0 < β_1 < … < β_T = 1. Every chain starts with an exact draw from q; at t = 1..T it adds
// (β_t − β_{t−1}) f(I) to its log weight, then moves by `steps` transitions that leave p_{β_t} invariant:
// MALA (exact at any ε), or plain Langevin (invariant only as ε → 0: the estimate is then biased by O(ε²)).
// E[exp(log weight)] = Z exactly, whatever the schedule; the schedule only changes the variance.
// The chains form `runs` independent groups: Ẑ_r = mean weight of run r, Ẑ = mean_r Ẑ_r, and
// log Z ≈ log Ẑ with standard error sd_r(Ẑ_r) / (√R · Ẑ) (delta method). The effective sample size of
// all the weights, (Σ w)² / Σ w², says how even they are (chains × runs when all are equal).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/sampling/diagnostics.hpp"
#include "gconvnet/sampling/langevin.hpp"
#include "gconvnet/sampling/random.hpp"

namespace gconvnet {

/// Options of estimate_log_partition.
struct LogPartitionOptions {
  /// How β_1..β_T are spaced between 0 and 1:
  ///  linear:    β_t = t / T;
  ///  geometric: β_t = β_1^{(T−t)/(T−1)} (β_1 = geometric_start; small steps where f matters least);
  ///  sigmoid:   β_t = (σ(δ(2t/T − 1)) − σ(−δ)) / (σ(δ) − σ(−δ)), δ = sigmoid_sharpness (dense at both ends).
  enum class Schedule { linear, geometric, sigmoid };
  Index temperatures = 500;        ///< T ≥ 1 annealing steps
  Schedule schedule = Schedule::sigmoid;
  double geometric_start = 1e-4;   ///< geometric: β_1, in (0, 1)
  double sigmoid_sharpness = 4.0;  ///< sigmoid: δ > 0
  Index chains = 32;               ///< chains per run, ≥ 1
  Index runs = 8;                  ///< independent runs, ≥ 2: the standard error is their spread
  double step_size = 0.3;          ///< ε > 0 of the transitions
  Index steps = 1;                 ///< transitions per temperature, ≥ 0 (0: plain importance sampling from q)
  bool metropolis = true;          ///< MALA transitions (exact) or plain Langevin (biased by O(ε²))
  double reference_sigma = 1.0;    ///< σ > 0 of q(I) = N(0, σ²)
};

/// What estimate_log_partition found.
struct LogPartitionEstimate {
  double log_z = 0;                  ///< log Ẑ, an estimate of log Z(w) = log E_q[exp f]
  double standard_error = 0;         ///< of log Ẑ, from the spread of the runs' Ẑ_r
  double effective_sample_size = 0;  ///< (Σ w)² / Σ w² over all chains' weights
  Index chains = 0;                  ///< chains × runs
  double acceptance_rate = 1;        ///< MALA: accepted / proposed transitions; 1 for plain Langevin
};

/// Reusable buffers of estimate_log_partition: with the same options and model nothing is allocated
/// after the first call. After a call, `chains` holds the annealed chains (weighted samples of p) and
/// `log_weights` their log weights.
template <class S>
struct LogPartitionWorkspace {
  Batch<S> chains;                ///< current states, one image per column (runs × chains of them)
  Batch<S> gradient;              ///< ∂f/∂I at the current states
  Batch<S> proposal;              ///< MALA proposals
  Batch<S> proposal_gradient;     ///< ∂f/∂I at the proposals
  Batch<S> noise;                 ///< Z of the last transition
  Vector<S> scores, proposal_scores;
  Vector<double> f, squared_norm;                  ///< f and ‖I‖² of the current states
  Vector<double> proposal_f, proposal_squared_norm;
  Vector<double> log_acceptance;  ///< of the last MALA transition, per chain
  Vector<double> log_weights;     ///< log AIS weight per chain
  Vector<double> run_log_z;       ///< log Ẑ_r per run
  Vector<double> betas;           ///< β_0 = 0, …, β_T = 1
};

/// The schedule β_0 = 0 < β_1 ≤ … ≤ β_T = 1 of `options` into `betas` (T + 1 values).
/// requires: valid options (see estimate_log_partition).
inline void annealing_schedule(const LogPartitionOptions& options, Vector<double>& betas) {
  const Index T = options.temperatures;
  if (betas.size() != T + 1) betas.resize(T + 1);
  betas(0) = 0.0;
  const double delta = options.sigmoid_sharpness;
  auto logistic = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (Index t = 1; t <= T; ++t) {
    const double u = static_cast<double>(t) / static_cast<double>(T);
    switch (options.schedule) {
      case LogPartitionOptions::Schedule::linear: betas(t) = u; break;
      case LogPartitionOptions::Schedule::geometric:
        betas(t) = T == 1 ? 1.0
                          : std::pow(options.geometric_start,
                                     static_cast<double>(T - t) / static_cast<double>(T - 1));
        break;
      case LogPartitionOptions::Schedule::sigmoid:
        betas(t) = (logistic(delta * (2 * u - 1)) - logistic(-delta)) / (logistic(delta) - logistic(-delta));
        break;
    }
  }
  betas(T) = 1.0;
}

namespace detail {

inline void check_log_partition_options(const LogPartitionOptions& o, const char* fn) {
  check_sampler_options(fn, o.step_size, o.reference_sigma, o.steps, "steps");
  check(o.temperatures >= 1 && o.chains >= 1 && o.runs >= 2, fn, "arguments 'options.temperatures' (",
        o.temperatures, "), 'options.chains' (", o.chains, ") and 'options.runs' (", o.runs,
        ") must be >= 1, >= 1 and >= 2");
  using Sc = LogPartitionOptions::Schedule;
  check((o.schedule == Sc::linear) || (o.schedule == Sc::geometric && o.geometric_start > 0 && o.geometric_start < 1) ||
            (o.schedule == Sc::sigmoid && o.sigmoid_sharpness > 0 && std::isfinite(o.sigmoid_sharpness)),
        fn, "argument 'options.schedule' is not linear, geometric with 0 < geometric_start < 1 (",
        o.geometric_start, "), or sigmoid with a finite sigmoid_sharpness > 0 (", o.sigmoid_sharpness, ")");
}

/// log Σ_i exp(v_i) over v[begin, begin + n).
inline double log_sum_exp(const Vector<double>& v, Index begin, Index n) {
  double top = -std::numeric_limits<double>::infinity();
  for (Index i = begin; i < begin + n; ++i) top = std::max(top, v(i));
  if (!std::isfinite(top)) return top;
  double sum = 0;
  for (Index i = begin; i < begin + n; ++i) sum += std::exp(v(i) - top);
  return top + std::log(sum);
}

// f (double) and ‖I‖² of every chain; NumericalError naming the first chain whose f is not finite.
template <class S>
void annealing_state(const Batch<S>& x, const Vector<S>& scores, Vector<double>& f, Vector<double>& squared_norm,
                     double beta, Index transition) {
  const auto cols = as_columns(x);
  const Index n = cols.cols();
  if (f.size() != n) f.resize(n);
  if (squared_norm.size() != n) squared_norm.resize(n);
  for (Index i = 0; i < n; ++i) {
    f(i) = static_cast<double>(scores(i));
    squared_norm(i) = cols.col(i).template cast<double>().squaredNorm();
  }
  for (Index i = 0; i < n; ++i)
    if (!std::isfinite(f(i)))
      throw NumericalError(concat("estimate_log_partition: chain ", i, " has score f = ", f(i), " at transition ",
                                  transition, " (beta ", beta, "); the weights hold NaN or Inf, or are too large "
                                  "for the step size; try a smaller step_size"));
}

}  // namespace detail

/// log Z(w) = log E_q[exp f(I; w)] of `model` by annealed importance sampling (see the file comment),
/// over options.runs independent runs of options.chains chains.
/// requires: model satisfies the model concept (score_and_gradient, input_shape); valid options: ε > 0,
///           σ > 0, steps ≥ 0, temperatures ≥ 1, chains ≥ 1, runs ≥ 2, geometric_start in (0, 1),
///           sigmoid_sharpness > 0.
/// ensures:  every random draw comes from `engine`, in a fixed order, so the same engine state and
///           thread count give bit-identical results; nothing is allocated after the first call with
///           the same workspace, model and options; ws.chains and ws.log_weights hold the final chains.
/// throws:   Error on bad options; NumericalError when a chain or its score becomes NaN or Inf.
/// Cost: one forward + top-down pass per transition (T × steps + 1 in all) over chains × runs images.
template <class Model, class Engine>
LogPartitionEstimate estimate_log_partition(const Model& model, const LogPartitionOptions& options, Engine& engine,
                                            LogPartitionWorkspace<typename Model::Scalar>& ws) {
  using S = typename Model::Scalar;
  const char* fn = "estimate_log_partition";
  detail::check_log_partition_options(options, fn);
  const Index n = options.chains * options.runs;
  const Shape shape = model.input_shape();
  const Index image = shape.size();
  const double sigma = options.reference_sigma, eps = options.step_size;
  const double two_sigma2 = 2.0 * sigma * sigma, two_eps2 = 2.0 * eps * eps;
  const S shrink = static_cast<S>(1.0 - eps * eps / two_sigma2);
  const double shrink_d = static_cast<double>(shrink);

  annealing_schedule(options, ws.betas);
  ensure_shape(ws.chains, shape, n);
  ensure_shape(ws.noise, shape, n);
  fill_standard_normal(engine, ws.chains);
  as_vector(ws.chains) *= static_cast<S>(sigma);
  model.score_and_gradient(ws.chains, ws.scores, ws.gradient);
  detail::annealing_state(ws.chains, ws.scores, ws.f, ws.squared_norm, 0.0, 0);
  ws.log_weights.setZero(n);
  if (options.metropolis) {
    ensure_shape(ws.proposal, shape, n);
    if (ws.log_acceptance.size() != n) ws.log_acceptance.resize(n);
  }

  Index transition = 0, proposed = 0, accepted = 0;
  for (Index t = 1; t <= options.temperatures; ++t) {
    const double beta = ws.betas(t);
    ws.log_weights += (beta - ws.betas(t - 1)) * ws.f;
    const S drift = static_cast<S>(beta * eps * eps / 2.0);  // (ε²/2)·β ∂f/∂I: the tempered score's gradient
    const double drift_d = static_cast<double>(drift);
    for (Index s = 0; s < options.steps; ++s, ++transition) {
      const std::uint64_t key = random_bits64(engine);
      if (!options.metropolis) {
        if (!detail::langevin_move(key, ws.chains.data(), ws.gradient.data(), ws.noise.data(), ws.chains.data(),
                                   ws.chains.size(), shrink, drift, static_cast<S>(eps)))
          detail::check_chains_finite(fn, ws.chains, transition, "annealed Langevin step");
        model.score_and_gradient(ws.chains, ws.scores, ws.gradient);
        detail::annealing_state(ws.chains, ws.scores, ws.f, ws.squared_norm, beta, transition);
        continue;
      }
      if (!detail::langevin_move(key, ws.chains.data(), ws.gradient.data(), ws.noise.data(), ws.proposal.data(),
                                 ws.chains.size(), shrink, drift, static_cast<S>(eps)))
        detail::check_chains_finite(fn, ws.proposal, transition, "annealed MALA proposal");
      model.score_and_gradient(ws.proposal, ws.proposal_scores, ws.proposal_gradient);
      detail::annealing_state(ws.proposal, ws.proposal_scores, ws.proposal_f, ws.proposal_squared_norm, beta,
                              transition);
      // log α = U_β(I) − U_β(I') + ‖I' − μ(I)‖²/(2ε²) − ‖I − μ(I')‖²/(2ε²),  U_β = ‖I‖²/(2σ²) − β f,
      // μ(x) = shrink·x + (ε²/2) β ∂f/∂I(x)   (as langevin.hpp, tempered)
      const S* x = ws.chains.data();
      const S* g = ws.gradient.data();
      const S* y = ws.proposal.data();
      const S* h = ws.proposal_gradient.data();
      detail::parallel_for(n, detail::cost::scalar * 4 * static_cast<double>(ws.chains.size()), [&](Index c) {
        double forward = 0, backward = 0;
        for (Index i = c * image; i < (c + 1) * image; ++i) {
          const double xi = static_cast<double>(x[i]), yi = static_cast<double>(y[i]);
          const double a = yi - shrink_d * xi - drift_d * static_cast<double>(g[i]);
          const double b = xi - shrink_d * yi - drift_d * static_cast<double>(h[i]);
          forward += a * a;
          backward += b * b;
        }
        const double u_x = ws.squared_norm(c) / two_sigma2 - beta * ws.f(c);
        const double u_y = ws.proposal_squared_norm(c) / two_sigma2 - beta * ws.proposal_f(c);
        ws.log_acceptance(c) = u_x - u_y + (forward - backward) / two_eps2;
      });
      for (Index c = 0; c < n; ++c) {
        if (uniform01(engine) < std::exp(std::min(0.0, ws.log_acceptance(c)))) {
          detail::copy_chain(ws.proposal, ws.chains, c);
          detail::copy_chain(ws.proposal_gradient, ws.gradient, c);
          ws.f(c) = ws.proposal_f(c);
          ws.squared_norm(c) = ws.proposal_squared_norm(c);
          ++accepted;
        }
      }
      proposed += n;
    }
  }

  // Ẑ_r, Ẑ = mean_r Ẑ_r, the spread of Ẑ_r / Ẑ, and the effective sample size.
  const Index R = options.runs, per = options.chains;
  if (ws.run_log_z.size() != R) ws.run_log_z.resize(R);
  for (Index r = 0; r < R; ++r)
    ws.run_log_z(r) = detail::log_sum_exp(ws.log_weights, r * per, per) - std::log(static_cast<double>(per));
  LogPartitionEstimate e;
  e.log_z = detail::log_sum_exp(ws.run_log_z, 0, R) - std::log(static_cast<double>(R));
  double var = 0;
  for (Index r = 0; r < R; ++r) {
    const double d = std::exp(ws.run_log_z(r) - e.log_z) - 1.0;  // Ẑ_r / Ẑ − 1 (its mean is 0)
    var += d * d;
  }
  e.standard_error = std::sqrt(var / static_cast<double>(R - 1) / static_cast<double>(R));
  const double top = ws.log_weights.maxCoeff();
  double sum = 0, sum2 = 0;
  for (Index c = 0; c < n; ++c) {
    const double w = std::exp(ws.log_weights(c) - top);
    sum += w;
    sum2 += w * w;
  }
  e.effective_sample_size = sum * sum / sum2;
  e.chains = n;
  e.acceptance_rate = proposed > 0 ? static_cast<double>(accepted) / static_cast<double>(proposed) : 1.0;
  return e;
}

/// The same with a temporary workspace (allocates on every call).
template <class Model, class Engine>
LogPartitionEstimate estimate_log_partition(const Model& model, const LogPartitionOptions& options, Engine& engine) {
  LogPartitionWorkspace<typename Model::Scalar> ws;
  return estimate_log_partition(model, options, engine, ws);
}

/// log p(I_n; w) = f(I_n; w) + log q(I_n) − log Z(w) per image (eq. 3.1), with
/// log q(I) = −‖I‖²/(2σ²) − (D/2) log(2πσ²), D = pixels × channels, and log Z from estimate_log_partition
/// (same convention: Z = E_q[exp f]). In nats; divide by D·log 2 for bits per dimension.
/// requires: images of the model's input shape; finite log_z; σ > 0.
/// throws: Error otherwise (the model's own message for the images).
template <class Model>
Vector<double> log_likelihood(const Model& model, const Batch<typename Model::Scalar>& images, double log_z,
                              double reference_sigma = 1.0) {
  detail::check(std::isfinite(log_z) && reference_sigma > 0 && std::isfinite(reference_sigma), "log_likelihood",
                "arguments 'log_z' (", log_z, ") and 'reference_sigma' (", reference_sigma,
                ") must be finite, and reference_sigma > 0");
  const Vector<double> f = model.score(images).template cast<double>();
  const double D = static_cast<double>(shape_of(images).size());
  const double pi = 3.14159265358979323846;
  const double log_norm = 0.5 * D * std::log(2.0 * pi * reference_sigma * reference_sigma);
  const Vector<double> sq = as_columns(images).template cast<double>().colwise().squaredNorm().transpose();
  return ((f - sq / (2.0 * reference_sigma * reference_sigma)).array() - log_norm - log_z).matrix();
}

}  // namespace gconvnet
