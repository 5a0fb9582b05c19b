// gconvnet/layers/conv.hpp — multi-channel 2-D convolution (eq. 2.1 without h).
#pragma once

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/detail/fast_conv.hpp"
#include "gconvnet/layers/detail/gemm.hpp"
#include "gconvnet/layers/layer_pattern.hpp"

namespace gconvnet {

/// How a Conv computes its three products (bottom-up, top-down, weight gradient).
///  - im2col:    patches + GEMM; any kernel, stride and padding (the reference).
///  - winograd:  Winograd F(m×m, r×r) for square kernels, strided kernels reduced to stride 1 by
///               polyphase decomposition; used wherever the kernel allows it, im2col elsewhere.
///  - automatic: winograd where it is supported and expected to pay, im2col otherwise (the default).
/// Every choice computes the same function; they differ by rounding only.
enum class ConvAlgorithm { automatic, im2col, winograd };

/// How a Conv fills the p-wide border around its input.
///  - zero:     with zeros (the paper, MatConvNet).
///  - circular: with the pixels of the opposite side: the input is a torus (periodic boundary), so a
///              model of circular layers is translation invariant on the torus and its samples tile
///              without a seam.
enum class PaddingMode { zero, circular };

/// What this object represents: K filters w_k of size C×kh×kw and biases b_k applied at stride s to
/// the input zero-padded by p on every side (cross-correlation, as in the paper and MatConvNet):
///   y(k, u, v) = b_k + Σ_{c,i,j} w_k(c, i, j) · x(c, u·s − p + i, v·s − p + j).
/// Output extent (H + 2p − kh)/s + 1 (floor). A kernel covering the whole input (fully_connected)
/// gives the prototype model's K filters over the image (Sec. 5).
///
/// With PaddingMode::circular the border is filled from the opposite side instead of with zeros,
///   y(k, u, v) = b_k + Σ_{c,i,j} w_k(c, i, j) · x(c, (u·s − p + i) mod H, (v·s − p + j) mod W),
/// and the output must tile the torus: H and W multiples of s, output (H/s)×(W/s), i.e.
/// ⌈(k − s)/2⌉ ≤ p ≤ ⌊(k − 1)/2⌋ (a 5×5 kernel at stride 1: p = 2; 15×15 at stride 3: p = 6 or 7;
/// an even kernel at stride 1: none), and p ≤ H, W. The layer copies its input into a buffer padded
/// that way and runs the zero-padding path with padding 0 on it; the top-down pass folds the padded
/// buffer's gradient back onto the pixels it copies, the weight gradient uses the padded input.
///
/// Computed as patches + GEMM: the input's patches form a K_in × (H_out·W_out·N) matrix P (im2col),
/// y = W·P + b, the top-down pass is col2im(Wᵀ·dy) and the weight gradient dy·Pᵀ. Where the kernel
/// allows it (square, polyphase kernel ⌈k/s⌉ of 3, 5 or 7), the three products use Winograd minimal
/// filtering instead, with about 4–6× fewer multiplications (layers/detail/fast_conv.hpp; see
/// ConvAlgorithm). All buffers are kept and reused: a repeated call with the same batch size
/// allocates nothing.
template <class S>
class Conv {
public:
  using Scalar = S;
  /// Kernel extent meaning "the whole (padded) input".
  static constexpr Index whole_input = -1;

  /// K = `filters` filters of kernel × kernel, stride 1, no padding, input channels inferred; the
  /// named setters below change that:  Conv<float>(64, 5).stride(2).padding(2).
  /// requires: filters ≥ 1, kernel ≥ 1 (or whole_input). throws: Error otherwise.
  explicit Conv(Index filters, Index kernel) : filters_(filters), kernel_h_(kernel), kernel_w_(kernel) {
    detail::check(filters >= 1, "Conv::Conv", "argument 'filters' is ", filters, ", expected >= 1");
    detail::check(kernel >= 1 || kernel == whole_input, "Conv::Conv", "argument 'kernel' is ", kernel,
                  ", expected >= 1 (or Conv::whole_input)");
  }

  /// K filters each covering the whole input: the fully connected layer of the prototype model.
  static Conv fully_connected(Index filters) { return Conv(filters, whole_input); }

  // Named options, chainable on a temporary (Conv<S>(K, k).stride(s).padding(p)) or on a variable.
  // Each is set before the layer joins a model; once configured the layer's geometry is fixed.

  /// The step s ≥ 1 between kernel positions. throws: Error for s < 1 or a configured layer.
  Conv& stride(Index s) & {
    check_unconfigured("Conv::stride");
    detail::check(s >= 1, "Conv::stride", "argument 'stride' is ", s, ", expected >= 1");
    stride_ = s;
    return *this;
  }
  Conv&& stride(Index s) && { return std::move(stride(s)); }
  /// Padding p ≥ 0 on every side of the input, filled as `mode` says (PaddingMode: zeros, or the
  /// opposite side's pixels; for circular padding configure checks that the output tiles the torus).
  /// throws: Error for p < 0 or a configured layer.
  /// Example: Conv<float>(64, 5).padding(2, PaddingMode::circular)
  Conv& padding(Index p, PaddingMode mode = PaddingMode::zero) & {
    check_unconfigured("Conv::padding");
    detail::check(p >= 0, "Conv::padding", "argument 'padding' is ", p, ", expected >= 0");
    padding_ = p;
    mode_ = mode;
    return *this;
  }
  Conv&& padding(Index p, PaddingMode mode = PaddingMode::zero) && { return std::move(padding(p, mode)); }
  /// The input channels c ≥ 1 the layer expects (configure checks them), or 0 to take the input's.
  /// throws: Error for c < 0 or a configured layer.
  Conv& in_channels(Index c) & {
    check_unconfigured("Conv::in_channels");
    detail::check(c >= 0, "Conv::in_channels", "argument 'in_channels' is ", c, ", expected >= 0 (0 = inferred)");
    declared_channels_ = c;
    return *this;
  }
  Conv&& in_channels(Index c) && { return std::move(in_channels(c)); }

  static const char* name() { return "Conv"; }

  Shape configure(const Shape& in) {
    const char* fn = "Conv::configure";
    detail::check(!in.empty(), fn, "argument 'input' is empty (", to_string(in), ")");
    detail::check(declared_channels_ == 0 || in.channels == declared_channels_, fn,
                  "argument 'input' has ", in.channels, " channels, layer expects ", declared_channels_);
    const Index p = padding_;
    const Index kh = kernel_h_ == whole_input ? in.height + 2 * p : kernel_h_;
    const Index kw = kernel_w_ == whole_input ? in.width + 2 * p : kernel_w_;
    detail::check(kh <= in.height + 2 * p && kw <= in.width + 2 * p, fn, "kernel ", kh, "x", kw,
                  " is larger than the padded input ", in.height + 2 * p, "x",
                  in.width + 2 * p, " (input ", to_string(in), ", padding ", p, ")");
    const Shape out{filters_, (in.height + 2 * p - kh) / stride_ + 1, (in.width + 2 * p - kw) / stride_ + 1};
    const bool circular = mode_ == PaddingMode::circular;
    if (circular) check_torus(in, out, kh, kw);
    in_ = in;
    kh_ = kh;
    kw_ = kw;
    out_ = out;
    circular_ = circular;
    configured_padding_ = p;
    // The compute paths see the padded buffer with padding 0 (circular) or the input itself.
    inner_ = circular ? Shape{in.channels, in.height + 2 * p, in.width + 2 * p} : in;
    inner_padding_ = circular ? 0 : p;
    if (weights_.dimension(0) != filters_ || weights_.dimension(1) != in.channels ||
        weights_.dimension(2) != kh || weights_.dimension(3) != kw) {
      weights_.resize(filters_, in.channels, kh, kw);
      weights_.setZero();
    }
    if (bias_.size() != filters_) bias_ = Vector<S>::Zero(filters_);
    choose_algorithm();
    return out_;
  }

  /// Selects the algorithm (see ConvAlgorithm); takes effect at once, for the next forward pass
  /// (a following backward or accumulate_gradient needs a forward pass after the change).
  void set_algorithm(ConvAlgorithm algorithm) {
    algorithm_ = algorithm;
    if (kh_ > 0) choose_algorithm();
  }
  /// The algorithm asked for.
  ConvAlgorithm algorithm() const { return algorithm_; }
  /// The algorithm in use for the configured shape: im2col or winograd.
  ConvAlgorithm active_algorithm() const { return fast_.planned() ? ConvAlgorithm::winograd : ConvAlgorithm::im2col; }
  /// Scalars held by the layer's reusable buffers (patches, columns or Winograd transforms) after the
  /// calls made so far: its working memory beyond weights, inputs and outputs.
  Index workspace_size() const {
    return patches_.size() + columns_.size() + fast_.buffer_size() + padded_input_.size() + padded_gradient_.size();
  }

  void forward(const Batch<S>& input, Batch<S>& y, LayerPattern<S>& /*pattern*/) {
    const Batch<S>& x = circular_ ? wrap(input) : input;
    if (fast_.planned()) return fast_.forward(weights_.data(), bias_.data(), x, y);
    const Index n = batch_size(x);
    im2col(x, patches_);
    ensure_shape(y, out_, n);
    auto ym = as_pixel_columns(y);
    // y = b + W·P, cut into pieces of columns (or rows) each computed whole by one thread
    detail::parallel_gemm(filters_, ym.cols(), patch_size(), S(1), weights_.data(), filters_, false, patches_.data(),
                          patch_size(), false, ym.data(), filters_, [&](Index r0, Index rows, Index c0, Index cols) {
                            ym.block(r0, c0, rows, cols).colwise() = bias_.segment(r0, rows);
                          });
  }

  void backward(const LayerPattern<S>& /*pattern*/, const Batch<S>& dy, Batch<S>& dx) {
    Batch<S>& target = circular_ ? padded_gradient_ : dx;
    if (fast_.planned()) {
      fast_.backward(weights_.data(), dy, target);
    } else {
      const Index n = batch_size(dy);
      columns_.resize(patch_size(), out_.pixels() * n);
      // columns = Wᵀ·dy, cut into pieces of columns (or rows) each computed whole by one thread
      detail::parallel_gemm(patch_size(), columns_.cols(), filters_, S(1), weights_.data(), filters_, true, dy.data(),
                            filters_, false, columns_.data(), patch_size(),
                            [&](Index r0, Index rows, Index c0, Index cols) { columns_.block(r0, c0, rows, cols).setZero(); });
      ensure_shape(target, inner_, n);
      col2im(columns_, target);
    }
    if (circular_) fold(padded_gradient_, dx);
  }

  /// Σ_k b_k Σ_{u,v} dy(k,u,v,n): this layer's part of α_{w,δ} for chain n (eq. 6.14).
  S bias_term(const Batch<S>& dy, Index n) const {
    const Index pix = out_.pixels();
    Eigen::Map<const Matrix<S>> d(dy.data() + n * out_.size(), filters_, pix);
    return bias_.dot(d.rowwise().sum());
  }

  /// blocks[0] += scale·dy·Pᵀ (weights), blocks[1] += scale·Σ dy (biases), P from the last forward.
  void accumulate_gradient(const Batch<S>& dy, S scale, Vector<S>* blocks) const {
    const auto d = as_pixel_columns(dy);
    if (fast_.planned()) {
      fast_.accumulate_gradient(dy, scale, blocks[0].data());
    } else {
      assert(d.cols() == patches_.cols());
      detail::parallel_gemm(filters_, patch_size(), d.cols(), scale, d.data(), filters_, false, patches_.data(),
                            patch_size(), true, blocks[0].data(), filters_);
    }
    blocks[1].noalias() += scale * d.rowwise().sum();
  }

  static constexpr Index parameter_blocks() { return 2; }
  ParameterRef<S> parameter(Index i) {
    if (i == 0)
      return {"weight", weights_.data(), {weights_.dimension(0), weights_.dimension(1), weights_.dimension(2), weights_.dimension(3)}, false};
    return {"bias", bias_.data(), {bias_.size()}, true};
  }

  std::string describe() const {
    std::string k = kernel_h_ == whole_input && kh_ == 0 ? std::string("whole") : std::to_string(kh_ ? kh_ : kernel_h_) + "x" + std::to_string(kw_ ? kw_ : kernel_w_);
    return "Conv " + std::to_string(filters_) + " " + k + " stride " + std::to_string(stride_) + " pad " +
           std::to_string(padding_) + (mode_ == PaddingMode::circular ? " circular" : "");
  }

  /// Multiply-accumulates of one forward pass for one image (0 before configure).
  Index macs() const { return out_.size() * patch_size(); }

  // Accessors. Weights are (filters, channels, kernel_h, kernel_w), ColMajor.
  Eigen::Tensor<S, 4, Eigen::ColMajor>& weights() { return weights_; }
  const Eigen::Tensor<S, 4, Eigen::ColMajor>& weights() const { return weights_; }
  Vector<S>& bias() { return bias_; }
  const Vector<S>& bias() const { return bias_; }
  Index filters() const { return filters_; }
  Index kernel_height() const { return kh_; }
  Index kernel_width() const { return kw_; }
  Index stride() const { return stride_; }
  Index padding() const { return padding_; }
  /// The declared input channels (0: inferred from the input).
  Index in_channels() const { return declared_channels_; }
  /// How the border is filled (zero unless set by padding(p, mode)).
  PaddingMode padding_mode() const { return mode_; }
  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }

private:
  Index patch_size() const { return in_.channels * kh_ * kw_; }

  void check_unconfigured(const char* fn) const {
    detail::check(kh_ == 0, fn, "the layer is already configured (", describe(),
                  "), expected a layer not yet in a model: set its options before building the model");
  }

  void choose_algorithm() {
    fast_ = detail::WinogradConv<S>();
    patches_.resize(0, 0);
    columns_.resize(0, 0);
    if (algorithm_ == ConvAlgorithm::im2col || kernel_h_ == whole_input) return;
    const int m = detail::winograd_choose_tile(kh_, kw_, stride_, inner_, out_, algorithm_ == ConvAlgorithm::winograd);
    if (m > 0) fast_.plan(inner_, out_, kh_, stride_, inner_padding_, m);
  }

  // Circular padding: the output grid must be one position per stride on the torus.
  void check_torus(const Shape& in, const Shape& out, Index kh, Index kw) const {
    const char* fn = "Conv::configure";
    const Index p = padding_, s = stride_;
    detail::check(p <= in.height && p <= in.width, fn, "argument 'padding' is ", p,
                  " (circular), larger than the input ", to_string(in), "; expected at most ",
                  std::min(in.height, in.width));
    detail::check(in.height % s == 0 && in.width % s == 0, fn, "argument 'input' is ", to_string(in),
                  "; circular padding at stride ", s, " needs a height and width that are multiples of the stride");
    if (out.height == in.height / s && out.width == in.width / s) return;
    // (H + 2p − k)/s + 1 = H/s  ⇔  k − s ≤ 2p ≤ k − 1
    auto range = [s](Index k) {
      const Index lo = std::max<Index>(0, (k - s + 1) / 2), hi = (k - 1) / 2;  // ⌈(k − s)/2⌉, ⌊(k − 1)/2⌋
      if (lo > hi) return "an odd kernel or a stride >= 2 (no padding tiles the torus with kernel " + std::to_string(k) +
                          " at stride " + std::to_string(s) + ")";
      return "padding " + std::to_string(lo) + (lo == hi ? std::string() : " to " + std::to_string(hi));
    };
    detail::fail(fn, "argument 'padding' is ", p, " (circular): kernel ", kh, "x", kw, " at stride ", s,
                 " gives a ", out.height, "x", out.width, " output on the input ", to_string(in), ", expected ",
                 in.height / s, "x", in.width / s, " (one output per stride on the torus); use ",
                 kh == kw ? range(kh) : range(kh) + " (height) and " + range(kw) + " (width)");
  }

  // padded_input_ = x̃, x̃(c, h, w, n) = x(c, (h − p) mod H, (w − p) mod W, n) with p ≤ H, W.
  const Batch<S>& wrap(const Batch<S>& x) {
    const Index C = in_.channels, H = in_.height, W = in_.width, N = batch_size(x), p = configured_padding_;
    const Index Hp = inner_.height, Wp = inner_.width;
    ensure_shape(padded_input_, inner_, N);
    const S* xs = x.data();
    S* ps = padded_input_.data();
    const double work = detail::cost::scalar * 2 * static_cast<double>(padded_input_.size());
    detail::parallel_for(Wp * N, work, [&](Index wn) {
      const Index w = wn % Wp, n = wn / Wp;
      const Index source = w < p ? w - p + W : (w < p + W ? w - p : w - p - W);
      const S* col = xs + C * H * (source + W * n);
      S* d = ps + C * Hp * wn;
      std::copy(col + C * (H - p), col + C * H, d);  // rows H − p .. H − 1 on top
      std::copy(col, col + C * H, d + C * p);
      std::copy(col, col + C * p, d + C * (p + H));  // rows 0 .. p − 1 below
    });
    return padded_input_;
  }

  // dx(c, h, w, n) = Σ of g(c, h', w', n) over the padded positions that copy (h, w): the adjoint of wrap.
  void fold(const Batch<S>& g, Batch<S>& dx) const {
    const Index C = in_.channels, H = in_.height, W = in_.width, N = batch_size(g), p = configured_padding_;
    const Index Hp = inner_.height, Wp = inner_.width;
    ensure_shape(dx, in_, N);
    const S* gs = g.data();
    S* xs = dx.data();
    auto add = [](S* d, const S* s, Index len) {
      for (Index i = 0; i < len; ++i) d[i] += s[i];
    };
    const double work = detail::cost::scalar * 3 * static_cast<double>(g.size());
    detail::parallel_for(W * N, work, [&](Index wn) {
      const Index w = wn % W, n = wn / W;
      S* d = xs + C * H * wn;
      std::fill(d, d + C * H, S(0));
      for (const Index source : {w + p, w + p + W, w + p - W}) {  // the middle, right and left copies
        if (source < 0 || source >= Wp) continue;
        const S* col = gs + C * Hp * (source + Wp * n);
        add(d, col + C * p, C * H);
        add(d, col + C * (p + H), C * p);      // rows 0 .. p − 1 from below
        add(d + C * (H - p), col, C * p);      // rows H − p .. H − 1 from the top
      }
    });
  }

  // P(:, col) with col = u + H_out·(v + W_out·n); row = c + C·(i + kh·j).
  void im2col(const Batch<S>& x, Matrix<S>& p) const {
    const Index C = inner_.channels, H = inner_.height, W = inner_.width;
    const Index Ho = out_.height, Wo = out_.width, N = batch_size(x), K = patch_size();
    p.resize(K, Ho * Wo * N);
    const S* xs = x.data();
    S* ps = p.data();
    const Index outer = Wo * N;
    const double work = detail::cost::scalar * static_cast<double>(K) * static_cast<double>(Ho * outer);
    detail::parallel_for(outer, work, [&](Index vn) {
      const Index v = vn % Wo, n = vn / Wo;
      for (Index u = 0; u < Ho; ++u) {
        S* dst = ps + K * (u + Ho * vn);
        for (Index j = 0; j < kw_; ++j) {
          const Index w = v * stride_ - inner_padding_ + j;
          for (Index i = 0; i < kh_; ++i) {
            const Index h = u * stride_ - inner_padding_ + i;
            S* d = dst + C * (i + kh_ * j);
            if (h >= 0 && h < H && w >= 0 && w < W) {
              const S* s = xs + C * (h + H * (w + W * n));
              std::copy(s, s + C, d);
            } else {
              std::fill(d, d + C, S(0));
            }
          }
        }
      }
    });
  }

  // dx(c, h, w, n) = Σ over patches covering (h, w) of the matching entry of cols; gathered per
  // input column so that each iteration writes its own memory.
  void col2im(const Matrix<S>& cols, Batch<S>& dx) const {
    const Index C = inner_.channels, H = inner_.height, W = inner_.width;
    const Index Ho = out_.height, Wo = out_.width, N = batch_size(dx), K = patch_size();
    const S* cs = cols.data();
    S* xs = dx.data();
    const Index outer = W * N;
    const double work = detail::cost::scalar * static_cast<double>(K) * static_cast<double>(Ho * Wo * N);
    detail::parallel_for(outer, work, [&](Index wn) {
      const Index w = wn % W, n = wn / W;
      S* dcol = xs + C * H * wn;
      std::fill(dcol, dcol + C * H, S(0));
      for (Index j = 0; j < kw_; ++j) {
        const Index t = w + inner_padding_ - j;
        if (t < 0 || t % stride_ != 0) continue;
        const Index v = t / stride_;
        if (v >= Wo) continue;
        for (Index u = 0; u < Ho; ++u) {
          const S* src = cs + K * (u + Ho * (v + Wo * n)) + C * kh_ * j;
          const Index h0 = u * stride_ - inner_padding_;
          const Index i_begin = std::max<Index>(0, -h0), i_end = std::min<Index>(kh_, H - h0);
          for (Index i = i_begin; i < i_end; ++i) {
            S* d = dcol + C * (h0 + i);
            const S* s = src + C * i;
            for (Index c = 0; c < C; ++c) d[c] += s[c];
          }
        }
      }
    });
  }

  Index filters_, kernel_h_, kernel_w_;
  Index stride_ = 1;
  Index padding_ = 0;  // on every side, filled as mode_ says
  Index declared_channels_ = 0;
  PaddingMode mode_ = PaddingMode::zero;
  Index kh_ = 0, kw_ = 0;
  Shape in_{}, out_{};
  // As configured: the compute paths' input (the padded buffer when circular) and padding.
  bool circular_ = false;
  Index configured_padding_ = 0, inner_padding_ = 0;
  Shape inner_{};
  Batch<S> padded_input_;     // circular: x̃ of the last forward
  Batch<S> padded_gradient_;  // circular: the top-down pass's gradient w.r.t. x̃
  Eigen::Tensor<S, 4, Eigen::ColMajor> weights_;
  Vector<S> bias_;
  Matrix<S> patches_;  // im2col of the last forward's input
  Matrix<S> columns_;  // Wᵀ·dy of the last backward
  ConvAlgorithm algorithm_ = ConvAlgorithm::automatic;
  detail::WinogradConv<S> fast_;  // planned when the Winograd path is in use
};

}  // namespace gconvnet
