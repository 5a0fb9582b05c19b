// examples/support/images.hpp — the images of the example programs: the files named on the command
// line, centre squares of a common size, batches of them, back to 0–255 intensities, numbered PNGs
// and the two-row figure of the object experiments.
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>
#include <gconvnet/io/image.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace gconvnet::examples {

/// The image files named by `inputs`: a file as given, a folder as the .png, .jpg and .jpeg files in
/// it, sorted by name.  throws: Error for a folder with none.
inline std::vector<std::string> image_files(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (!fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(in)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) found.push_back(e.path().string());
    }
    if (found.empty()) throw Error("the folder '" + in + "' holds no .png/.jpg image");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

/// The centred largest square of an image.
inline Image<float> centre_square(const Image<float>& im) {
  const Index h = im.dimension(1), w = im.dimension(2), side = std::min(h, w);
  if (h == w) return im;
  const Eigen::array<Index, 3> offsets{0, (h - side) / 2, (w - side) / 2}, extents{im.dimension(0), side, side};
  return im.slice(offsets, extents);
}

/// The centred largest square of an image, resized to size × size (unless it is that size already).
inline Image<float> square_image(const Image<float>& im, Index size) {
  const Image<float> square = centre_square(im);
  return square.dimension(1) == size ? square : io::resize_image(square, size, size);
}

/// Every file of `files` loaded as square_image(…, size), with `channels` channels (3: RGB, 1: grey).
inline std::vector<Image<float>> load_squares(const std::vector<std::string>& files, Index size, Index channels = 3) {
  io::LoadImageOptions options;
  options.channels = channels;
  std::vector<Image<float>> images;
  for (const auto& f : files) images.push_back(square_image(io::load_image<float>(f, options), size));
  return images;
}

/// Images of one shape as one batch, in order.  requires: at least one image, all of one shape.
inline Batch<float> stack_images(const std::vector<Image<float>>& images) {
  Batch<float> batch = make_batch<float>(shape_of(images.at(0)), static_cast<Index>(images.size()));
  for (std::size_t n = 0; n < images.size(); ++n)
    std::copy(images[n].data(), images[n].data() + images[n].size(), batch.data() + n * images[n].size());
  return batch;
}

/// The images of a batch, in order.
inline std::vector<Image<float>> images_of(const Batch<float>& batch) {
  std::vector<Image<float>> images;
  for (Index n = 0; n < batch_size(batch); ++n) images.push_back(image_of(batch, n));
  return images;
}

/// The release code's preprocessing: subtracts from `images` the mean of each channel over all of
/// them; returns those means (with_channel_means adds them back).
inline std::vector<double> remove_channel_means(Batch<float>& images) {
  const std::vector<double> means = channel_means(images);
  subtract_channel_means(images, means);
  return means;
}

/// Mean-subtracted images (chains, reconstructions) back in 0–255 intensities: plus the channel
/// means (save_png clips).
inline Batch<float> with_channel_means(const Batch<float>& images, const std::vector<double>& means) {
  Batch<float> out = images;
  add_channel_means(out, means);
  return out;
}

/// An image enlarged `factor` times (nearest neighbour: every pixel a factor × factor square), each
/// value v drawn as offset + scale·v.
inline Image<float> enlarge(const Image<float>& im, Index factor, double offset = 0, double scale = 1) {
  Image<float> out(im.dimension(0), im.dimension(1) * factor, im.dimension(2) * factor);
  for (Index x = 0; x < out.dimension(2); ++x)
    for (Index y = 0; y < out.dimension(1); ++y)
      for (Index c = 0; c < out.dimension(0); ++c)
        out(c, y, x) = static_cast<float>(offset + scale * im(c, y / factor, x / factor));
  return out;
}

/// Writes every image of `images` as DIR/STEM00.png, DIR/STEM01.png, ...; returns the paths.
inline std::vector<std::string> save_numbered(const Batch<float>& images, const std::filesystem::path& dir,
                                              const std::string& stem) {
  std::vector<std::string> paths;
  for (Index n = 0; n < batch_size(images); ++n) {
    std::ostringstream name;
    name << stem << std::setw(2) << std::setfill('0') << n << ".png";
    paths.push_back((dir / name.str()).string());
    io::save_png(image_of(images, n), paths.back());
  }
  return paths;
}

/// The figure of Exp. 2 and 3 (Fig. 7, 8): `top` in the first row, the images of `below` under them,
/// as many per row.
inline Image<float> two_row_sheet(const std::vector<Image<float>>& top, const Batch<float>& below) {
  std::vector<Image<float>> cells = top;
  for (Index n = 0; n < batch_size(below); ++n) cells.push_back(image_of(below, n));
  io::GridOptions grid;
  grid.columns = static_cast<Index>(top.size());
  return io::image_grid(cells, grid);
}

}  // namespace gconvnet::examples
