// gconvnet/layers/detail/fast_conv.hpp — not API. Conv's fast path: Winograd F(m×m, r×r) for the
// bottom-up pass, the top-down pass and the weight gradient, with strided convolutions reduced to
// stride 1 by polyphase decomposition (space-to-depth).
//
// Polyphase: with stride s, y(k,u,v) = Σ_{c,i,j} w(k,c,i,j)·x̃(c, s·u + i, s·v + j) (x̃ = x padded by p).
// Writing i = s·i' + a, j = s·j' + b, the s² phases (a, b) become channels:
//   x_s(c + C·(a + s·b), Y, X) = x̃(c, s·Y + a, s·X + b),  w_s(k, c + C·(a + s·b), i', j') = w(k, c, s·i' + a, s·j' + b)
// (zero beyond the kernel), and y = w_s ⋆ x_s is a stride-1 correlation of a ⌈r/s⌉×⌈r/s⌉ kernel over
// C·s² channels. With s = 1 this is only the zero padding.
// Top-down: dx_s = (w_s flipped in space, channels swapped) ⋆ (dy padded by r_s − 1), then dx is read
// back from the phases of dx_s (for s = 1 and p ≤ r − 1, dy is padded by r − 1 − p and the result is
// dx itself). Weight gradient: ∂/∂U of Σ⟨dy, y⟩ in the transformed domain, then back through G.
// Every buffer is kept: repeated calls with one batch size allocate nothing (the products' blocks stay
// within Eigen's stack allocation limit; the filter transforms use coefficient-based products).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/detail/winograd.hpp"

namespace gconvnet::detail {

/// Output tile of the Winograd path (F(4×4, r×r)); tests may override it per layer through plan().
#ifndef GCONVNET_WINOGRAD_TILE
#define GCONVNET_WINOGRAD_TILE 4
#endif
constexpr int winograd_default_tile = GCONVNET_WINOGRAD_TILE;

/// What this object represents: the fast path of one Conv layer (K filters r×r, stride s, padding p,
/// fixed input shape): plan() once per shape, then forward / backward / accumulate_gradient with the
/// layer's weights, which compute exactly what Conv's im2col path computes (up to rounding). Keeps
/// the transformed filters (until the weights change), the padded phases of the last input (for the
/// weight gradient) and every work buffer.
template <class S>
class WinogradConv {
public:
  /// Whether F(m, ⌈r/s⌉) applies to a square kernel r at stride s (not a whole-input kernel).
  static bool applicable(Index kh, Index kw, Index stride, int m) {
    if (kh != kw || kh < 2 || stride < 1) return false;
    const Index rs = (kh + stride - 1) / stride;
    return rs >= 2 && winograd_supported(m, static_cast<int>(rs));
  }

  /// Plans the fast path for input `in`, output `out` of K filters kh×kw at stride s, padding p.
  /// requires applicable(kh, kw, stride, m).
  void plan(const Shape& in, const Shape& out, Index kh, Index stride, Index padding, int m) {
    in_ = in, out_ = out;
    r_ = kh, s_ = stride, p_ = padding;
    rs_ = (kh + stride - 1) / stride;
    cs_ = in.channels * s_ * s_;
    K_ = out.channels;
    plan_ = WinogradPlan<S>(m, static_cast<int>(rs_));
    const Index mm = m;
    fwd_.C = cs_, fwd_.K = K_, fwd_.Ho = out.height, fwd_.Wo = out.width;
    fwd_.tiles_y = (out.height + mm - 1) / mm, fwd_.tiles_x = (out.width + mm - 1) / mm;
    fwd_.Hp = fwd_.tiles_y * mm + rs_ - 1, fwd_.Wp = fwd_.tiles_x * mm + rs_ - 1;
    direct_backward_ = s_ == 1 && p_ <= r_ - 1;
    // Top-down: output extent H×W (direct) or Ho + rs − 1 phases (through dx_s).
    bwd_.C = K_, bwd_.K = cs_;
    bwd_.Ho = direct_backward_ ? in.height : out.height + rs_ - 1;
    bwd_.Wo = direct_backward_ ? in.width : out.width + rs_ - 1;
    bwd_.tiles_y = (bwd_.Ho + mm - 1) / mm, bwd_.tiles_x = (bwd_.Wo + mm - 1) / mm;
    bwd_.Hp = bwd_.tiles_y * mm + rs_ - 1, bwd_.Wp = bwd_.tiles_x * mm + rs_ - 1;
    dy_offset_ = direct_backward_ ? rs_ - 1 - p_ : rs_ - 1;
    planned_ = true;
  }

  bool planned() const { return planned_; }
  int tile() const { return plan_.m; }
  /// α = m + ⌈r/s⌉ − 1, the transform's extent.
  Index alpha() const { return plan_.alpha; }
  /// The geometry of the bottom-up (or, with `top_down`, the top-down) correlation for N images.
  WinogradGeometry geometry(bool top_down, Index N) const {
    WinogradGeometry g = top_down ? bwd_ : fwd_;
    g.N = N;
    return g;
  }
  /// Whether the top-down pass writes dx directly (stride 1, p ≤ r − 1) or through its phases.
  bool direct_backward() const { return direct_backward_; }

  /// y = w ⋆ x + b (the layer's bottom-up pass); keeps x_s for accumulate_gradient.
  void forward(const S* weights, const S* bias, const Batch<S>& x, Batch<S>& y) {
    const Index N = batch_size(x);
    fwd_.N = N;
    note_weights(weights);
    if (!filters_ready_) transform_filters(weights);
    fill_phases(x);
    ensure_shape(y, out_, N);
    const WinogradGeometry geo = fwd_;
    winograd_dispatch(plan_.m, plan_.r, [&](auto a, auto mo) {
      winograd_correlate_impl<decltype(a)::value, decltype(mo)::value>(geo, xs_.data(), u_.data(), packed_u_,
                                                                       bias, y.data(), scratch_);
    });
  }

  /// dx = Jᵀ dy (the layer's top-down pass).
  void backward(const S* weights, const Batch<S>& dy, Batch<S>& dx) {
    const Index N = batch_size(dy);
    bwd_.N = N;
    note_weights(weights);
    if (!flipped_ready_) transform_flipped_filters(weights);
    pad_output_gradient(dy);
    ensure_shape(dx, in_, N);
    S* target = dx.data();
    if (!direct_backward_) {
      const Index need = bwd_.K * bwd_.Ho * bwd_.Wo * N;
      if (dxs_.size() < need) dxs_.resize(need);
      target = dxs_.data();
    }
    const WinogradGeometry geo = bwd_;
    winograd_dispatch(plan_.m, plan_.r, [&](auto a, auto mo) {
      winograd_correlate_impl<decltype(a)::value, decltype(mo)::value>(geo, dyp_.data(), ub_.data(), packed_ub_,
                                                                       static_cast<const S*>(nullptr), target, scratch_);
    });
    if (!direct_backward_) gather_phases(dx);
  }

  /// gw (K, C, r, r ColMajor) += scale · Σ_n ∂⟨dy, y⟩/∂w, with x from the last forward.
  void accumulate_gradient(const Batch<S>& dy, S scale, S* gw) const {
    assert(batch_size(dy) == fwd_.N);
    const Index a2 = plan_.positions(), ks = K_ * cs_;
    du_.setZero(ks, a2);
    const WinogradGeometry geo = fwd_;
    winograd_dispatch(plan_.m, plan_.r, [&](auto a, auto mo) {
      winograd_filter_gradient_impl<decltype(a)::value, decltype(mo)::value>(geo, xs_.data(), dy.data(),
                                                                             du_.data(), gv_, gm_);
    });
    dws_.resize(ks, rs_ * rs_);
    rowwise_product(du_, plan_.kron, dws_);  // (K·C_s × rs²)
    if (s_ == 1) {
      Eigen::Map<Matrix<S>> g(gw, ks, rs_ * rs_);
      g.noalias() += scale * dws_;
      return;
    }
    const Index C = in_.channels, K = K_;
    for (Index j = 0; j < r_; ++j)
      for (Index i = 0; i < r_; ++i)
        for (Index c = 0; c < C; ++c) {
          const Index cp = c + C * (i % s_ + s_ * (j % s_));
          const S* src = dws_.data() + K * (cp + cs_ * (i / s_ + rs_ * (j / s_)));
          S* dst = gw + K * (c + C * (i + r_ * j));
          for (Index k = 0; k < K; ++k) dst[k] += scale * src[k];
        }
  }

  /// Scalars held by the buffers (inputs, transforms, per-thread scratch, gradient buffers).
  Index buffer_size() const {
    Index n = static_cast<Index>(weights_seen_.size()) + xs_.size() + dyp_.size() + dxs_.size() + u_.size() +
              packed_u_.data.size() + ub_.size() + packed_ub_.data.size() + ut_.size() + ws_.size() + du_.size() + dws_.size() +
              gv_.size() + gm_.size();
    for (const auto& v : scratch_.v) n += v.size();
    for (const auto& v : scratch_.m) n += v.size();
    return n;
  }

private:
  // out = lhs · rhs (out sized already) coefficient by coefficient (no GEMM buffers to allocate), in
  // blocks of 64 rows shared among the threads: every coefficient is computed the same way whatever
  // the thread count.
  template <class L, class R>
  static void rowwise_product(const L& lhs, const R& rhs, Matrix<S>& out) {
    constexpr Index rows = 64;
    const double work = cost::mac * 4 * static_cast<double>(lhs.rows() * lhs.cols() * rhs.cols());
    parallel_for(pieces_of(lhs.rows(), rows), work, [&](Index p) {
      const Index r0 = p * rows, len = std::min(rows, lhs.rows() - r0);
      out.middleRows(r0, len).noalias() = lhs.middleRows(r0, len).lazyProduct(rhs);
    });
  }

  // The transformed filters are kept until the weights change (optimizers write them in place through
  // parameters(), so they are compared, bit for bit, with a copy of those last transformed).
  void note_weights(const S* w) {
    const std::size_t n = static_cast<std::size_t>(K_ * in_.channels * r_ * r_);
    if (weights_seen_.size() == n && std::memcmp(weights_seen_.data(), w, n * sizeof(S)) == 0) return;
    weights_seen_.assign(w, w + n);
    filters_ready_ = flipped_ready_ = false;
  }

  // w_s (K·C_s × rs², ColMajor) from w (K, C, r, r): the polyphase filters (s = 1: w itself).
  const S* phase_filters(const S* w) {
    if (s_ == 1) return w;
    const Index C = in_.channels, K = K_;
    ws_.setZero(K * cs_, rs_ * rs_);
    for (Index j = 0; j < r_; ++j)
      for (Index i = 0; i < r_; ++i)
        for (Index c = 0; c < C; ++c) {
          const Index cp = c + C * (i % s_ + s_ * (j % s_));
          std::copy(w + K * (c + C * (i + r_ * j)), w + K * (c + C * (i + r_ * j)) + K,
                    ws_.data() + K * (cp + cs_ * (i / s_ + rs_ * (j / s_))));
        }
    return ws_.data();
  }

  // U[ξ] = G w_s Gᵀ for every (k, c): one GEMM (K·C_s × rs²)·(rs² × α²).
  void transform_filters(const S* w) {
    const Index ks = K_ * cs_;
    Eigen::Map<const Matrix<S>> wm(phase_filters(w), ks, rs_ * rs_);
    u_.resize(ks, plan_.positions());
    rowwise_product(wm, plan_.kron.transpose(), u_);
    packed_u_.valid = false;
    filters_ready_ = true;
  }

  // Ub[ξ] (C_s × K) = (G w_s^flipped Gᵀ)[ξ]ᵀ: the filters of the top-down correlation.
  void transform_flipped_filters(const S* w) {
    const Index ks = K_ * cs_, a2 = plan_.positions();
    Eigen::Map<const Matrix<S>> wm(phase_filters(w), ks, rs_ * rs_);
    ut_.resize(ks, a2);
    rowwise_product(wm, plan_.kron_flipped.transpose(), ut_);
    ub_.resize(ks, a2);
    for (Index xi = 0; xi < a2; ++xi) {
      Eigen::Map<const Matrix<S>> from(ut_.data() + xi * ks, K_, cs_);
      Eigen::Map<Matrix<S>> to(ub_.data() + xi * ks, cs_, K_);
      to = from.transpose();
    }
    packed_ub_.valid = false;
    flipped_ready_ = true;
  }

  // x_s(c + C·(a + s·b), Y, X, n) = x(c, s·Y + a − p, s·X + b − p, n), zero outside x.
  void fill_phases(const Batch<S>& x) {
    const Index C = in_.channels, H = in_.height, W = in_.width, N = fwd_.N;
    const Index Hp = fwd_.Hp, Wp = fwd_.Wp, s = s_, p = p_;
    const Index need = cs_ * Hp * Wp * N;
    if (xs_.size() != need) xs_.resize(need);
    const S* xd = x.data();
    S* dst = xs_.data();
    const Index outer = Wp * N;
    parallel_for(outer, cost::scalar * 2 * static_cast<double>(need), [&](Index xn) {
      const Index X = xn % Wp, n = xn / Wp;
      S* col = dst + cs_ * Hp * xn;
      for (Index b = 0; b < s; ++b) {
        const Index w = s * X + b - p;
        for (Index a = 0; a < s; ++a) {
          const Index off = C * (a + s * b);
          for (Index Y = 0; Y < Hp; ++Y) {
            const Index h = s * Y + a - p;
            S* d = col + cs_ * Y + off;
            if (h >= 0 && h < H && w >= 0 && w < W) {
              const S* src = xd + C * (h + H * (w + W * n));
              std::copy(src, src + C, d);
            } else {
              std::fill(d, d + C, S(0));
            }
          }
        }
      }
    });
  }

  // dy padded by dy_offset_ on the top and left, zero to the tile-covered extent.
  void pad_output_gradient(const Batch<S>& dy) {
    const Index K = K_, Ho = out_.height, Wo = out_.width, N = bwd_.N, Hp = bwd_.Hp, Wp = bwd_.Wp;
    const Index q = dy_offset_;
    const Index need = K * Hp * Wp * N;
    if (dyp_.size() != need) dyp_.resize(need);
    const S* src = dy.data();
    S* dst = dyp_.data();
    const Index outer = Wp * N;
    parallel_for(outer, cost::scalar * 2 * static_cast<double>(need), [&](Index xn) {
      const Index X = xn % Wp, n = xn / Wp;
      S* col = dst + K * Hp * xn;
      const Index v = X - q;
      if (v < 0 || v >= Wo) {
        std::fill(col, col + K * Hp, S(0));
        return;
      }
      const Index rows = std::min(Ho, Hp - q);
      std::fill(col, col + K * q, S(0));
      const S* s = src + K * Ho * (v + Wo * n);
      std::copy(s, s + K * rows, col + K * q);
      std::fill(col + K * (q + rows), col + K * Hp, S(0));
    });
  }

  // dx(c, h, w, n) = dx_s(c + C·(a + s·b), Y, X, n) with h + p = s·Y + a, w + p = s·X + b.
  void gather_phases(Batch<S>& dx) const {
    const Index C = in_.channels, H = in_.height, W = in_.width, N = bwd_.N;
    const Index Hd = bwd_.Ho, Wd = bwd_.Wo, s = s_, p = p_;
    const S* src = dxs_.data();
    S* xd = dx.data();
    const Index outer = W * N;
    parallel_for(outer, cost::scalar * 2 * static_cast<double>(dx.size()), [&](Index wn) {
      const Index w = wn % W, n = wn / W;
      const Index X = (w + p) / s, b = (w + p) % s;
      for (Index h = 0; h < H; ++h) {
        const Index Y = (h + p) / s, a = (h + p) % s;
        S* d = xd + C * (h + H * wn);
        if (X < Wd && Y < Hd) {
          const S* e = src + cs_ * (Y + Hd * (X + Wd * n)) + C * (a + s * b);
          std::copy(e, e + C, d);
        } else {
          std::fill(d, d + C, S(0));
        }
      }
    });
  }

  Shape in_{}, out_{};
  Index r_ = 0, s_ = 1, p_ = 0, rs_ = 0, cs_ = 0, K_ = 0, dy_offset_ = 0;
  bool direct_backward_ = true, planned_ = false, filters_ready_ = false, flipped_ready_ = false;
  std::vector<S> weights_seen_;
  WinogradPlan<S> plan_;
  WinogradGeometry fwd_, bwd_;
  Vector<S> xs_, dyp_, dxs_;
  Matrix<S> ws_, u_, ut_, ub_;
  WinogradPackedFilters<S> packed_u_, packed_ub_;  // u_, ub_ packed for the products
  WinogradScratch<S> scratch_;
  mutable Matrix<S> du_, dws_;
  mutable Vector<S> gv_, gm_;
};

/// The output tile m of F(m×m, r×r) for a Conv of this geometry, or 0 for im2col: F(4×4, ·) for
/// polyphase kernels 3 and 5, F(2×2, 7×7) for 7. `forced`: any supported geometry; otherwise (automatic)
/// not for outputs under 4 pixels, where a 4×4 tile would be mostly padding. With the transformed
/// filters kept between calls, the Winograd path was faster than im2col from 5×5 outputs up (bench
/// net, one image, one core), so the automatic choice asks nothing more.
inline int winograd_choose_tile(Index kh, Index kw, Index stride, const Shape& /*in*/, const Shape& out, bool forced) {
  if (!forced && out.pixels() < 4) return 0;
  for (int m : {winograd_default_tile, 2})
    if (WinogradConv<double>::applicable(kh, kw, stride, m)) return m;
  return 0;
}

}  // namespace gconvnet::detail
