// png_check FILE... — how the smoke tests (examples/smoke.cmake) look at the pictures the programs
// write: each file is decoded (gconvnet::io, through stb) and described on one line,
//   PATH WIDTHxHEIGHT CHANNELS mean M std S min A max B
// over all its pixels and channels (intensities 0–255), or "PATH BAD: reason". Exits 1 when any file
// does not decode.
#include <gconvnet/io/image.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  int bad = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string path = argv[i];
    try {
      gconvnet::io::LoadImageOptions as_stored;
      as_stored.channels = 0;
      const gconvnet::Image<double> im = gconvnet::io::load_image<double>(path, as_stored);
      const double* v = im.data();
      const auto n = static_cast<std::size_t>(im.size());
      double sum = 0, lo = v[0], hi = v[0];
      for (std::size_t k = 0; k < n; ++k) {
        sum += v[k];
        lo = std::min(lo, v[k]);
        hi = std::max(hi, v[k]);
      }
      const double mean = sum / static_cast<double>(n);
      double squares = 0;
      for (std::size_t k = 0; k < n; ++k) squares += (v[k] - mean) * (v[k] - mean);
      std::cout << path << " " << im.dimension(2) << "x" << im.dimension(1) << " " << im.dimension(0) << " mean "
                << mean << " std " << std::sqrt(squares / static_cast<double>(n)) << " min " << lo << " max " << hi
                << "\n";
    } catch (const std::exception& e) {
      std::cout << path << " BAD: " << e.what() << "\n";
      ++bad;
    }
  }
  return bad > 0 ? 1 : 0;
}
