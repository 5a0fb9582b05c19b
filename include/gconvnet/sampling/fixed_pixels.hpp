// gconvnet/sampling/fixed_pixels.hpp — which pixels a sampler keeps fixed (inpainting, expansion).
//
// With a mask the samplers draw the free pixels from the conditional p(I_free | I_fixed; w): Langevin
// dynamics on the free coordinates only, whose drift is the free part of −∇U = −(I/σ² − B_{w,δ(I)})
// (Theorem 1 still gives ∂f/∂I = B, now with δ computed from the whole image), whose noise is the free
// part of Z, and for MALA whose proposal densities are those of the free coordinates. Fixed pixels are
// never written.
#pragma once

#include <cstdint>
#include <string>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/detail/parallel.hpp"

namespace gconvnet {

/// What this object represents: a mask of fixed pixels, per pixel and channel: nonzero = fixed,
/// 0 = free. Shaped like the chains, (C, H, W, 1) for one mask shared by every chain or (C, H, W, N)
/// for one mask per chain:
///   PixelMask fixed = make_batch<std::uint8_t>(model.input_shape(), 1);
///   fixed.setConstant(1);                                   // every pixel known ...
///   for (h, w in the hole) for (c) fixed(c, h, w, 0) = 0;   // ... but the hole's
///   options.fixed = &fixed;                                 // LangevinOptions or GradeOptions
using PixelMask = Batch<std::uint8_t>;

namespace detail {

/// Checks that `mask` has the chains' image shape and 1 or N images; `fn` names the sampler.
template <class S>
void check_fixed_mask(const char* fn, const PixelMask& mask, const Batch<S>& chains) {
  const Index n = batch_size(chains), m = batch_size(mask);
  check(shape_of(mask) == shape_of(chains) && (m == 1 || m == n), fn, "argument 'options.fixed' has shape ",
        to_string(shape_of(mask)), "x", m, ", expected ", to_string(shape_of(chains)), "x1 (one mask for every chain) or ",
        to_string(shape_of(chains)), "x", n, " (one per chain)");
}

/// The mask of chain n (image size `image`), or nullptr without a mask.
inline const std::uint8_t* chain_mask(const PixelMask* mask, Index n, Index image) {
  if (!mask) return nullptr;
  return mask->data() + (batch_size(*mask) == 1 ? 0 : n * image);
}

/// to[i] = from[i] at every pixel of every chain whose mask entry says `fixed` (nonzero) when `fixed`
/// is true, free (zero) when false; the other pixels of `to` are untouched.
template <class S>
void copy_where(const Batch<S>& from, Batch<S>& to, const PixelMask& mask, bool fixed) {
  const Index n_chains = batch_size(to), image = to.size() / n_chains;
  const S* f = from.data();
  S* t = to.data();
  parallel_for(n_chains, cost::scalar * 2 * static_cast<double>(to.size()), [&](Index n) {
    const std::uint8_t* m = chain_mask(&mask, n, image);
    const Index o = n * image;
    for (Index i = 0; i < image; ++i)
      if ((m[i] != 0) == fixed) t[o + i] = f[o + i];
  });
}

}  // namespace detail
}  // namespace gconvnet
