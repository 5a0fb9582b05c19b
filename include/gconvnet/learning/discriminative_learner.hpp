// gconvnet/learning/discriminative_learner.hpp — the discriminative ConvNet (Def. 1, eq. 2.3) learned by
// softmax cross-entropy over labelled images, optionally with Gaussian white noise as a base category
// (Prop. 1(b)).
//
//   L(w, b) = (1/N) Σ_n log p(y_n | I_n; w),  p(c | I) = softmax over the logits f_c(I) + b_c
//   ∂L/∂(f_c(I_n) + b_c) = (1[y_n = c] − p(c | I_n)) / N                                 (gradient ascent)
// With options.noise_base the softmax has one more category, the base, of logit 0 (f ≡ 0, b ≡ 0), and
// every iteration adds noise_images fresh draws from q = N(0, σ²) labelled base. The learned classifier
// is then a set of generative ConvNets p_c ∝ exp(f_c) q (Prop. 1(b)) with
//   log Z_c = log(ρ_c / ρ_base) − b_c                  (model/category_model.hpp derives the sign)
// where ρ are the class proportions the objective sees: log_prior_ratios().
//
//   CategoryModel model(DynamicModel<float>(shape, parse_layers<float>("conv:16:5,relu,fc:8,relu")), 2);
//   initialize_normal(model, engine, 0.05);
//   DiscriminativeLearner learner(model, images, labels, DiscriminativeOptions{}, seed);
//   for (int t = 0; t < 500; ++t) learner.step();
//   langevin(model.category(0), chains, LangevinOptions{}, engine);   // Prop. 1(b): sample category 0
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/learning/optimizer.hpp"
#include "gconvnet/learning/options.hpp"
#include "gconvnet/model/activation_pattern.hpp"
#include "gconvnet/model/category_model.hpp"
#include "gconvnet/sampling/random.hpp"

namespace gconvnet {

/// Adam at η = 1e-3 without the generative learners' release-code preprocessing: no weight decay, no
/// division by map size, no cap, bias rate ×1 — the usual setting for a softmax classifier.
inline OptimizerOptions discriminative_optimizer_options() {
  OptimizerOptions o;
  o.method = OptimizerOptions::Method::adam;
  o.learning_rate = 1e-3;
  o.weight_decay = 0;
  o.bias_learning_rate_multiplier = 1;
  o.normalize_by_map_size = false;
  o.gradient_cap = 0;
  return o;
}

/// Settings of DiscriminativeLearner.
struct DiscriminativeOptions {
  bool noise_base = true;        ///< Prop. 1(b): white noise from q as a base category (logit 0)
  Index noise_images = 0;        ///< base images drawn per iteration, ≥ 0 (0: as many as labelled images)
  Index batch_size = 0;          ///< labelled images per iteration (0: all of them; else an epoch-shuffled slice)
  double reference_sigma = 1.0;  ///< σ > 0 of q = N(0, σ²), for the noise images
  OptimizerOptions optimizer = discriminative_optimizer_options();
};

/// What one iteration of DiscriminativeLearner reports (parameters before the update).
struct DiscriminativeStats {
  Index iteration = 0;        ///< 0-based index of the iteration just done
  double log_likelihood = 0;  ///< L of the iteration's batch (labelled and noise images), nats per image
  double accuracy = 0;        ///< labelled images whose largest f_c + b_c is their category's
  double base_accuracy = 0;   ///< noise images whose logits are all below 0 (classified base); 0 without base
  double gradient_norm = 0;   ///< ‖∂L/∂(w, b)‖ before the optimizer's preprocessing
  double learning_rate = 0;   ///< η of the iteration
  double seconds = 0;         ///< wall time of the iteration
};

/// Everything a DiscriminativeLearner needs to continue bit for bit (the generative learners'
/// LearnerState, learning/learner_state.hpp, without chains and stage, with the epoch): the parameters,
/// the optimizer's state, the engine, the iteration, η and the epoch's order of the labelled images.
/// Values, copyable; restore() checks that one fits.
template <class S>
struct DiscriminativeLearnerState {
  using Scalar = S;
  std::vector<Vector<S>> weights;        ///< model.parameters(), block by block (trunk, heads, category_bias)
  OptimizerState<S> optimizer;           ///< moments and step counts, block for block like weights
  std::mt19937_64 engine;
  Index iteration = 0;
  double learning_rate = 0;              ///< the base η (set_learning_rate)
  std::vector<Index> order;              ///< the epoch's permutation of the labelled images (empty for full batches)
  Index cursor = 0;                      ///< next position in `order`
};

/// Buffers of discriminative_log_likelihood (reused: nothing allocated after the first call).
template <class S>
struct DiscriminativeWorkspace {
  Matrix<S> scores;   ///< f_c(I_n), C × N, of the last call
  Matrix<S> weights;  ///< ∂L/∂(f_c(I_n) + b_c), C × N
};

/// L = (1/N) Σ_n log p(y_n | I_n; w) of Def. 1 (with noise_base: softmax over the C categories and the
/// base, logit 0), and, when `gradient` is not null, gradient += ∂L/∂(w, b), blocks as model.parameters().
/// labels: 0..C−1 the categories, C the base (only with noise_base).
/// requires: images of the model's input shape; one label per image. throws: Error otherwise (and as
///           CategoryModel::accumulate_logit_gradient for a gradient of another layout).
template <class Base>
double discriminative_log_likelihood(const CategoryModel<Base>& model, const Batch<typename Base::Scalar>& images,
                                     const std::vector<Index>& labels, bool noise_base,
                                     Gradients<typename Base::Scalar>* gradient,
                                     DiscriminativeWorkspace<typename Base::Scalar>& ws) {
  using S = typename Base::Scalar;
  const Index C = model.categories(), N = batch_size(images), top = C + (noise_base ? 1 : 0);
  bool ok = static_cast<Index>(labels.size()) == N;
  for (std::size_t i = 0; ok && i < labels.size(); ++i) ok = labels[i] >= 0 && labels[i] < top;
  detail::check(ok, "discriminative_log_likelihood", "argument 'labels' has ", labels.size(),
                " labels, expected one per image (", N, ") in 0..", top - 1,
                noise_base ? " (the last is the base category)" : "");
  const auto b = model.biases();
  double total = 0;
  auto weigh = [&](const Matrix<S>& f, Matrix<S>& r) {
    r.resize(C, N);
    total = 0;
    for (Index n = 0; n < N; ++n) {
      double peak = noise_base ? 0.0 : -std::numeric_limits<double>::infinity();
      for (Index c = 0; c < C; ++c) peak = std::max(peak, static_cast<double>(f(c, n)) + static_cast<double>(b(c)));
      double sum = noise_base ? std::exp(-peak) : 0.0;
      for (Index c = 0; c < C; ++c) sum += std::exp(static_cast<double>(f(c, n)) + static_cast<double>(b(c)) - peak);
      const double lse = peak + std::log(sum);
      const Index y = labels[static_cast<std::size_t>(n)];
      total += (y < C ? static_cast<double>(f(y, n)) + static_cast<double>(b(y)) : 0.0) - lse;
      for (Index c = 0; c < C; ++c) {
        const double p = std::exp(static_cast<double>(f(c, n)) + static_cast<double>(b(c)) - lse);
        r(c, n) = static_cast<S>(((y == c ? 1.0 : 0.0) - p) / static_cast<double>(N));
      }
    }
  };
  if (gradient) {
    model.accumulate_logit_gradient(images, ws.scores, ws.weights, weigh, *gradient);
  } else {
    model.scores(images, ws.scores);
    weigh(ws.scores, ws.weights);
  }
  return total / static_cast<double>(N);
}

/// The same with temporary buffers.
template <class Base>
double discriminative_log_likelihood(const CategoryModel<Base>& model, const Batch<typename Base::Scalar>& images,
                                     const std::vector<Index>& labels, bool noise_base,
                                     Gradients<typename Base::Scalar>* gradient = nullptr) {
  DiscriminativeWorkspace<typename Base::Scalar> ws;
  return discriminative_log_likelihood(model, images, labels, noise_base, gradient, ws);
}

/// What this object represents: gradient ascent on L (see the file comment) for a CategoryModel — its
/// trunk, heads and biases — over labelled images, with fresh white-noise images as the base category
/// when options.noise_base. It does not own the model (the model must outlive it; initialise its
/// weights before the first step). It owns a std::mt19937_64 seeded with `seed` (epoch shuffles and
/// noise images), so the same model, data, options, seed and thread count give bit-identical weights.
template <class Base>
class DiscriminativeLearner {
public:
  using Model = CategoryModel<Base>;
  using ModelType = Model;
  using Scalar = typename Base::Scalar;
  using Engine = std::mt19937_64;
  using State = DiscriminativeLearnerState<Scalar>;
  using Callback = std::function<void(const DiscriminativeStats&)>;

  /// images: N ≥ 1 labelled images of the model's input shape (mean-subtracted like the noise's q);
  /// labels: one per image in 0..C−1. The learner copies both.
  /// throws: Error on a shape or label mismatch, NaN/Inf in the images, or an option out of range.
  DiscriminativeLearner(Model& model, const Batch<Scalar>& images, std::vector<Index> labels,
                        const DiscriminativeOptions& options, std::uint64_t seed)
      : model_(&model), images_(images), labels_(std::move(labels)), options_(checked(options)), engine_(seed),
        optimizer_(options.optimizer), learning_rate_(options.optimizer.learning_rate) {
    const char* fn = "DiscriminativeLearner::DiscriminativeLearner";
    const Index N = batch_size(images_), C = model.categories();
    detail::check(shape_of(images_) == model.input_shape() && N >= 1, fn, "argument 'images' has shape ",
                  to_string(shape_of(images_)), "x", N, ", expected ", to_string(model.input_shape()),
                  "xN with N >= 1 (the model's input shape)");
    detail::check(all_finite(images_), fn, "argument 'images' holds NaN or Inf");
    bool ok = static_cast<Index>(labels_.size()) == N;
    for (std::size_t i = 0; ok && i < labels_.size(); ++i) ok = labels_[i] >= 0 && labels_[i] < C;
    detail::check(ok, fn, "argument 'labels' has ", labels_.size(), " labels, expected one per image (", N,
                  ") in 0..", C - 1, " (the model's categories)");
    detail::check(options_.batch_size <= N, fn, "argument 'options.batch_size' is ", options_.batch_size,
                  ", expected 0 (all) to ", N, " (the labelled images)");
    detail::check(options_.noise_base || C >= 2, fn,
                  "the model has one category and options.noise_base is false: there is nothing to discriminate");
    const auto params = model.parameters();
    optimizer_.reset(params);
    gradient_ = model.zero_gradients();
    for (const auto& p : params) {
      map_sizes_.push_back(static_cast<double>(model.output_shape(p.layer).pixels()));
      trainable_.push_back(1);
    }
    const Index B = options_.batch_size > 0 ? options_.batch_size : N;
    const Index M = options_.noise_base ? (options_.noise_images > 0 ? options_.noise_images : B) : 0;
    batch_ = make_batch<Scalar>(model.input_shape(), B + M);
    batch_labels_.assign(static_cast<std::size_t>(B + M), C);
    if (options_.batch_size > 0) {
      order_.resize(static_cast<std::size_t>(N));
      shuffle();
    }
  }

  /// One iteration: a batch (all labelled images, or the next slice of the epoch's shuffle, plus the
  /// noise images), L and its gradient, an ascent step through the Optimizer.
  /// throws: NumericalError (the divergence guard) when the parameters hold NaN or Inf before the
  ///         iteration, or L, its gradient or the updated parameters become NaN or Inf. The learner is
  ///         then exactly as before the call (parameters, optimizer, engine, epoch, iteration), and no
  ///         callback is made.
  DiscriminativeStats step() {
    const auto start = std::chrono::steady_clock::now();
    Model& model = *model_;
    const auto params = model.parameters();
    for (const auto& p : params)
      if (!p.vector().allFinite())
        throw NumericalError(detail::concat(where(), "the parameter block ", p.name,
                                            " holds NaN or Inf before the iteration (set outside the learner, or "
                                            "loaded so); nothing was changed"));
    save(params);

    // the batch: labelled images, then noise from q labelled base (C)
    const Index N = batch_size(images_), D = model.input_shape().size();
    const Index B = options_.batch_size > 0 ? options_.batch_size : N;
    const Index total = batch_size(batch_);
    auto cols = as_columns(batch_);
    const auto from = as_columns(images_);
    if (options_.batch_size > 0 && cursor_ + B > N) shuffle();
    for (Index i = 0; i < B; ++i) {
      const Index src = options_.batch_size > 0 ? order_[static_cast<std::size_t>(cursor_ + i)] : i;
      cols.col(i) = from.col(src);
      batch_labels_[static_cast<std::size_t>(i)] = labels_[static_cast<std::size_t>(src)];
    }
    if (options_.batch_size > 0) cursor_ += B;
    if (total > B) {
      fill_standard_normal(engine_, batch_.data() + B * D, (total - B) * D);
      cols.rightCols(total - B) *= static_cast<Scalar>(options_.reference_sigma);
    }

    DiscriminativeStats stats;
    stats.iteration = iteration_;
    stats.learning_rate = learning_rate();
    gradient_.set_zero();
    stats.log_likelihood =
        discriminative_log_likelihood(model, batch_, batch_labels_, options_.noise_base, &gradient_, ws_);
    stats.gradient_norm = std::sqrt(gradient_.squared_norm());
    if (!std::isfinite(stats.log_likelihood) || !gradient_.all_finite()) {
      restore_saved(params);
      throw NumericalError(detail::concat(where(), "the log-likelihood (", stats.log_likelihood,
                                          ") or its gradient became NaN or Inf; the iteration was undone; try a "
                                          "smaller learning rate"));
    }
    Index right = 0, base_right = 0;
    for (Index n = 0; n < total; ++n) {
      Index best = 0;
      const Scalar top = (ws_.scores.col(n) + model.biases()).maxCoeff(&best);
      if (n < B) right += best == batch_labels_[static_cast<std::size_t>(n)] ? 1 : 0;
      else base_right += top < Scalar(0) ? 1 : 0;
    }
    stats.accuracy = static_cast<double>(right) / static_cast<double>(B);
    stats.base_accuracy = total > B ? static_cast<double>(base_right) / static_cast<double>(total - B) : 0.0;

    update_ = gradient_;
    optimizer_.preprocess(update_, map_sizes_);
    try {
      optimizer_.update(params, update_, stats.learning_rate, trainable_);
    } catch (const NumericalError&) {
      restore_saved(params);
      throw NumericalError(detail::concat(where(), "the parameters became NaN or Inf in the update (learning rate ",
                                          stats.learning_rate, "); the iteration was undone; try a smaller "
                                          "learning rate"));
    }
    ++iteration_;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (callback_) callback_(stats);
    return stats;
  }

  /// Calls `callback(stats)` at the end of every step (an empty function removes it).
  void on_iteration(Callback callback) { callback_ = std::move(callback); }

  /// Iterations done so far.
  Index iteration() const { return iteration_; }
  /// η of the next iteration.
  double learning_rate() const { return learning_rate_; }
  /// Sets η for the following iterations (kept in the state and the checkpoint).
  /// throws: Error when η is not a finite value > 0.
  void set_learning_rate(double eta) {
    detail::check(eta > 0 && std::isfinite(eta), "DiscriminativeLearner::set_learning_rate", "argument 'eta' is ",
                  eta, ", expected a finite value > 0");
    learning_rate_ = eta;
  }

  /// log(ρ_c / ρ_base) for every category: the proportion of category c's labelled images among the
  /// images of an iteration (in expectation for slices) over that of the noise images. With the biases
  /// b_c, implied_log_partition(b, log_prior_ratios()) gives log Z_c (Prop. 1(b)); −Inf for a category
  /// without labelled images.
  /// throws: Error without options.noise_base (there is no base category).
  Vector<double> log_prior_ratios() const {
    detail::check(options_.noise_base, "DiscriminativeLearner::log_prior_ratios",
                  "the learner has no base category (options.noise_base is false)");
    const Index N = batch_size(images_), C = model_->categories();
    const double B = static_cast<double>(options_.batch_size > 0 ? options_.batch_size : N);
    const double M = static_cast<double>(batch_size(batch_)) - B;
    Vector<double> counts = Vector<double>::Zero(C);
    for (Index y : labels_) counts(y) += 1;
    return (counts.array() * (B / static_cast<double>(N)) / M).log().matrix();
  }

  /// Everything needed to continue bit for bit (see DiscriminativeLearnerState).
  State state() const {
    State s;
    for (const auto& p : std::as_const(*model_).parameters()) s.weights.push_back(p.vector());
    s.optimizer = optimizer_.state();
    s.engine = engine_;
    s.iteration = iteration_;
    s.learning_rate = learning_rate_;
    s.order = order_;
    s.cursor = cursor_;
    return s;
  }
  /// Puts the learner (and its model's parameters) in state `s`.
  /// throws: Error naming what does not fit (block sizes, optimizer kind, order, values); nothing is
  ///         changed then.
  void restore(const State& s) {
    const std::string why = misfit(s);
    if (!why.empty()) detail::fail("DiscriminativeLearner::restore", "argument 'state' does not fit this learner: ", why);
    auto params = model_->parameters();
    for (std::size_t b = 0; b < params.size(); ++b) params[b].vector() = s.weights[b];
    optimizer_.restore(s.optimizer);
    engine_ = s.engine;
    iteration_ = s.iteration;
    learning_rate_ = s.learning_rate;
    order_ = s.order;
    cursor_ = s.cursor;
  }

  Model& model() { return *model_; }
  const Model& model() const { return *model_; }
  const DiscriminativeOptions& options() const { return options_; }
  /// The labelled images and their labels.
  const Batch<Scalar>& images() const { return images_; }
  const std::vector<Index>& labels() const { return labels_; }
  /// ∂L/∂(w, b) of the last step, blocks as model().parameters(), before the optimizer's preprocessing.
  const Gradients<Scalar>& gradient() const { return gradient_; }
  const Optimizer<Scalar>& optimizer() const { return optimizer_; }
  const Engine& engine() const { return engine_; }
  static const char* learner_name() { return "DiscriminativeLearner"; }

private:
  static const DiscriminativeOptions& checked(const DiscriminativeOptions& o) {
    const char* fn = "DiscriminativeLearner::DiscriminativeLearner";
    detail::check(o.noise_images >= 0 && o.batch_size >= 0, fn, "arguments 'options.noise_images' (",
                  o.noise_images, ") and 'options.batch_size' (", o.batch_size, ") must be >= 0");
    detail::check(o.reference_sigma > 0 && std::isfinite(o.reference_sigma), fn,
                  "argument 'options.reference_sigma' is ", o.reference_sigma, ", expected a finite value > 0");
    detail::check_optimizer_options(o.optimizer, fn);
    return o;
  }

  std::string where() const { return detail::concat("DiscriminativeLearner::step: iteration ", iteration_, ": "); }

  /// A new epoch: order_ = a permutation of the labelled images (Fisher–Yates from the engine).
  void shuffle() {
    const Index N = static_cast<Index>(order_.size());
    for (Index i = 0; i < N; ++i) order_[static_cast<std::size_t>(i)] = i;
    for (Index i = N - 1; i > 0; --i) {
      const auto j = static_cast<Index>(random_bits64(engine_) % static_cast<std::uint64_t>(i + 1));
      std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
    cursor_ = 0;
  }

  // What an iteration changes, kept to undo it (buffers reused from step to step).
  void save(const std::vector<ParameterRef<Scalar>>& params) {
    saved_.weights.resize(params.size());
    for (std::size_t b = 0; b < params.size(); ++b) saved_.weights[b] = params[b].vector();
    saved_.optimizer = optimizer_.state();
    saved_.engine = engine_;
    saved_.order = order_;
    saved_.cursor = cursor_;
  }
  void restore_saved(const std::vector<ParameterRef<Scalar>>& params) {
    for (std::size_t b = 0; b < params.size(); ++b) params[b].vector() = saved_.weights[b];
    optimizer_.restore(saved_.optimizer);
    engine_ = saved_.engine;
    order_ = saved_.order;
    cursor_ = saved_.cursor;
  }

  /// Why `s` does not fit this learner, or "".
  std::string misfit(const State& s) const {
    const auto params = std::as_const(*model_).parameters();
    const std::size_t nb = params.size();
    const bool adam = optimizer_.options().method == OptimizerOptions::Method::adam;
    const auto& o = s.optimizer;
    if (s.weights.size() != nb || o.first_moment.size() != nb || o.steps.size() != nb ||
        o.second_moment.size() != (adam ? nb : 0))
      return detail::concat("it has ", s.weights.size(), " parameter blocks, ", o.first_moment.size(), " and ",
                            o.second_moment.size(), " optimizer moments, ", o.steps.size(),
                            " step counts; expected ", nb, ", ", nb, " and ", adam ? nb : 0, ", ", nb,
                            " (the model's parameters, ", adam ? "Adam" : "SGD", ")");
    for (std::size_t b = 0; b < nb; ++b) {
      const Index size = params[b].size();
      if (s.weights[b].size() != size || o.first_moment[b].size() != size ||
          (adam && o.second_moment[b].size() != size))
        return detail::concat("block ", params[b].name, " has ", s.weights[b].size(), " values, expected ", size);
      if (!s.weights[b].allFinite() || !o.first_moment[b].allFinite() ||
          (adam && (!o.second_moment[b].allFinite() || (o.second_moment[b].array() < Scalar(0)).any())))
        return detail::concat("block ", params[b].name, " holds NaN, Inf or a negative second moment");
      if (o.steps[b] < 0) return detail::concat("block ", params[b].name, " has a negative step count");
    }
    if (s.iteration < 0) return detail::concat("its iteration is ", s.iteration, ", expected >= 0");
    if (!(s.learning_rate > 0 && std::isfinite(s.learning_rate)))
      return detail::concat("its learning rate is ", s.learning_rate, ", expected a finite value > 0");
    const std::size_t N = static_cast<std::size_t>(batch_size(images_));
    if (options_.batch_size == 0) {
      if (!s.order.empty() || s.cursor != 0)
        return detail::concat("it holds an epoch order of ", s.order.size(), " images (cursor ", s.cursor,
                              "), this learner uses full batches");
      return "";
    }
    std::vector<char> seen(N, 0);
    bool permutation = s.order.size() == N;
    for (std::size_t i = 0; permutation && i < N; ++i) {
      const Index v = s.order[i];
      permutation = v >= 0 && static_cast<std::size_t>(v) < N && !seen[static_cast<std::size_t>(v)];
      if (permutation) seen[static_cast<std::size_t>(v)] = 1;
    }
    if (!permutation)
      return detail::concat("its epoch order is not a permutation of the ", N, " labelled images");
    if (s.cursor < 0 || s.cursor > static_cast<Index>(N))
      return detail::concat("its cursor is ", s.cursor, ", expected 0..", N);
    return "";
  }

  Model* model_;
  Batch<Scalar> images_;
  std::vector<Index> labels_;
  DiscriminativeOptions options_;
  Engine engine_;
  Optimizer<Scalar> optimizer_;
  double learning_rate_;
  Index iteration_ = 0;
  std::vector<Index> order_;
  Index cursor_ = 0;
  Batch<Scalar> batch_;
  std::vector<Index> batch_labels_;
  Gradients<Scalar> gradient_, update_;
  DiscriminativeWorkspace<Scalar> ws_;
  std::vector<double> map_sizes_;
  std::vector<char> trainable_;
  State saved_;
  Callback callback_;
};

}  // namespace gconvnet
