// gconvnet/model/category_model.hpp — C categories over one ConvNet: the heads of the discriminative
// ConvNet (eq. 2.2, Def. 1) and, per category, the generative ConvNet they define (Def. 2, Prop. 1).
//
//   f_c(I; w) = Σ_k w_{c,k} s_k(I),   s_k(I) = Σ_x [F_k^{(L)} * I](x)                        (eq. 2.2)
//   p(c | I; w) = exp(f_c + b_c) / Σ_c' exp(f_c' + b_c')                                     (eq. 2.3)
//   p_c(I; w) = exp(f_c(I; w)) q(I) / Z_c(w),   Z_c(w) = E_q[exp f_c]                         (eq. 3.1)
//
// Design, and why:
// - One trunk, C linear heads. CategoryModel<Base> owns the trunk (any model: EnergyModel, DynamicModel),
//   the heads (a K × C matrix, column c = w_c, K = channels of the trunk's last layer) and the biases b_c.
//   The heads read the trunk's last layer; the summed top responses s_k of eq. 2.2 are the paper's
//   1×1 top maps in general (a head is a 1×1 convolution without bias, summed over positions).
// - category(c) is a view that satisfies the model concept (model_base.hpp) with score f_c, so langevin,
//   grade_descent, MleLearner, CdLearner, estimate_log_partition, check_model_gradients and io::save_weights
//   take it as they take any model: they sample, descend to the modes of, or learn p_c (eq. 3.1).
// - Theorem 1 holds for f_c: on the piece of δ every s_k is affine in I (Theorem 1 per channel), so is
//   their linear combination: f_c(I) = α_c + ⟨I, B_c⟩, with B_c the top-down pass (eq. 6.7) started at
//   B^(L)_k(x) = w_{c,k} instead of 1 and α_c = Σ_k w_{c,k} α_k (eq. 6.14). ModelBase's readout functions
//   compute exactly that; ∂f_c/∂I = B_c and ∂f_c/∂w follow from the same pass.
// - Layer growing (Sec. 8): a view's head is a parameter block of the trunk's last layer ("layer<L−1>.head").
//   Below full depth the head does not fit the top maps, and the view is the trunk's own model
//   (f = Σ_k s_k, eq. 3.5, head inactive): a learner's stages are the trunk's, the head learns in the last.
// - Shared or separate lower layers: the views of one CategoryModel share its trunk, so learning p_c of one
//   category by MLE moves every category's lower layers (shared); for separate lower layers give each
//   category its own CategoryModel (C = 1) or its own plain model.
// - A view lives inside its CategoryModel (category(c) returns a reference; moving the CategoryModel keeps
//   the views in place) and shares the trunk's buffers: one thread at a time, as any model.
// - Const queries, as every model (model_base.hpp): score, energy, bottom_up, top_down, the gradients,
//   parameters() (read-only), summary, and CategoryModel's scores, posterior, classify are const; they
//   switch the shared trunk's depth and reuse its buffers (the trunk is a mutable member), never the
//   parameters.
// - Prop. 1 in code: bayes_biases gives the classifier of class models with known log Z_c (Prop. 1(a));
//   with the white-noise base category, b_c = log ρ_c − log ρ_base − log Z_c. Derivation (eqs. 3.2–3.3):
//   p(c|I)/p(base|I) = exp(f_c + b_c) (3.2) and = ρ_c p_c(I)/(ρ_base q(I)) (3.3), so
//   p_c(I) = (ρ_base/ρ_c) e^{b_c} exp(f_c(I)) q(I); integrating, 1 = (ρ_base/ρ_c) e^{b_c} Z_c, i.e.
//   b_c = log ρ_c − log ρ_base − log Z_c. The paper's statement of Prop. 1(b) writes + log Z_c; eq. 3.3 gives −.
//   implied_log_partition inverts it: log Z_c = log(ρ_c/ρ_base) − b_c for a classifier trained with the base.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet {

template <class Base>
class CategoryModel;

namespace detail {

// softmax of scores + biases per column into `posterior` (double); see category_posterior.
template <class T>
void category_posterior_into(const Matrix<T>& scores, const Vector<T>& biases, bool noise_base,
                             Matrix<double>& posterior) {
  detail::check(scores.rows() == biases.size() && scores.rows() >= 1, "category_posterior",
                "arguments 'scores' (", scores.rows(), "x", scores.cols(), ") and 'biases' (", biases.size(),
                ") do not fit: expected C x N scores and C biases, C >= 1");
  const Index C = scores.rows(), N = scores.cols(), rows = C + (noise_base ? 1 : 0);
  posterior.resize(rows, N);
  for (Index n = 0; n < N; ++n) {
    double top = noise_base ? 0.0 : -std::numeric_limits<double>::infinity();
    for (Index c = 0; c < C; ++c)
      top = std::max(top, static_cast<double>(scores(c, n)) + static_cast<double>(biases(c)));
    double sum = 0;
    for (Index c = 0; c < C; ++c) {
      posterior(c, n) = std::exp(static_cast<double>(scores(c, n)) + static_cast<double>(biases(c)) - top);
      sum += posterior(c, n);
    }
    if (noise_base) {
      posterior(C, n) = std::exp(-top);
      sum += posterior(C, n);
    }
    posterior.col(n) /= sum;
  }
}

}  // namespace detail

/// What this object represents: category c of a CategoryModel as a model of its own — the generative
/// ConvNet p_c(I; w) ∝ exp(f_c(I; w)) q(I) (eq. 3.1) — with the operations of the model concept
/// (model_base.hpp): score f_c, energy, bottom_up, top_down (B_c, α_c), score_and_gradient, parameter
/// gradient, parameters (the trunk's, then the head w_c as "layer<L−1>.head"), depth, layers.
/// At depth() < num_layers() it is the trunk's own model (f = Σ_k s_k) and the head is inactive.
/// Obtained from CategoryModel::category(c); it refers to its CategoryModel, which must outlive it.
template <class Base>
class CategoryView {
public:
  using Scalar = typename Base::Scalar;
  using S = Scalar;

  static const char* model_name() { return "CategoryView"; }
  /// The category c of this view.
  Index category() const { return c_; }
  /// True at full depth, where the score is f_c; below it the score is the trunk's f.
  bool head_active() const { return depth_ == trunk().num_layers(); }

  // --- shapes and layers (the trunk's) --------------------------------------------------------------
  const Shape& input_shape() const { return trunk().input_shape(); }
  const Shape& output_shape(Index l) const { return trunk().output_shape(l); }
  const Shape& top_shape() const { return trunk().output_shape(depth_ - 1); }
  Index num_layers() const { return trunk().num_layers(); }
  Index depth() const { return depth_; }
  /// Activates the first `depth` layers of the trunk (the head only at full depth).
  /// throws: Error from the trunk's set_depth when depth is outside 1..num_layers().
  void set_depth(Index depth) {
    trunk().set_depth(depth);
    depth_ = depth;
    ones_ = Matrix<S>::Ones(top_shape().channels, 1);
  }

  template <class F>
  void for_each_layer(F&& f) {
    sync();
    trunk().for_each_layer(f);
  }
  template <class F>
  void for_each_layer(F&& f) const {
    sync();
    std::as_const(trunk()).for_each_layer(f);
  }
  template <class F>
  void for_each_layer_reverse(F&& f) {
    sync();
    trunk().for_each_layer_reverse(f);
  }
  template <class F>
  void for_each_layer_reverse(F&& f) const {
    sync();
    std::as_const(trunk()).for_each_layer_reverse(f);
  }
  template <class F>
  void for_each_layer_all(F&& f) {
    trunk().for_each_layer_all(f);
  }
  template <class F>
  void for_each_layer_all(F&& f) const {
    std::as_const(trunk()).for_each_layer_all(f);
  }

  // --- score and energy -----------------------------------------------------------------------------

  /// f_c(I_n; w) for every image of the batch (eq. 2.2; the trunk's f below full depth).
  Vector<S> score(const Batch<S>& x) const {
    Vector<S> out;
    score(x, out);
    return out;
  }
  void score(const Batch<S>& x, Vector<S>& out) const {
    sync();
    trunk().top_channel_sums(x, sums_);
    out.noalias() = sums_.transpose() * readout();
  }
  S score(const Image<S>& x) const { return score(as_batch(x))(0); }

  /// U_c(I_n) = ‖I_n‖²/(2σ²) − f_c(I_n). throws: Error when σ is not a finite value > 0.
  Vector<S> energy(const Batch<S>& x, S reference_sigma) const {
    detail::check(reference_sigma > S(0) && std::isfinite(static_cast<double>(reference_sigma)),
                  "CategoryView::energy", "argument 'reference_sigma' is ", reference_sigma,
                  ", expected a finite value > 0");
    Vector<S> f;
    score(x, f);
    return as_columns(x).colwise().squaredNorm().transpose() / (S(2) * reference_sigma * reference_sigma) - f;
  }
  S energy(const Image<S>& x, S reference_sigma) const { return energy(as_batch(x), reference_sigma)(0); }

  // --- representational structure -------------------------------------------------------------------

  /// δ(I_n; w): the trunk's activation pattern (the head is linear and adds none).
  ActivationPattern<S> bottom_up(const Batch<S>& x) const {
    sync();
    return trunk().bottom_up(x);
  }
  void bottom_up(const Batch<S>& x, ActivationPattern<S>& pattern) const {
    sync();
    trunk().bottom_up(x, pattern);
  }
  /// B_c and α_c of the pattern: f_c(I) = α_c + ⟨I, B_c⟩ on its pieces (Theorem 1 for f_c).
  /// throws: Error when the pattern was computed by another model, depth or shape.
  Reconstruction<S> top_down(const ActivationPattern<S>& pattern) const {
    Reconstruction<S> r;
    top_down(pattern, r);
    return r;
  }
  void top_down(const ActivationPattern<S>& pattern, Reconstruction<S>& r) const {
    sync();
    trunk().top_down(pattern, readout(), r);
  }

  /// Hot path: f_c(I_n) into `scores` and ∂f_c/∂I_n = B_c into `gradient`; the pattern in last_pattern().
  void score_and_gradient(const Batch<S>& x, Vector<S>& scores, Batch<S>& gradient) const {
    score(x, scores);
    trunk().readout_gradient(readout(), gradient);
  }
  /// ∂f_c/∂I for one image.
  Image<S> image_gradient(const Image<S>& x) const {
    Vector<S> s;
    Batch<S> g;
    score_and_gradient(as_batch(x), s, g);
    return image_of(g, 0);
  }
  /// The pattern of the trunk's last forward pass.
  const ActivationPattern<S>& last_pattern() const { return trunk().last_pattern(); }

  /// g += scale · Σ_n ∂f_c(I_n; w)/∂w, blocks as in parameters() (trunk, then head; inactive ones untouched).
  /// throws: Error when `g` is not shaped like zero_gradients(), or as score().
  void accumulate_parameter_gradient(const Batch<S>& x, Gradients<S>& g, S scale = S(1)) const {
    Vector<S> scores;
    accumulate_parameter_gradient(x, g, scale, scores);
  }
  /// The same, and f_c(I_n) into `scores` from the same forward pass.
  void accumulate_parameter_gradient(const Batch<S>& x, Gradients<S>& g, S scale, Vector<S>& scores) const {
    const std::size_t blocks = static_cast<std::size_t>(owner_->trunk_blocks_);
    detail::check(g.blocks.size() == blocks + 1 && g.blocks.back().size() == owner_->head_size(),
                  "CategoryView::accumulate_parameter_gradient", "argument 'gradients' has ", g.blocks.size(),
                  " blocks, expected ", blocks + 1, " (the trunk's, then the head of ", owner_->head_size(),
                  "); make it with zero_gradients()");
    score(x, scores);
    trunk().accumulate_readout_gradient(readout(), g, scale);
    if (head_active()) g.blocks.back().noalias() += scale * sums_.rowwise().sum();
  }

  // --- parameters -----------------------------------------------------------------------------------

  /// The trunk's parameters, then this category's head w_c ("layer<L−1>.head", K values, layer L−1).
  std::vector<ParameterRef<S>> parameters() {
    auto p = trunk().parameters();
    const Index top = trunk().num_layers() - 1;
    ParameterRef<S> head{"layer" + std::to_string(top) + ".head", owner_->heads_.col(c_).data(),
                         {owner_->head_size()}, false, top};
    p.push_back(std::move(head));
    return p;
  }
  /// The same, read-only.
  std::vector<ParameterRef<const S>> parameters() const {
    auto p = std::as_const(trunk()).parameters();
    const Index top = trunk().num_layers() - 1;
    p.push_back(ParameterRef<const S>{"layer" + std::to_string(top) + ".head", owner_->heads_.col(c_).data(),
                                      {owner_->head_size()}, false, top});
    return p;
  }
  Gradients<S> zero_gradients() const {
    Gradients<S> g = trunk().zero_gradients();
    g.blocks.push_back(Vector<S>::Zero(owner_->head_size()));
    return g;
  }
  Index num_parameters() const { return trunk().num_parameters() + owner_->head_size(); }
  /// Multiply-accumulates of one bottom-up pass over one image (trunk, and the head at full depth).
  Index macs() const {
    sync();
    return trunk().macs() + (head_active() ? top_shape().size() : 0);
  }
  /// The trunk's table, and the head.
  std::string summary() const {
    sync();
    return "category " + std::to_string(c_) + " of " + std::to_string(owner_->categories()) + ": " +
           trunk().summary() + "head w_" + std::to_string(c_) + ": " + std::to_string(owner_->head_size()) +
           " weights on layer " + std::to_string(trunk().num_layers() - 1) +
           (head_active() ? "" : " (inactive below full depth)") + "\n";
  }

private:
  friend class CategoryModel<Base>;
  CategoryView(CategoryModel<Base>* owner, Index c) : owner_(owner), c_(c) { set_depth(trunk().num_layers()); }

  // The shared trunk, its depth and buffers switched by the const queries too (as a model's own
  // buffers are mutable); its parameters change only through the non-const members.
  Base& trunk() const { return owner_->trunk_; }
  /// The trunk at this view's depth (views and the CategoryModel share it; set_depth only on change).
  void sync() const {
    if (trunk().depth() != depth_) trunk().set_depth(depth_);
  }
  /// w_c at full depth, 1 (f itself) below it.
  Eigen::Map<const Matrix<S>> readout() const {
    if (head_active()) return Eigen::Map<const Matrix<S>>(owner_->heads_.col(c_).data(), owner_->head_size(), 1);
    return Eigen::Map<const Matrix<S>>(ones_.data(), ones_.rows(), 1);
  }

  CategoryModel<Base>* owner_;
  Index c_;
  Index depth_ = 0;
  Matrix<S> ones_;
  mutable Matrix<S> sums_;  // s_k(I_n) of the last score (a work buffer of the const queries)
};

/// What this object represents: the discriminative ConvNet of Def. 1 — a trunk ConvNet, C linear heads
/// w_c over its last layer (eq. 2.2) and biases b_c — and the C generative ConvNets p_c ∝ exp(f_c) q
/// (eq. 3.1) it defines, each as a model of its own through category(c). See the file comment.
///
///   CategoryModel model(DynamicModel<float>(Shape{1, 32, 32}, parse_layers<float>("conv:16:5,relu,fc:8,relu")), 2);
///   initialize_normal(model, engine, 0.01);               // trunk, heads (weights) and biases
///   langevin(model.category(1), chains, options, engine); // samples p_1
///
/// requires: categories ≥ 1. ensures: heads and biases zero (f_c ≡ 0); the trunk at full depth.
/// throws: Error when categories < 1.
/// Also a model for io::save_weights / load_weights and initialize_normal: parameters() are the trunk's,
/// then "heads" (K × C) and "category_bias" (C), the depth is always the full one.
template <class Base>
class CategoryModel {
public:
  using Scalar = typename Base::Scalar;
  using S = Scalar;
  using View = CategoryView<Base>;

  CategoryModel(Base trunk, Index categories) : trunk_(std::move(trunk)) {
    detail::check(categories >= 1, "CategoryModel::CategoryModel", "argument 'categories' is ", categories,
                  ", expected >= 1");
    trunk_.set_depth(trunk_.num_layers());
    trunk_blocks_ = static_cast<Index>(trunk_.parameters().size());
    heads_ = Matrix<S>::Zero(trunk_.output_shape(trunk_.num_layers() - 1).channels, categories);
    biases_ = Vector<S>::Zero(categories);
    make_views();
  }
  CategoryModel(const CategoryModel& other)
      : trunk_(other.trunk_), heads_(other.heads_), biases_(other.biases_), trunk_blocks_(other.trunk_blocks_) {
    make_views();
  }
  CategoryModel(CategoryModel&& other) noexcept
      : trunk_(std::move(other.trunk_)), heads_(std::move(other.heads_)), biases_(std::move(other.biases_)),
        trunk_blocks_(other.trunk_blocks_), views_(std::move(other.views_)) {
    for (auto& v : views_) v->owner_ = this;
  }
  CategoryModel& operator=(const CategoryModel& other) {
    if (this != &other) {
      trunk_ = other.trunk_;
      heads_ = other.heads_;
      biases_ = other.biases_;
      trunk_blocks_ = other.trunk_blocks_;
      if (static_cast<Index>(views_.size()) == categories())
        for (auto& v : views_) v->set_depth(trunk_.num_layers());  // the same views, now of the copy
      else
        make_views();
    }
    return *this;
  }
  CategoryModel& operator=(CategoryModel&& other) noexcept {
    if (this != &other) {
      trunk_ = std::move(other.trunk_);
      heads_ = std::move(other.heads_);
      biases_ = std::move(other.biases_);
      trunk_blocks_ = other.trunk_blocks_;
      views_ = std::move(other.views_);
      for (auto& v : views_) v->owner_ = this;
    }
    return *this;
  }

  static const char* model_name() { return "CategoryModel"; }

  /// The shared ConvNet (its depth may be changed by the views; CategoryModel's own functions use the full depth).
  Base& trunk() { return trunk_; }
  const Base& trunk() const { return trunk_; }
  /// C, the number of categories (heads).
  Index categories() const { return heads_.cols(); }
  /// K, the channels of the trunk's last layer: the length of every head.
  Index head_size() const { return heads_.rows(); }
  /// The heads, K × C: column c is w_c of eq. 2.2.
  Eigen::Map<Matrix<S>> heads() { return Eigen::Map<Matrix<S>>(heads_.data(), heads_.rows(), heads_.cols()); }
  Eigen::Map<const Matrix<S>> heads() const {
    return Eigen::Map<const Matrix<S>>(heads_.data(), heads_.rows(), heads_.cols());
  }
  /// The biases b_c of eq. 2.3.
  Eigen::Map<Vector<S>> biases() { return Eigen::Map<Vector<S>>(biases_.data(), biases_.size()); }
  Eigen::Map<const Vector<S>> biases() const { return Eigen::Map<const Vector<S>>(biases_.data(), biases_.size()); }

  /// Category c as a model of its own (see CategoryView). throws: Error when c is outside 0..C−1.
  View& category(Index c) { return view(c); }
  const View& category(Index c) const { return view(c); }

  // --- the model concept, as far as io::save_weights / load_weights and initialize_normal need it ----
  const Shape& input_shape() const { return trunk_.input_shape(); }
  const Shape& output_shape(Index l) const { return trunk_.output_shape(l); }
  Index num_layers() const { return trunk_.num_layers(); }
  /// Always num_layers(): the heads read the last layer.
  Index depth() const { return trunk_.num_layers(); }
  /// Accepts the full depth only (what load_weights sets). throws: Error for any other depth.
  void set_depth(Index depth) {
    detail::check(depth == num_layers(), "CategoryModel::set_depth", "argument 'depth' is ", depth, ", expected ",
                  num_layers(), " (the heads read the last layer; use category(c).set_depth to grow a category)");
  }
  template <class F>
  void for_each_layer_all(F&& f) {
    trunk_.for_each_layer_all(f);
  }
  template <class F>
  void for_each_layer_all(F&& f) const {
    std::as_const(trunk_).for_each_layer_all(f);
  }
  /// The trunk's parameters, then "heads" (K × C, ColMajor: dims {K, C}) and "category_bias" (C).
  std::vector<ParameterRef<S>> parameters() {
    auto p = trunk_.parameters();
    const Index top = num_layers() - 1;
    p.push_back(ParameterRef<S>{"heads", heads_.data(), {head_size(), categories()}, false, top});
    p.push_back(ParameterRef<S>{"category_bias", biases_.data(), {categories()}, true, top});
    return p;
  }
  /// The same, read-only.
  std::vector<ParameterRef<const S>> parameters() const {
    auto p = std::as_const(trunk_).parameters();
    const Index top = num_layers() - 1;
    p.push_back(ParameterRef<const S>{"heads", heads_.data(), {head_size(), categories()}, false, top});
    p.push_back(ParameterRef<const S>{"category_bias", biases_.data(), {categories()}, true, top});
    return p;
  }
  Gradients<S> zero_gradients() const {
    Gradients<S> g = trunk_.zero_gradients();
    g.blocks.push_back(Vector<S>::Zero(heads_.size()));
    g.blocks.push_back(Vector<S>::Zero(biases_.size()));
    return g;
  }
  Index num_parameters() const { return trunk_.num_parameters() + heads_.size() + biases_.size(); }
  std::string summary() const {
    full_depth();
    return trunk_.summary() + "heads: " + std::to_string(categories()) + " x " + std::to_string(head_size()) +
           " weights on layer " + std::to_string(num_layers() - 1) + ", " + std::to_string(categories()) +
           " biases\n";
  }

  // --- all categories at once (one pass through the trunk) -------------------------------------------

  /// f_c(I_n) for every category and image into `scores` (C × N), from one forward pass.
  /// throws: Error as the trunk's score (images of another shape, empty batch).
  void scores(const Batch<S>& x, Matrix<S>& scores) const {
    full_depth();
    trunk_.top_channel_sums(x, sums_);
    scores.noalias() = heads_.transpose() * sums_;
  }
  Matrix<S> scores(const Batch<S>& x) const {
    Matrix<S> out;
    scores(x, out);
    return out;
  }

  /// p(c | I_n; w) of eq. 2.3 for every image, in double (see category_posterior): C × N, or with
  /// noise_base (C + 1) × N whose last row is the white-noise base category (f ≡ 0, b ≡ 0, Prop. 1(b)).
  Matrix<double> posterior(const Batch<S>& x, bool noise_base) const {
    Matrix<S> f;
    scores(x, f);
    Matrix<double> p;
    detail::category_posterior_into(f, biases_, noise_base, p);
    return p;
  }

  /// argmax_c f_c(I_n) + b_c over the C categories, per image (the base category is not a candidate).
  std::vector<Index> classify(const Batch<S>& x) const {
    Matrix<S> f;
    scores(x, f);
    std::vector<Index> out(static_cast<std::size_t>(f.cols()));
    for (Index n = 0; n < f.cols(); ++n) {
      Index best = 0;
      (f.col(n) + biases_).maxCoeff(&best);
      out[static_cast<std::size_t>(n)] = best;
    }
    return out;
  }

  /// The gradient of weighted logits, for discriminative learning: one forward pass puts
  /// f_c(I_n) into `scores` (C × N); then weigh(scores, weights) fills `weights` (C × N, sized by the
  /// caller or by weigh), and g += Σ_n Σ_c weights(c, n) · ∂(f_c(I_n) + b_c)/∂w over every block of
  /// parameters() (trunk, heads, biases) from one top-down pass.
  /// throws: Error when `g` is not shaped like zero_gradients() or `weights` is not C × N after weigh.
  template <class Weigh>
  void accumulate_logit_gradient(const Batch<S>& x, Matrix<S>& scores, Matrix<S>& weights, Weigh&& weigh,
                                 Gradients<S>& g) const {
    const std::size_t blocks = static_cast<std::size_t>(trunk_blocks_);
    detail::check(g.blocks.size() == blocks + 2 && g.blocks[blocks].size() == heads_.size() &&
                      g.blocks[blocks + 1].size() == biases_.size(),
                  "CategoryModel::accumulate_logit_gradient", "argument 'gradients' has ", g.blocks.size(),
                  " blocks, expected ", blocks + 2, " (the trunk's, heads, category_bias); make it with zero_gradients()");
    this->scores(x, scores);
    weigh(static_cast<const Matrix<S>&>(scores), weights);
    detail::check(weights.rows() == categories() && weights.cols() == scores.cols(),
                  "CategoryModel::accumulate_logit_gradient", "argument 'weigh' left weights of ", weights.rows(), "x",
                  weights.cols(), ", expected ", categories(), "x", scores.cols());
    readout_.noalias() = heads_ * weights;  // ∂/∂s_k(I_n) of Σ_c weights(c, n) f_c(I_n)
    trunk_.accumulate_readout_gradient(readout_, g, S(1));
    Eigen::Map<Matrix<S>> gh(g.blocks[blocks].data(), head_size(), categories());
    gh.noalias() += sums_ * weights.transpose();
    g.blocks[blocks + 1].noalias() += weights.rowwise().sum();
  }

private:
  friend class CategoryView<Base>;

  View& view(Index c) const {
    detail::check(c >= 0 && c < categories(), "CategoryModel::category", "argument 'c' is ", c,
                  ", expected 0..", categories() - 1);
    return *views_[static_cast<std::size_t>(c)];
  }
  void make_views() {
    views_.clear();
    for (Index c = 0; c < categories(); ++c) views_.emplace_back(new View(this, c));
  }
  void full_depth() const {
    if (trunk_.depth() != trunk_.num_layers()) trunk_.set_depth(trunk_.num_layers());
  }

  // mutable: the views switch the trunk's depth (and the const queries back to the full depth), and its
  // buffers are reused; its parameters change only through the non-const members.
  mutable Base trunk_;
  Matrix<S> heads_;
  Vector<S> biases_;
  Index trunk_blocks_ = 0;
  std::vector<std::unique_ptr<View>> views_;
  mutable Matrix<S> sums_;     // s_k(I_n) of the last scores()
  mutable Matrix<S> readout_;  // heads · weights of the last accumulate_logit_gradient
};

/// p(c | I_n) = softmax_c(f_c(I_n) + b_c) (Def. 1, eq. 2.3) per column of `scores` (C × N), in double
/// and stable (the largest logit is subtracted). With noise_base a last row C is the white-noise base
/// category of Prop. 1(b), whose logit is 0 (f ≡ 0, b ≡ 0).
/// requires: C ≥ 1 scores rows, C biases. throws: Error otherwise.
template <class T>
Matrix<double> category_posterior(const Matrix<T>& scores, const Vector<T>& biases, bool noise_base) {
  Matrix<double> p;
  detail::category_posterior_into(scores, biases, noise_base, p);
  return p;
}

/// Prop. 1(a): the biases that make the discriminative ConvNet (eq. 2.3) the Bayes posterior of class
/// models p_c = exp(f_c) q / Z_c with priors ρ_c: b_c = log ρ_c − log Z_c.
/// requires: equal sizes ≥ 1, finite values. throws: Error otherwise.
inline Vector<double> bayes_biases(const Vector<double>& log_priors, const Vector<double>& log_z) {
  detail::check(log_priors.size() == log_z.size() && log_z.size() >= 1 && log_priors.allFinite() && log_z.allFinite(),
                "bayes_biases", "arguments 'log_priors' (", log_priors.size(), " values) and 'log_z' (", log_z.size(),
                " values) must have the same size >= 1 and finite values");
  return log_priors - log_z;
}

/// Prop. 1(b): with the white-noise base category (prior ρ_base, f ≡ 0, b ≡ 0, Z = 1) the biases of the
/// Bayes posterior are b_c = log ρ_c − log ρ_base − log Z_c (derived in the file comment; note the sign).
/// requires: equal sizes ≥ 1, finite values. throws: Error otherwise.
inline Vector<double> bayes_biases(const Vector<double>& log_priors, const Vector<double>& log_z,
                                   double log_prior_base) {
  detail::check(std::isfinite(log_prior_base), "bayes_biases", "argument 'log_prior_base' is ", log_prior_base,
                ", expected a finite value");
  return (bayes_biases(log_priors, log_z).array() - log_prior_base).matrix();
}

/// Prop. 1(b) read backwards: the log Z_c that a classifier trained with the white-noise base category
/// implies for its f_c, log Z_c = log(ρ_c/ρ_base) − b_c, from its biases and log(ρ_c/ρ_base).
/// requires: equal sizes ≥ 1, finite values. throws: Error otherwise.
inline Vector<double> implied_log_partition(const Vector<double>& biases, const Vector<double>& log_prior_ratios) {
  detail::check(biases.size() == log_prior_ratios.size() && biases.size() >= 1 && biases.allFinite() &&
                    log_prior_ratios.allFinite(),
                "implied_log_partition", "arguments 'biases' (", biases.size(), " values) and 'log_prior_ratios' (",
                log_prior_ratios.size(), " values) must have the same size >= 1 and finite values");
  return log_prior_ratios - biases;
}

}  // namespace gconvnet
