// examples/support/chart.hpp — line charts drawn into an image (for learning_curves.png), with a
// built-in 5×7 bitmap font: no plotting or font dependency, the PNG is written with io::save_png.
// Not part of the library.
#pragma once

#include <gconvnet/core/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace gconvnet::examples {

/// A colour, 0–255 per channel.
struct Rgb {
  float r = 0, g = 0, b = 0;
};

/// One curve: points (x[i], y[i]); non-finite points break the line.
struct Series {
  std::string label;
  std::vector<double> x, y;
  Rgb color;
};

/// One panel of a chart: a title, its curves, vertical markers (e.g. where a stage begins) and an
/// optional horizontal reference line (e.g. 0 for a gap, 1 for a ratio).
struct ChartPanel {
  std::string title;
  std::vector<Series> series;
  std::vector<double> markers;
  bool has_reference = false;
  double reference = 0;
};

namespace detail_chart {

// 5×7 glyphs of ASCII 32–126, one byte per row (bit 4 = leftmost column).
inline const unsigned char (&font())[95][7] {
  static const unsigned char glyphs[95][7] = {
#include "chart_font.inc"
  };
  return glyphs;
}

class Canvas {
public:
  Canvas(Index width, Index height) : image_(3, height, width) { image_.setConstant(255.0f); }

  void pixel(Index x, Index y, const Rgb& c) {
    if (x < 0 || y < 0 || x >= image_.dimension(2) || y >= image_.dimension(1)) return;
    image_(0, y, x) = c.r;
    image_(1, y, x) = c.g;
    image_(2, y, x) = c.b;
  }
  void rect(Index x0, Index y0, Index x1, Index y1, const Rgb& c) {
    for (Index y = y0; y <= y1; ++y)
      for (Index x = x0; x <= x1; ++x) pixel(x, y, c);
  }
  /// A line of width 2 (Bresenham, with the pixel below each point).
  void line(double xa, double ya, double xb, double yb, const Rgb& c) {
    Index x0 = std::lround(xa), y0 = std::lround(ya);
    const Index x1 = std::lround(xb), y1 = std::lround(yb);
    const Index dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const Index sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    Index err = dx + dy;
    for (;;) {
      pixel(x0, y0, c);
      pixel(x0, y0 + 1, c);
      if (x0 == x1 && y0 == y1) break;
      const Index e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  /// Text with its top-left corner at (x, y); returns the x after the last glyph.
  Index text(Index x, Index y, const std::string& s, const Rgb& c) {
    for (const char ch : s) {
      const int code = static_cast<unsigned char>(ch);
      if (code >= 32 && code < 127)
        for (int row = 0; row < 7; ++row)
          for (int col = 0; col < 5; ++col)
            if (font()[code - 32][row] & (0x10 >> col)) pixel(x + col, y + row, c);
      x += 6;
    }
    return x;
  }
  static Index text_width(const std::string& s) { return 6 * static_cast<Index>(s.size()); }
  Image<float>& image() { return image_; }

private:
  Image<float> image_;
};

/// A short label for a tick value: up to 3 significant digits.
inline std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace detail_chart

/// Draws the panels one below the other into a width × (panels × panel_height) RGB image (0–255):
/// each panel with its title, a frame, y ticks at its range's ends and middle, x ticks at the first
/// and last x, its markers as grey vertical lines, the reference as a dashed line, and a legend.
/// Empty or non-finite data give an empty frame (never NaN pixels).
inline Image<float> draw_chart(const std::vector<ChartPanel>& panels, Index width = 720, Index panel_height = 200) {
  using detail_chart::Canvas;
  using detail_chart::tick_label;
  const Rgb ink{40, 40, 40}, grey{190, 190, 190}, light{225, 225, 225};
  const Index n = std::max<Index>(1, static_cast<Index>(panels.size()));
  Canvas canvas(width, n * panel_height);
  const Index left = 56, right = 12, top = 20, bottom = 22;
  for (Index p = 0; p < static_cast<Index>(panels.size()); ++p) {
    const ChartPanel& panel = panels[static_cast<std::size_t>(p)];
    const Index y_top = p * panel_height + top, y_bottom = (p + 1) * panel_height - bottom;
    const Index x_left = left, x_right = width - right;
    // the data range
    double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
    for (const Series& s : panel.series)
      for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
          x_min = std::min(x_min, s.x[i]), x_max = std::max(x_max, s.x[i]);
          y_min = std::min(y_min, s.y[i]), y_max = std::max(y_max, s.y[i]);
        }
    if (panel.has_reference && std::isfinite(y_min))
      y_min = std::min(y_min, panel.reference), y_max = std::max(y_max, panel.reference);
    canvas.text(x_left, p * panel_height + 6, panel.title, ink);
    canvas.rect(x_left, y_top, x_right, y_top, ink);
    canvas.rect(x_left, y_bottom, x_right, y_bottom, ink);
    canvas.rect(x_left, y_top, x_left, y_bottom, ink);
    canvas.rect(x_right, y_top, x_right, y_bottom, ink);
    if (!std::isfinite(x_min)) continue;
    if (x_max == x_min) x_max = x_min + 1;
    if (y_max == y_min) y_max = y_min + 1, y_min -= 1;
    const double pad = 0.05 * (y_max - y_min);
    y_min -= pad, y_max += pad;
    auto px = [&](double x) { return x_left + (x - x_min) / (x_max - x_min) * static_cast<double>(x_right - x_left); };
    auto py = [&](double y) { return y_bottom - (y - y_min) / (y_max - y_min) * static_cast<double>(y_bottom - y_top); };
    for (double m : panel.markers)
      if (m > x_min && m < x_max)
        for (Index y = y_top + 1; y < y_bottom; ++y) canvas.pixel(std::lround(px(m)), y, light);
    if (panel.has_reference)
      for (Index x = x_left + 1; x < x_right; x += 6) canvas.rect(x, std::lround(py(panel.reference)), x + 2,
                                                                  std::lround(py(panel.reference)), grey);
    for (int k = 0; k <= 2; ++k) {  // y ticks
      const double v = y_min + pad + (y_max - y_min - 2 * pad) * k / 2.0;
      const Index y = std::lround(py(v));
      canvas.rect(x_left - 3, y, x_left, y, ink);
      const std::string label = tick_label(v);
      canvas.text(x_left - 5 - Canvas::text_width(label), y - 3, label, ink);
    }
    canvas.text(x_left, y_bottom + 5, tick_label(x_min), ink);
    const std::string last = tick_label(x_max);
    canvas.text(x_right - Canvas::text_width(last), y_bottom + 5, last, ink);
    Index legend_x = x_right - 4;
    for (auto it = panel.series.rbegin(); it != panel.series.rend(); ++it) {  // legend, right-aligned
      legend_x -= Canvas::text_width(it->label) + 16;
      canvas.rect(legend_x, p * panel_height + 9, legend_x + 8, p * panel_height + 10, it->color);
      canvas.text(legend_x + 11, p * panel_height + 6, it->label, ink);
    }
    for (const Series& s : panel.series) {
      bool have = false;
      double xa = 0, ya = 0;
      for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
          have = false;
          continue;
        }
        const double xb = px(s.x[i]), yb = py(s.y[i]);
        if (have) canvas.line(xa, ya, xb, yb, s.color);
        else canvas.pixel(std::lround(xb), std::lround(yb), s.color);
        xa = xb, ya = yb, have = true;
      }
    }
  }
  return canvas.image();
}

}  // namespace gconvnet::examples
