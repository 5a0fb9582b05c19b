// gconvnet/layers/conv.hpp — multi-channel 2-D convolution (eq. 2.1 without h).
#pragma once

#include <algorithm>
#include <cassert>
#include <string>

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

/// What this object represents: K filters w_k of size C×kh×kw and biases b_k applied at stride s to
/// the input zero-padded by p on every side (cross-correlation, as in the paper and MatConvNet):
///   y(k, u, v) = b_k + Σ_{c,i,j} w_k(c, i, j) · x(c, u·s − p + i, v·s − p + j).
/// Output extent (H + 2p − kh)/s + 1 (floor). A kernel covering the whole input (fully_connected)
/// gives the prototype model's K filters over the image (Sec. 5).
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

  /// requires: filters ≥ 1, kernel ≥ 1 (or whole_input), stride ≥ 1, padding ≥ 0;
  /// in_channels ≥ 1 checks the input, 0 infers it. Throws Error otherwise.
  explicit Conv(Index filters, Index kernel, Index stride = 1, Index padding = 0, Index in_channels = 0)
      : filters_(filters), kernel_h_(kernel), kernel_w_(kernel), stride_(stride), padding_(padding),
        declared_channels_(in_channels) {
    detail::check(filters >= 1, "Conv::Conv", "argument 'filters' is ", filters, ", expected >= 1");
    detail::check(kernel >= 1 || kernel == whole_input, "Conv::Conv", "argument 'kernel' is ", kernel,
                  ", expected >= 1 (or Conv::whole_input)");
    detail::check(stride >= 1, "Conv::Conv", "argument 'stride' is ", stride, ", expected >= 1");
    detail::check(padding >= 0, "Conv::Conv", "argument 'padding' is ", padding, ", expected >= 0");
    detail::check(in_channels >= 0, "Conv::Conv", "argument 'in_channels' is ", in_channels,
                  ", expected >= 0 (0 = inferred)");
  }

  /// K filters each covering the whole input: the fully connected layer of the prototype model.
  static Conv fully_connected(Index filters) { return Conv(filters, whole_input, 1, 0); }

  static const char* name() { return "Conv"; }

  Shape configure(const Shape& in) {
    const char* fn = "Conv::configure";
    detail::check(!in.empty(), fn, "argument 'input' is empty (", to_string(in), ")");
    detail::check(declared_channels_ == 0 || in.channels == declared_channels_, fn,
                  "argument 'input' has ", in.channels, " channels, layer expects ", declared_channels_);
    const Index kh = kernel_h_ == whole_input ? in.height + 2 * padding_ : kernel_h_;
    const Index kw = kernel_w_ == whole_input ? in.width + 2 * padding_ : kernel_w_;
    detail::check(kh <= in.height + 2 * padding_ && kw <= in.width + 2 * padding_, fn, "kernel ", kh, "x", kw,
                  " is larger than the padded input ", in.height + 2 * padding_, "x",
                  in.width + 2 * padding_, " (input ", to_string(in), ", padding ", padding_, ")");
    in_ = in;
    kh_ = kh;
    kw_ = kw;
    out_ = Shape{filters_, (in.height + 2 * padding_ - kh) / stride_ + 1, (in.width + 2 * padding_ - kw) / stride_ + 1};
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
  Index workspace_size() const { return patches_.size() + columns_.size() + fast_.buffer_size(); }

  void forward(const Batch<S>& x, Batch<S>& y, LayerPattern<S>& /*pattern*/) {
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
    if (fast_.planned()) return fast_.backward(weights_.data(), dy, dx);
    const Index n = batch_size(dy);
    columns_.resize(patch_size(), out_.pixels() * n);
    detail::parallel_gemm(patch_size(), columns_.cols(), filters_, S(1), weights_.data(), filters_, true, dy.data(),
                          filters_, false, columns_.data(), patch_size(), [&](Index r0, Index rows, Index c0, Index cols) {
                            columns_.block(r0, c0, rows, cols).setZero();
                          });
    ensure_shape(dx, in_, n);
    col2im(columns_, dx);
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
    return "Conv " + std::to_string(filters_) + " " + k + " stride " + std::to_string(stride_) + " pad " + std::to_string(padding_);
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
  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }

private:
  Index patch_size() const { return in_.channels * kh_ * kw_; }

  void choose_algorithm() {
    fast_ = detail::WinogradConv<S>();
    patches_.resize(0, 0);
    columns_.resize(0, 0);
    if (algorithm_ == ConvAlgorithm::im2col || kernel_h_ == whole_input) return;
    const int m = detail::winograd_choose_tile(kh_, kw_, stride_, in_, out_, algorithm_ == ConvAlgorithm::winograd);
    if (m > 0) fast_.plan(in_, out_, kh_, stride_, padding_, m);
  }

  // P(:, col) with col = u + H_out·(v + W_out·n); row = c + C·(i + kh·j).
  void im2col(const Batch<S>& x, Matrix<S>& p) const {
    const Index C = in_.channels, H = in_.height, W = in_.width;
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
          const Index w = v * stride_ - padding_ + j;
          for (Index i = 0; i < kh_; ++i) {
            const Index h = u * stride_ - padding_ + i;
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
    const Index C = in_.channels, H = in_.height, W = in_.width;
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
        const Index t = w + padding_ - j;
        if (t < 0 || t % stride_ != 0) continue;
        const Index v = t / stride_;
        if (v >= Wo) continue;
        for (Index u = 0; u < Ho; ++u) {
          const S* src = cs + K * (u + Ho * (v + Wo * n)) + C * kh_ * j;
          const Index h0 = u * stride_ - padding_;
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

  Index filters_, kernel_h_, kernel_w_, stride_, padding_, declared_channels_;
  Index kh_ = 0, kw_ = 0;
  Shape in_{}, out_{};
  Eigen::Tensor<S, 4, Eigen::ColMajor> weights_;
  Vector<S> bias_;
  Matrix<S> patches_;  // im2col of the last forward's input
  Matrix<S> columns_;  // Wᵀ·dy of the last backward
  ConvAlgorithm algorithm_ = ConvAlgorithm::automatic;
  detail::WinogradConv<S> fast_;  // planned when the Winograd path is in use
};

}  // namespace gconvnet
