// gconvnet/model/model_base.hpp — the algorithms every model shares (the model concept).
//
// A model is a stack of layers, bottom-up, over a fixed input shape. ModelBase implements, once, for
// any Derived that can visit its layers (EnergyModel<Layers...> with a compile-time list,
// DynamicModel<S> with a run-time list):
//   score f(I) (eq. 3.5), energy U(I) = ‖I‖²/(2σ²) − f(I), bottom_up → δ (eq. 6.4),
//   top_down(δ) → B_{w,δ}, α_{w,δ} (eq. 6.7, 6.13–6.14), ∂f/∂I (= B_{w,δ(I)}, Theorem 1), and ∂f/∂w.
// Only the first depth() layers are active: f sums the responses of layer depth()−1. Layer growing
// (Sec. 8) raises the depth of a model declared with all its layers.
// A weighted readout of the top maps, f_a = Σ_k a_k Σ_x [F_k^{(L)} * I](x) (a category's score, eq. 2.2;
// f is a = 1), has the same structure: top_channel_sums, readout_gradient, accumulate_readout_gradient
// and top_down with a readout (model/category_model.hpp builds the category heads on them).
// Buffers live in the model: repeated calls with the same batch size allocate nothing. The queries
// (score, energy, bottom_up, top_down, gradients, summary, …) are const — they never change the
// parameters — but they reuse those buffers (mutable members), so a model is not safe to use from two
// threads at once, const or not; copy it instead.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <iomanip>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/model/activation_pattern.hpp"

namespace gconvnet {

template <class Derived, class S>
class ModelBase {
public:
  using Scalar = S;

  /// Shape of the images the model takes.
  const Shape& input_shape() const { return shapes_.front(); }
  /// Output shape of layer l (0-based).
  const Shape& output_shape(Index l) const { return shapes_.at(static_cast<std::size_t>(l + 1)); }
  /// Shape of the maps whose responses f sums (the output of layer depth()−1).
  const Shape& top_shape() const { return shapes_.at(static_cast<std::size_t>(depth_)); }
  Index num_layers() const { return static_cast<Index>(shapes_.size()) - 1; }
  /// Number of active layers.
  Index depth() const { return depth_; }

  /// Activates the first `depth` layers (1 ≤ depth ≤ num_layers()); throws Error otherwise.
  void set_depth(Index depth) {
    check_argument(depth >= 1 && depth <= num_layers(), "set_depth", "argument 'depth' is ", depth,
                   ", expected 1..", num_layers());
    depth_ = depth;
    pattern_.layers.resize(static_cast<std::size_t>(depth_));
    signature_ = compute_signature();
    forward_done_ = false;
  }

  // --- score and energy -------------------------------------------------------------------------

  /// f(I_n; w) for every image of the batch (eq. 3.5).
  Vector<S> score(const Batch<S>& x) const {
    Vector<S> out;
    score(x, out);
    return out;
  }
  void score(const Batch<S>& x, Vector<S>& out) const {
    forward(x, "score");
    top_sums(out);
  }
  S score(const Image<S>& x) const { return score(as_batch(x))(0); }

  /// U(I_n) = ‖I_n‖²/(2σ²) − f(I_n) for every image; requires σ > 0.
  Vector<S> energy(const Batch<S>& x, S reference_sigma) const {
    check_sigma(reference_sigma, "energy");
    Vector<S> f;
    forward(x, "energy");
    top_sums(f);
    return as_columns(x).colwise().squaredNorm().transpose() / (S(2) * reference_sigma * reference_sigma) - f;
  }
  S energy(const Image<S>& x, S reference_sigma) const { return energy(as_batch(x), reference_sigma)(0); }

  // --- representational structure ---------------------------------------------------------------

  /// The activation pattern δ(I_n; w) of every image, every active layer.
  ActivationPattern<S> bottom_up(const Batch<S>& x) const {
    forward(x, "bottom_up");
    return pattern_;
  }
  /// The same into `pattern` (reuses its memory).
  void bottom_up(const Batch<S>& x, ActivationPattern<S>& pattern) const {
    forward(x, "bottom_up");
    copy_pattern(pattern_, pattern);
  }

  /// B_{w,δ} and α_{w,δ} from the pattern alone (eq. 6.7, 6.13–6.14). Throws Error when the pattern
  /// was computed by another model, depth or input shape.
  Reconstruction<S> top_down(const ActivationPattern<S>& pattern) const {
    Reconstruction<S> r;
    top_down(pattern, r);
    return r;
  }
  void top_down(const ActivationPattern<S>& pattern, Reconstruction<S>& r) const {
    check_pattern(pattern, "top_down");
    backward(pattern, r.B, &r.alpha, true);
  }

  /// Hot path: f(I_n) into `scores` and ∂f/∂I_n = B_{w,δ(I_n)} into `gradient` (resized if needed).
  /// The pattern is left in last_pattern().
  void score_and_gradient(const Batch<S>& x, Vector<S>& scores, Batch<S>& gradient) const {
    forward(x, "score_and_gradient");
    top_sums(scores);
    backward(pattern_, gradient, nullptr, true);
  }
  /// ∂f/∂I for one image.
  Image<S> image_gradient(const Image<S>& x) const {
    Vector<S> s;
    Batch<S> g;
    forward(as_batch(x), "image_gradient");
    top_sums(s);
    backward(pattern_, g, nullptr, true);
    return image_of(g, 0);
  }

  /// The pattern of the last forward pass (score, bottom_up, score_and_gradient, parameter gradient).
  const ActivationPattern<S>& last_pattern() const { return pattern_; }

  /// g += scale · Σ_n ∂f(I_n; w)/∂w, blocks as in parameters() (inactive layers untouched).
  void accumulate_parameter_gradient(const Batch<S>& x, Gradients<S>& g, S scale = S(1)) const {
    check_gradients(g, "accumulate_parameter_gradient");
    forward(x, "accumulate_parameter_gradient");
    accumulate_from_forward(g, scale);
  }
  /// The same, and f(I_n; w) of every image into `scores` from the same forward pass (bit for bit
  /// what score(x) returns): one forward pass where score() then accumulate_parameter_gradient() take two.
  void accumulate_parameter_gradient(const Batch<S>& x, Gradients<S>& g, S scale, Vector<S>& scores) const {
    check_gradients(g, "accumulate_parameter_gradient");
    forward(x, "accumulate_parameter_gradient");
    top_sums(scores);
    accumulate_from_forward(g, scale);
  }

  /// The same with a weight ω per top response y (the outputs of layer depth() − 1, f = Σ y):
  ///   g += scale · Σ_n Σ_{k,u,v} ω(k,u,v,n) ∂y(k,u,v,n)/∂w,   scores(n) = Σ_{k,u,v} ω(k,u,v,n) y(k,u,v,n),
  /// e.g. ω = 0 at the responses that see unknown pixels (known_top_units): the statistics of the known
  /// part of an image. ω = 1 gives the overload above bit for bit.
  /// requires: top_weight shaped top_shape() × 1 (one map for every image) or × N.
  /// throws: Error on a shape mismatch (nothing changes then).
  void accumulate_parameter_gradient(const Batch<S>& x, Gradients<S>& g, S scale, Vector<S>& scores,
                                     const Batch<S>& top_weight) const {
    const char* fn = "accumulate_parameter_gradient";
    check_gradients(g, fn);
    check_input(x, fn);
    const Index N = batch_size(x), m = batch_size(top_weight);
    check_argument(shape_of(top_weight) == top_shape() && (m == 1 || m == N), fn, "argument 'top_weight' has shape ",
                   to_string(shape_of(top_weight)), "x", m, ", expected ", to_string(top_shape()), "x1 or ",
                   to_string(top_shape()), "x", N, " (the top layer's output)");
    forward(x, fn);
    const Batch<S>& y = acts_[static_cast<std::size_t>(depth_ - 1)];
    const Index per_image = top_shape().size();
    ensure_shape(weighted_, top_shape(), N);
    for (Index n = 0; n < N; ++n) {
      const S* w = top_weight.data() + (m == 1 ? 0 : n * per_image);
      const S* yn = y.data() + n * per_image;
      S* out = weighted_.data() + n * per_image;
      for (Index i = 0; i < per_image; ++i) out[i] = w[i] * yn[i];
    }
    scores = as_columns(weighted_).colwise().sum().transpose();  // as top_sums: ω = 1 bit for bit
    Batch<S> unused;
    backward(pattern_, unused, nullptr, false, nullptr, &top_weight);
    accumulate_parameters(g, scale);
  }

  // Images of another scalar type (a float model given a double batch): one static_assert line
  // naming both types (detail::scalar_mismatch) instead of a list of candidate overloads.
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  Vector<S> score(const Batch<T>&) const { return detail::scalar_mismatch<S, T>(), Vector<S>(); }
  template <class T, class Out, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  void score(const Batch<T>&, Out&&) const { detail::scalar_mismatch<S, T>(); }
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  S score(const Image<T>&) const { return detail::scalar_mismatch<S, T>(), S(0); }
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  Vector<S> energy(const Batch<T>&, S) const { return detail::scalar_mismatch<S, T>(), Vector<S>(); }
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  S energy(const Image<T>&, S) const { return detail::scalar_mismatch<S, T>(), S(0); }
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  ActivationPattern<S> bottom_up(const Batch<T>&) const {
    return detail::scalar_mismatch<S, T>(), ActivationPattern<S>();
  }
  template <class T, class Out, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  void bottom_up(const Batch<T>&, Out&&) const { detail::scalar_mismatch<S, T>(); }
  template <class T, class... Out, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  void score_and_gradient(const Batch<T>&, Out&&...) const { detail::scalar_mismatch<S, T>(); }
  template <class T, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  Image<S> image_gradient(const Image<T>&) const { return detail::scalar_mismatch<S, T>(), Image<S>(); }
  template <class T, class... Rest, std::enable_if_t<!std::is_same_v<T, S>, int> = 0>
  void accumulate_parameter_gradient(const Batch<T>&, Rest&&...) const { detail::scalar_mismatch<S, T>(); }

  // --- readout: weighted sums of the top maps (category heads, eq. 2.2) ---------------------------
  // f_a(I_n) = Σ_k a(k, n) s_k(I_n), s_k(I_n) = Σ_x [F_k^{(L)} * I_n](x), L = depth(); `readout` a is
  // K × 1 (every image) or K × N (one column per image), K = top_shape().channels. f_a is piecewise
  // linear like f (a linear map of the top maps), so Theorem 1 holds for it with the top-down pass
  // started at B^(L)_k(x) = a(k, n) instead of 1 (eq. 6.7); f itself is a = 1.

  /// s_k(I_n) of every top channel k and image n into `sums` (K × N, resized if needed), from one
  /// forward pass; the pattern is left in last_pattern(). throws: Error as score().
  void top_channel_sums(const Batch<S>& x, Matrix<S>& sums) const {
    forward(x, "top_channel_sums");
    channel_sums(sums);
  }
  /// B_{w,δ} and α_{w,δ} of the readout on the pieces of `pattern`: f_a(I) = α + ⟨I, B⟩ there.
  /// throws: Error as top_down(pattern), or when `readout` is not K × 1 or K × (pattern's chains).
  void top_down(const ActivationPattern<S>& pattern, const Eigen::Ref<const Matrix<S>>& readout,
                Reconstruction<S>& r) const {
    check_pattern(pattern, "top_down");
    check_readout(readout, pattern.chains, "top_down");
    backward(pattern, r.B, &r.alpha, true, &readout);
  }
  /// ∂f_a/∂I_n (= B_{w,δ(I_n)} of the readout) at the images of the last forward pass (top_channel_sums,
  /// score, …) into `gradient` (resized if needed).
  /// throws: Error before any forward pass at the current depth, or when `readout` does not fit that pass.
  void readout_gradient(const Eigen::Ref<const Matrix<S>>& readout, Batch<S>& gradient) const {
    check_readout(readout, last_forward_chains("readout_gradient"), "readout_gradient");
    backward(pattern_, gradient, nullptr, true, &readout);
  }
  /// g += scale · Σ_n ∂f_a(I_n; w)/∂w at the images of the last forward pass. `g` starts with the blocks
  /// of parameters(); blocks after those (a category's head) are left untouched.
  /// throws: Error as readout_gradient, or when `g` does not start with the model's blocks.
  void accumulate_readout_gradient(const Eigen::Ref<const Matrix<S>>& readout, Gradients<S>& g,
                                   S scale = S(1)) const {
    check_gradients(g, "accumulate_readout_gradient", true);
    check_readout(readout, last_forward_chains("accumulate_readout_gradient"), "accumulate_readout_gradient");
    accumulate_from_forward(g, scale, &readout);
  }

  // --- parameters ---------------------------------------------------------------------------------

  /// Views of every parameter block of every layer (active or not), bottom-up, named "layer<i>.weight".
  std::vector<ParameterRef<S>> parameters() {
    std::vector<ParameterRef<S>> out;
    collect_parameters(out);
    return out;
  }
  /// The same, read-only.
  std::vector<ParameterRef<const S>> parameters() const {
    std::vector<ParameterRef<S>> views;
    collect_parameters(views);
    std::vector<ParameterRef<const S>> out;
    out.reserve(views.size());
    for (auto& p : views)
      out.push_back(ParameterRef<const S>{std::move(p.name), p.data, std::move(p.dims), p.is_bias, p.layer});
    return out;
  }
  /// Zero gradients shaped like parameters().
  Gradients<S> zero_gradients() const {
    Gradients<S> g;
    for (const Index n : block_sizes_) g.blocks.push_back(Vector<S>::Zero(n));
    return g;
  }
  Index num_parameters() const {
    Index n = 0;
    for (const Index b : block_sizes_) n += b;
    return n;
  }

  /// Multiply-accumulates of one bottom-up pass over one image through the active layers.
  Index macs() const {
    Index n = 0;
    derived().visit_layers([&](Index, auto& layer) { n += layer.macs(); }, depth_);
    return n;
  }

  /// A table: layer, type, output shape, parameter count; active layers marked.
  std::string summary() const {
    std::ostringstream os;
    os << name() << " on " << to_string(input_shape()) << ", depth " << depth_ << " of " << num_layers() << "\n";
    std::size_t type_width = 34;  // the widest layer description plus two spaces, at least 34
    derived().visit_layers([&](Index, auto& layer) { type_width = std::max(type_width, layer.describe().size() + 2); },
                           num_layers());
    const int tw = static_cast<int>(type_width);
    os << std::left << std::setw(7) << "layer" << std::setw(tw) << "type" << std::setw(14) << "output" << "parameters\n";
    Index total = 0;
    derived().visit_layers([&](Index l, auto& layer) {
      Index np = 0;
      for (Index b = 0; b < layer.parameter_blocks(); ++b) np += layer.parameter(b).size();
      total += np;
      os << std::left << std::setw(7) << (std::to_string(l) + (l < depth_ ? "" : "*")) << std::setw(tw)
         << layer.describe() << std::setw(14) << to_string(output_shape(l)) << np << "\n";
    }, num_layers());
    os << "total parameters: " << total;
    if (depth_ < num_layers()) os << " (* inactive)";
    os << "\n";
    return os.str();
  }

protected:
  ModelBase() = default;

  /// Called by Derived's constructor once its layers exist: infers and checks every shape. Errors
  /// name the constructor ("<Model>::<Model>").
  void configure(const Shape& input) {
    const char* fn = name();
    check_argument(!input.empty(), fn, "argument 'input_shape' is empty (",
                   to_string(input), ")");
    shapes_.assign(1, input);
    Index blocks = 0;
    block_offset_.clear();
    block_sizes_.clear();
    derived().visit_layers([&](Index l, auto& layer) {
      try {
        shapes_.push_back(layer.configure(shapes_.back()));
      } catch (const Error& e) {
        check_argument(false, fn, "layer ", l, " (", layer.describe(), "): ", e.what());
      }
      block_offset_.push_back(blocks);
      blocks += layer.parameter_blocks();
      for (Index b = 0; b < layer.parameter_blocks(); ++b) block_sizes_.push_back(layer.parameter(b).size());
    }, derived().layer_count());
    check_argument(num_layers() >= 1, fn, "the model has no layers");
    acts_.resize(static_cast<std::size_t>(num_layers()));
    douts_.resize(static_cast<std::size_t>(num_layers()));
    set_depth(num_layers());
  }

private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  void collect_parameters(std::vector<ParameterRef<S>>& out) const {
    derived().visit_layers([&](Index l, auto& layer) {
      for (Index b = 0; b < layer.parameter_blocks(); ++b) {
        ParameterRef<S> p = layer.parameter(b);
        p.name = "layer" + std::to_string(l) + "." + p.name;
        p.layer = l;
        out.push_back(std::move(p));
      }
    }, num_layers());
  }
  const char* name() const { return static_cast<const Derived&>(*this).model_name(); }

  /// Throws Error("<Model>::<fn>: <parts...>") when `condition` is false.
  template <class... Parts>
  void check_argument(bool condition, const char* fn, Parts&&... parts) const {
    if (!condition) throw Error(detail::concat(name(), "::", fn, ": ", std::forward<Parts>(parts)...));
  }

  void check_sigma(S sigma, const char* fn) const {
    check_argument(sigma > S(0) && std::isfinite(static_cast<double>(sigma)), fn,
                   "argument 'reference_sigma' is ", sigma, ", expected a finite value > 0");
  }

  void check_input(const Batch<S>& x, const char* fn) const {
    const Shape s = shape_of(x);
    check_argument(batch_size(x) >= 1 && !s.empty(), fn, "argument 'images' is empty (",
                   to_string(s), "x", batch_size(x), ")");
    check_argument(s.channels == input_shape().channels, fn, "argument 'images' has ", s.channels,
                   " channels, model expects ", input_shape().channels);
    check_argument(s == input_shape(), fn, "argument 'images' has shape ", to_string(s),
                   ", model expects ", to_string(input_shape()));
  }

  void check_pattern(const ActivationPattern<S>& p, const char* fn) const {
    check_argument(p.signature == signature_ && p.input_shape == input_shape() &&
                       p.layers.size() == static_cast<std::size_t>(depth_),
                   fn, "argument 'pattern' was computed by a different model, depth or shape (",
                   p.layers.size(), " layers on ", to_string(p.input_shape), "; expected ", depth_, " layers on ",
                   to_string(input_shape()), ")");
    check_argument(p.chains >= 1, fn, "argument 'pattern' holds no chains");
  }

  // `prefix`: g may hold further blocks after the model's own.
  void check_gradients(const Gradients<S>& g, const char* fn, bool prefix = false) const {
    bool ok = prefix ? g.blocks.size() >= block_sizes_.size() : g.blocks.size() == block_sizes_.size();
    for (std::size_t i = 0; ok && i < block_sizes_.size(); ++i) ok = g.blocks[i].size() == block_sizes_[i];
    check_argument(ok, fn, "argument 'gradients' does not match the model's parameters (",
                   g.blocks.size(), " blocks, expected ", prefix ? "at least " : "", block_sizes_.size(),
                   "); make it with zero_gradients()");
  }

  // The batch size of the last forward pass at the current depth; throws before there was one.
  Index last_forward_chains(const char* fn) const {
    check_argument(forward_done_, fn, "no forward pass at the current depth yet; call top_channel_sums (or score) "
                   "on the images first");
    return pattern_.chains;
  }

  void check_readout(const Eigen::Ref<const Matrix<S>>& a, Index chains, const char* fn) const {
    check_argument(a.rows() == top_shape().channels && (a.cols() == 1 || a.cols() == chains), fn,
                   "argument 'readout' is ", a.rows(), "x", a.cols(), ", expected ", top_shape().channels, "x1 or ",
                   top_shape().channels, "x", chains, " (top channels x 1 or x images)");
  }

  std::size_t compute_signature() const {
    std::string s = to_string(input_shape());
    derived().visit_layers([&](Index l, auto& layer) {
      s += "|" + layer.describe() + ">" + to_string(output_shape(l));
    }, depth_);
    return std::hash<std::string>{}(s);
  }

  static void copy_pattern(const ActivationPattern<S>& from, ActivationPattern<S>& to) {
    to.layers.resize(from.layers.size());
    for (std::size_t l = 0; l < from.layers.size(); ++l) {
      const auto& f = from.layers[l];
      auto& t = to.layers[l];
      t.smooth = f.smooth;
      if (f.gate.size() == 0) t.gate = Batch<S>();
      else {
        ensure_shape(t.gate, shape_of(f.gate), batch_size(f.gate));
        as_vector(t.gate) = as_vector(f.gate);
      }
      if (f.switches.size() == 0) t.switches = decltype(t.switches)();
      else {
        if (t.switches.dimensions() != f.switches.dimensions()) t.switches.resize(f.switches.dimensions());
        std::copy(f.switches.data(), f.switches.data() + f.switches.size(), t.switches.data());
      }
    }
    to.input_shape = from.input_shape;
    to.chains = from.chains;
    to.signature = from.signature;
  }

  void forward(const Batch<S>& x, const char* fn) const {
    check_input(x, fn);
    derived().visit_layers([&](Index l, auto& layer) {
      const auto li = static_cast<std::size_t>(l);
      layer.forward(l == 0 ? x : acts_[li - 1], acts_[li], pattern_.layers[li]);
    }, depth_);
    pattern_.input_shape = input_shape();
    pattern_.chains = batch_size(x);
    pattern_.signature = signature_;
    forward_done_ = true;
  }

  // The backward half of accumulate_parameter_gradient, after forward().
  void accumulate_from_forward(Gradients<S>& g, S scale, const Eigen::Ref<const Matrix<S>>* readout = nullptr) const {
    Batch<S> unused;
    backward(pattern_, unused, nullptr, false, readout);
    accumulate_parameters(g, scale);
  }

  // g += scale · ∂/∂w from the douts_ of the last backward().
  void accumulate_parameters(Gradients<S>& g, S scale) const {
    derived().visit_layers([&](Index l, auto& layer) {
      const auto li = static_cast<std::size_t>(l);
      if (layer.parameter_blocks() > 0)
        layer.accumulate_gradient(douts_[li], scale, &g.blocks[static_cast<std::size_t>(block_offset_[li])]);
    }, depth_);
  }

  void top_sums(Vector<S>& out) const {
    out = as_columns(acts_[static_cast<std::size_t>(depth_ - 1)]).colwise().sum().transpose();
  }

  void channel_sums(Matrix<S>& sums) const {
    const Batch<S>& top = acts_[static_cast<std::size_t>(depth_ - 1)];
    const Index K = top.dimension(0), P = top.dimension(1) * top.dimension(2), N = batch_size(top);
    sums.resize(K, N);
    const auto t = as_pixel_columns(top);
    for (Index n = 0; n < N; ++n) sums.col(n) = t.middleCols(n * P, P).rowwise().sum();
  }

  // douts_[l] = ∂f/∂(output of layer l) on the piece δ; into `dx` the gradient w.r.t. the input.
  // With a readout, ∂f_a/∂(top maps) = a(k, n) at every position instead of 1; with a top weight
  // (top_shape() × 1 or × N), ∂/∂(top maps) = that weight.
  void backward(const ActivationPattern<S>& p, Batch<S>& dx, Vector<S>* alpha, bool need_input,
                const Eigen::Ref<const Matrix<S>>* readout = nullptr, const Batch<S>* top_weight = nullptr) const {
    const Index N = p.chains;
    const auto top = static_cast<std::size_t>(depth_ - 1);
    ensure_shape(douts_[top], top_shape(), N);
    if (top_weight) {
      const Index per_image = top_shape().size(), m = batch_size(*top_weight);
      for (Index n = 0; n < N; ++n)
        std::copy(top_weight->data() + (m == 1 ? 0 : n * per_image),
                  top_weight->data() + (m == 1 ? 1 : n + 1) * per_image, douts_[top].data() + n * per_image);
    } else if (!readout) {
      douts_[top].setConstant(S(1));
    } else {
      const Index P = top_shape().pixels();
      auto d = as_pixel_columns(douts_[top]);
      for (Index n = 0; n < N; ++n) d.middleCols(n * P, P).colwise() = readout->col(readout->cols() == 1 ? 0 : n);
    }
    if (alpha) alpha->setZero(N);
    derived().visit_layers_reverse([&](Index l, auto& layer) {
      const auto li = static_cast<std::size_t>(l);
      if (alpha)
        for (Index n = 0; n < N; ++n) (*alpha)(n) += layer.bias_term(douts_[li], n);
      if (l > 0) layer.backward(p.layers[li], douts_[li], douts_[li - 1]);
      else if (need_input) layer.backward(p.layers[li], douts_[li], dx);
    }, depth_);
  }

  std::vector<Shape> shapes_;
  std::vector<Index> block_offset_;  // first parameter block of each layer
  std::vector<Index> block_sizes_;   // size of every parameter block
  Index depth_ = 0;
  std::size_t signature_ = 0;
  // Work buffers of the const queries (reused: no allocation after the first call per batch size).
  mutable bool forward_done_ = false;  // a forward pass at the current depth filled acts_ and pattern_
  mutable std::vector<Batch<S>> acts_;
  mutable std::vector<Batch<S>> douts_;
  mutable ActivationPattern<S> pattern_;
  mutable Batch<S> weighted_;  // ω ⊙ y of the weighted accumulate_parameter_gradient
};

}  // namespace gconvnet
