// gconvnet/layers/detail/partition.hpp — not API. How the threads share each pass of a layer: the
// pieces every parallel loop of Conv, ReLU and the Langevin move is cut into, computed by the same
// functions the loops use (for bench_langevin --print-partition, docs/performance.md and the tests).
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"
#include "gconvnet/layers/conv.hpp"
#include "gconvnet/layers/detail/fast_conv.hpp"
#include "gconvnet/layers/detail/gemm.hpp"
#include "gconvnet/layers/detail/winograd.hpp"
#include "gconvnet/sampling/random.hpp"

namespace gconvnet::detail {

/// One parallel loop: its pass, what it does, how many pieces and of what, and its work estimate
/// (one-core nanoseconds, as given to parallel_for); `sizes` holds the pieces' relative sizes when
/// they differ (empty: all equal).
struct LoopCut {
  std::string pass, loop, piece;
  Index pieces = 0;
  double work = 0;
  std::vector<double> sizes;

  LoopCut(std::string pass_, std::string loop_, std::string piece_, Index pieces_, double work_)
      : pass(std::move(pass_)), loop(std::move(loop_)), piece(std::move(piece_)), pieces(pieces_), work(work_) {}
  /// The share of `threads` threads' time the pieces fill when each takes time in proportion to its
  /// size and they are handed out as parallel_for does (in order, dynamic_grain at a time, each grain
  /// to the first thread free): total / (threads · the longest thread's time).
  double balance(int threads) const {
    if (pieces <= 0 || threads <= 1) return 1.0;
    const Index grain = dynamic_grain(pieces, threads);
    std::vector<double> load(static_cast<std::size_t>(threads), 0.0);
    double total = 0;
    for (Index p = 0; p < pieces; p += grain) {
      double g = 0;
      for (Index q = p; q < std::min(pieces, p + grain); ++q) g += sizes.empty() ? 1.0 : sizes[static_cast<std::size_t>(q)];
      *std::min_element(load.begin(), load.end()) += g;
      total += g;
    }
    return total / (static_cast<double>(threads) * *std::max_element(load.begin(), load.end()));
  }
  /// Whether parallel_for would hand it to a team (more than one thread available). The weight
  /// gradient's two loops share one region whose work is the sum of theirs; `region_work` holds it.
  bool runs_in_team() const { return pieces >= 2 && std::max(work, region_work) >= parallel_min_work(); }
  double region_work = 0;
};

inline std::string gemm_piece(const GemmSplit& s, Index other, Index depth) {
  return std::string("gemm ") + (s.by_rows ? std::to_string(s.size) + "x" + std::to_string(other)
                                           : std::to_string(other) + "x" + std::to_string(s.size)) +
         " depth " + std::to_string(depth);
}

inline LoopCut winograd_correlation_cut(const std::string& pass, const WinogradGeometry& g, Index alpha) {
  const WinogradCut c = winograd_correlate_cut(alpha, g.C, g.K, g.tiles());
  const Index T = g.tiles();
  LoopCut l{pass, "Winograd transforms + products", "", c.shared ? alpha * alpha : c.chunks,
            winograd_work(alpha, g.C, g.K, T)};
  if (c.shared) {
    l.piece = "position xi (one block of " + std::to_string(T) + " tiles, stages shared)";
  } else {
    const Index tail = c.chunks - c.large_chunks, last = c.size(c.chunks - 1, T);
    for (Index ch = 0; ch < c.chunks; ++ch) l.sizes.push_back(static_cast<double>(c.size(ch, T)));
    l.piece = (c.large_chunks > 0 ? std::to_string(c.large_chunks) + " chunks of " + std::to_string(c.large) +
                                        " tiles, " + std::to_string(tail) + " of " + std::to_string(c.small)
                                  : std::to_string(tail) + " chunks of " + std::to_string(c.small) + " tiles") +
              (last != c.small ? " (last " + std::to_string(last) + ")" : "");
  }
  return l;
}

/// The loops of one Conv's three passes for a batch of N images.
template <class S>
std::vector<LoopCut> conv_loop_cuts(const Conv<S>& conv, Index N) {
  std::vector<LoopCut> out;
  const Shape in = conv.input_shape(), o = conv.output_shape();
  const Index kh = conv.kernel_height(), kw = conv.kernel_width(), s = conv.stride(), p = conv.padding();
  if (conv.active_algorithm() == ConvAlgorithm::winograd) {
    const int m = winograd_choose_tile(kh, kw, s, in, o, conv.algorithm() == ConvAlgorithm::winograd);
    WinogradConv<S> w;
    w.plan(in, o, kh, s, p, m);
    const WinogradGeometry f = w.geometry(false, N), b = w.geometry(true, N);
    const Index a = w.alpha();
    out.push_back({"bottom-up", "input phases", "image column", f.Wp * N,
                   cost::scalar * 2 * static_cast<double>(f.C * f.Hp * f.Wp * N)});
    out.push_back(winograd_correlation_cut("bottom-up", f, a));
    out.push_back({"top-down", "padded dy", "image column", b.Wp * N,
                   cost::scalar * 2 * static_cast<double>(b.C * b.Hp * b.Wp * N)});
    out.push_back(winograd_correlation_cut("top-down", b, a));
    if (!w.direct_backward())
      out.push_back({"top-down", "dx from phases", "image column", in.width * N,
                     cost::scalar * 2 * static_cast<double>(in.size() * N)});
    const Index T = f.tiles(), chunk = std::min(winograd_gradient_chunk, T);
    const GemmSplit g = winograd_gradient_split(a, f.C, f.K, chunk);
    out.push_back({"weight gradient", "tile transforms (" + std::to_string(pieces_of(T, chunk)) + " steps)",
                   "tile", chunk, winograd_transform_work(a, f.C, f.K, T)});
    out.back().region_work = winograd_work(a, f.C, f.K, T);
    out.push_back({"weight gradient", "products (per step)",
                   "position xi x " + gemm_piece(g, g.by_rows ? f.C : f.K, chunk), a * a * g.pieces,
                   winograd_product_work(a, f.C, f.K, T)});
    out.back().region_work = winograd_work(a, f.C, f.K, T);
    const Index ks = f.K * f.C;
    out.push_back({"weight gradient", "filter transform", "64 rows", pieces_of(ks, 64),
                   cost::mac * 4 * static_cast<double>(ks * a * a * ((kh + s - 1) / s) * ((kh + s - 1) / s))});
    return out;
  }
  const Index K = o.channels, Kp = in.channels * kh * kw, P = o.pixels() * N;
  const double macs = static_cast<double>(K) * static_cast<double>(Kp) * static_cast<double>(P);
  out.push_back({"bottom-up", "im2col", "output column", o.width * N, cost::scalar * static_cast<double>(Kp * P)});
  const GemmSplit f = gemm_split(K, P, Kp);
  out.push_back({"bottom-up", "product W.P", gemm_piece(f, f.by_rows ? P : K, Kp), f.pieces,
                 cost::mac * macs + cost::scalar * static_cast<double>(K * P)});
  const GemmSplit b = gemm_split(Kp, P, K);
  out.push_back({"top-down", "product Wt.dy", gemm_piece(b, b.by_rows ? P : Kp, K), b.pieces,
                 cost::mac * macs + cost::scalar * static_cast<double>(Kp * P)});
  out.push_back({"top-down", "col2im", "input column", in.width * N, cost::scalar * static_cast<double>(Kp * P)});
  const GemmSplit g = gemm_split(K, Kp, P);
  out.push_back({"weight gradient", "product dy.Pt", gemm_piece(g, g.by_rows ? Kp : K, P), g.pieces,
                 cost::mac * macs + cost::scalar * static_cast<double>(K * Kp)});
  return out;
}

/// The loop of an elementwise layer (ReLU: 3 scalars per value) over values values.
inline LoopCut elementwise_cut(const std::string& pass, Index values, double scalars_per_value = 3) {
  return {pass, "elementwise", std::to_string(elementwise_block) + " values", pieces_of(values, elementwise_block),
          cost::scalar * scalars_per_value * static_cast<double>(values)};
}

/// The Langevin move with its noise (langevin_move) over `values` values.
inline LoopCut langevin_move_cut(Index values) {
  return {"Langevin step", "noise + move + finite check", std::to_string(normal_block) + " values",
          pieces_of(values, normal_block), (cost::normal + 5 * cost::scalar) * static_cast<double>(values)};
}

}  // namespace gconvnet::detail
