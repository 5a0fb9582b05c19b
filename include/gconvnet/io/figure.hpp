// gconvnet/io/figure.hpp — the layout of the paper's figures: images in a grid (image_grid) and the
// texture figures' contact sheet (observed image first, then the synthesized ones). Pure tensor code
// (no stb); save the result with save_png (io/image_encode.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

namespace gconvnet::io {

/// Options of image_grid and contact_sheet.
struct GridOptions {
  /// Images per row; 0 chooses: one row for up to 8 images, otherwise ⌈√n⌉ columns.
  Index columns = 0;
  Index gap = 4;             ///< pixels between cells and around the border
  double background = 255;  ///< intensity of the gaps (255: white)
};

namespace detail_figure {

/// image_grid's work; `fn` (the public function called) starts every message.
template <class S>
Image<S> grid(const char* fn, const std::vector<Image<S>>& images, const GridOptions& options) {
  detail::check(!images.empty(), fn, "argument 'images' is empty, expected at least one image");
  detail::check(options.gap >= 0 && options.columns >= 0, fn, "arguments 'options.gap', 'options.columns' are ",
                options.gap, ", ", options.columns, ", expected both >= 0");
  const Index n = static_cast<Index>(images.size());
  const Index C = images[0].dimension(0);
  Index cell_h = 0, cell_w = 0;
  for (Index i = 0; i < n; ++i) {
    const Image<S>& im = images[static_cast<std::size_t>(i)];
    detail::check(im.dimension(0) == C && im.size() > 0, fn, "argument 'images': image ", i, " has shape ",
                  to_string(shape_of(im)), ", expected a non-empty image with ", C, " channels like image 0");
    cell_h = std::max(cell_h, im.dimension(1));
    cell_w = std::max(cell_w, im.dimension(2));
  }
  Index cols = options.columns;
  if (cols == 0) cols = n <= 8 ? n : static_cast<Index>(std::ceil(std::sqrt(static_cast<double>(n))));
  cols = std::min(cols, n);
  const Index rows = (n + cols - 1) / cols, gap = options.gap;
  Image<S> grid(C, rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap);
  grid.setConstant(static_cast<S>(options.background));
  for (Index i = 0; i < n; ++i) {
    const Image<S>& im = images[static_cast<std::size_t>(i)];
    const Index top = gap + (i / cols) * (cell_h + gap) + (cell_h - im.dimension(1)) / 2;
    const Index left = gap + (i % cols) * (cell_w + gap) + (cell_w - im.dimension(2)) / 2;
    for (Index x = 0; x < im.dimension(2); ++x)
      for (Index y = 0; y < im.dimension(1); ++y)
        for (Index c = 0; c < C; ++c) grid(c, top + y, left + x) = im(c, y, x);
  }
  return grid;
}

}  // namespace detail_figure

/// Lays images out in a grid, row by row, in the given order. Cells are as large as the largest image;
/// a smaller image is centred in its cell.
/// requires: at least one image; all with the same number of channels; gap ≥ 0; columns ≥ 0.
/// throws: Error naming the offending image.
template <class S>
Image<S> image_grid(const std::vector<Image<S>>& images, const GridOptions& options = {}) {
  return detail_figure::grid("image_grid", images, options);
}

/// The layout of the paper's texture figures (Fig. 6): the observed image first, then every image of
/// the synthesized batch, in a grid with small gaps. All in the same intensity units (e.g. 0–255).
/// requires: as image_grid; the batch's channels equal the observed image's.
/// throws: Error naming contact_sheet on a channel mismatch, an empty batch or bad options.
template <class S>
Image<S> contact_sheet(const Image<S>& observed, const Batch<S>& synthesized, const GridOptions& options = {}) {
  const char* fn = "contact_sheet";
  detail::check(observed.size() > 0, fn, "argument 'observed' has shape ", to_string(shape_of(observed)),
                ", expected a non-empty image");
  detail::check(synthesized.size() > 0 && synthesized.dimension(0) == observed.dimension(0), fn,
                "argument 'synthesized' has shape ", to_string(shape_of(synthesized)), "x", batch_size(synthesized),
                ", expected at least one non-empty image with ", observed.dimension(0), " channels");
  std::vector<Image<S>> images;
  images.reserve(static_cast<std::size_t>(batch_size(synthesized) + 1));
  images.push_back(observed);
  for (Index n = 0; n < batch_size(synthesized); ++n) images.push_back(image_of(synthesized, n));
  return detail_figure::grid("contact_sheet", images, options);
}

}  // namespace gconvnet::io
