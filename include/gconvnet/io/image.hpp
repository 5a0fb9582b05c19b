// gconvnet/io/image.hpp — images in and out: PNG/JPEG decoding, resizing, channel means, PNG writing,
// and the contact sheets of the paper's figures (observed image first, then the synthesized ones).
//
// Intensities are kept as the release code keeps them: 0–255 per channel, as floats. The model sees
// them minus the per-channel means (subtract_channel_means); the means go back on before saving
// (add_channel_means), and save_png clips to 0–255.
//
// Decoding, encoding and resizing are Debian's libstb (<stb/...>, compiled implementations in
// libstb.so): link gconvnet::io. This header is not part of the umbrella header.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/io/atomic_file.hpp"

namespace gconvnet::io {

/// What an image file declares in its header (read without decoding the pixels).
struct ImageInfo {
  Index width = 0;
  Index height = 0;
  Index channels = 0;      ///< as stored: 1 gray, 2 gray+alpha, 3 RGB (also palette), 4 RGBA
  bool is_16_bit = false;  ///< 16 bits per channel (PNG)
  bool is_hdr = false;     ///< floating-point formats (Radiance HDR)
};

/// Options of load_image and decode_image.
struct LoadImageOptions {
  /// Channels of the result: 1 (gray; colour is converted to luminance), 3 (RGB; gray is copied into
  /// R, G and B), or 0 (as stored with any alpha channel dropped: gray → 1, colour → 3).
  Index channels = 3;
  /// Largest accepted width and height, checked on the declared header before anything is decoded.
  Index max_side = 8192;
  /// Largest accepted width × height, checked with max_side. The default (4096², 16.8 M pixels) keeps
  /// the decoded RGB float image under 202 MB; raise it for larger pictures.
  Index max_pixels = Index(4096) * 4096;
};

namespace detail_image {

/// The formats this library hands to stb_image, recognised by their first bytes (its message for
/// anything else). stb would also try TGA (no signature: arbitrary bytes may pass for one), PSD, PIC,
/// PNM and HDR; Debian's stb 2.27 reads uninitialised memory for a truncated PNM and overflows an int
/// on a long PNM number, so only these four reach it.
inline constexpr const char* readable_formats = "PNG, JPEG, BMP, GIF";

/// "PNG", "JPEG", "BMP" or "GIF" by the signature at the start of the data, or nullptr.
inline const char* image_format(const unsigned char* data, std::size_t size) {
  auto starts_with = [&](const char* magic, std::size_t n) { return size >= n && std::memcmp(data, magic, n) == 0; };
  if (starts_with("\x89PNG\r\n\x1a\n", 8)) return "PNG";
  if (starts_with("\xff\xd8\xff", 3)) return "JPEG";
  if (starts_with("BM", 2)) return "BMP";
  if (starts_with("GIF87a", 6) || starts_with("GIF89a", 6)) return "GIF";
  return nullptr;
}

/// stb_image's reason for the last failure, or `fallback`.
inline const char* stb_reason(const char* fallback) {
  const char* r = stbi_failure_reason();
  return r != nullptr ? r : fallback;
}

/// "89 50 4e 47 ..." — the first (up to) 8 bytes in hex, to show what came instead of an image.
inline std::string first_bytes(const unsigned char* data, std::size_t size) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size && i < 8; ++i) {
    if (i) out += ' ';
    out += hex[data[i] >> 4];
    out += hex[data[i] & 15u];
  }
  return out;
}

/// The JPEG check stb_image 2.27 (Debian bookworm's libstb) lacks: a Huffman table (DHT segment) that
/// declares more than 256 codes makes it write past its tables (heap buffer overflow; fixed upstream in
/// 2.28), already while reading the header (stbi_info). Walks the file the way stb does — markers and
/// segment lengths, junk skipped up to the next 0xFF, entropy-coded data up to the next marker (0xFF 0x00
/// stuffing and restart markers skipped), bytes past the end read as 0 — and checks every DHT segment
/// with stb's own loop. Returns what is wrong, or an empty string (also for anything that is not a JPEG).
inline std::string jpeg_huffman_problem(const unsigned char* data, std::size_t size) {
  if (size < 2 || data[0] != 0xFF || data[1] != 0xD8) return {};
  auto at = [&](std::size_t i) -> std::size_t { return i < size ? data[i] : 0u; };
  std::size_t i = 2;
  while (i < size) {
    while (i < size && data[i] != 0xFF) ++i;  // junk before a marker
    while (i < size && data[i] == 0xFF) ++i;  // fill bytes
    if (i >= size) break;
    const std::size_t start = i - 1;
    const unsigned marker = data[i++];
    if (marker == 0xD9) break;                                                        // EOI: stb stops
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length
    const std::size_t length = at(i) << 8 | at(i + 1);
    if (marker == 0xC4) {  // DHT: stb_image's loop (process_marker), with its missing check
      std::size_t p = i + 2;
      long long left = static_cast<long long>(length) - 2;
      while (left > 0) {
        const std::size_t q = at(p++);
        if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb refuses this one itself
        std::size_t n = 0;
        for (int k = 0; k < 16; ++k) n += at(p++);
        if (n > 256)
          return detail::concat("its JPEG Huffman table (DHT segment at byte ", start, ") declares ", n,
                                " codes, expected at most 256");
        p += n;
        left -= 17 + static_cast<long long>(n);
      }
    }
    i += std::max<std::size_t>(length, 2);
    if (marker == 0xDA) {  // SOS: entropy-coded data up to the next marker
      while (i < size) {
        if (data[i] != 0xFF) {
          ++i;
          continue;
        }
        std::size_t j = i + 1;
        while (j < size && data[j] == 0xFF) ++j;
        if (j < size && (data[j] == 0x00 || (data[j] >= 0xD0 && data[j] <= 0xD7))) {
          i = j + 1;  // stuffed 0xFF or a restart marker: still data
          continue;
        }
        i = j - 1;  // the 0xFF before the marker: the outer loop reads it
        break;
      }
    }
  }
  return {};
}

/// The PNG checks stb_image 2.27 lacks, before it decodes (stbi_load). Walks the chunks up to IEND:
/// - a chunk declaring more bytes than follow is a problem (returned): stb would first grow its IDAT
///   buffer to the declared length — up to 2 GiB for a file of a few bytes — before finding the data
///   missing;
/// - zero-length IDAT chunks are legal but the first one makes stb call memcpy(NULL, p, 0) (undefined
///   behaviour; found by fuzz/fuzz_image): they are left out of `repaired` (filled only when there are
///   any), which decodes to the same image.
/// Returns what is wrong, or an empty string (also for anything that is not a PNG).
inline std::string png_chunk_problem(const unsigned char* data, std::size_t size,
                                     std::vector<unsigned char>& repaired) {
  repaired.clear();
  if (size < 8 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) return {};
  std::vector<std::size_t> empty_idat;  // byte offsets of zero-length IDAT chunks
  std::size_t at = 8;
  while (at <= size && size - at >= 8) {  // at passes size when the last chunk's CRC is cut off
    const std::size_t length = std::size_t(data[at]) << 24 | std::size_t(data[at + 1]) << 16 |
                               std::size_t(data[at + 2]) << 8 | std::size_t(data[at + 3]);
    const unsigned char* type = data + at + 4;
    bool letters = true;
    for (int k = 0; k < 4; ++k)
      letters = letters && ((type[k] >= 'A' && type[k] <= 'Z') || (type[k] >= 'a' && type[k] <= 'z'));
    const std::string name =
        letters ? std::string(reinterpret_cast<const char*>(type), 4) : "(type " + first_bytes(type, 4) + ")";
    if (length > size - at - 8)
      return detail::concat("its ", name, " chunk at byte ", at, " declares ", length, " bytes, only ", size - at - 8,
                            " follow");
    if (std::memcmp(type, "IEND", 4) == 0) break;
    if (length == 0 && std::memcmp(type, "IDAT", 4) == 0) empty_idat.push_back(at);
    at += 12 + length;  // length, type, data, CRC
  }
  if (!empty_idat.empty()) {
    repaired.reserve(size);
    std::size_t from = 0;
    for (const std::size_t chunk : empty_idat) {
      repaired.insert(repaired.end(), data + from, data + chunk);
      from = std::min(chunk + 12, size);
    }
    repaired.insert(repaired.end(), data + from, data + size);
  }
  return {};
}

/// Reads a whole file into memory. throws: Error naming `fn` and the file when it cannot be opened
/// or read, or holds more than `max_bytes` bytes.
inline std::vector<unsigned char> read_file(const char* fn, const std::string& path, std::size_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  detail::check(file != nullptr, fn, "cannot open '", path, "': ", std::strerror(errno));
  std::vector<unsigned char> bytes;
  unsigned char buffer[1 << 16];
  bool too_large = false;
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file);
    if (n > max_bytes - bytes.size()) {
      too_large = true;
      break;
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
    if (n < sizeof buffer) break;
  }
  const bool failed = std::ferror(file) != 0;
  const int err = errno;
  std::fclose(file);
  detail::check(!failed, fn, "cannot read '", path, "': ", std::strerror(err));
  detail::check(!too_large, fn, "'", path, "' has more than ", max_bytes, " bytes, expected an image file of at most ",
                max_bytes, " bytes");
  return bytes;
}

/// The header of an image held in memory; `fn` and `name` start and name every message.
inline ImageInfo info(const char* fn, const unsigned char* data, std::size_t size, const std::string& name) {
  detail::check(data != nullptr || size == 0, fn, "argument 'data' is null for ", size, " bytes of '", name, "'");
  detail::check(size > 0, fn, "'", name, "' is empty (0 bytes), expected an image file (", readable_formats, ")");
  constexpr std::size_t max_bytes = static_cast<std::size_t>(std::numeric_limits<int>::max());
  detail::check(size <= max_bytes, fn, "'", name, "' has ", size, " bytes, expected an image file of at most ",
                max_bytes, " bytes");
  const char* format = image_format(data, size);
  detail::check(format != nullptr, fn, "'", name, "' is not an image this library can read (", readable_formats,
                ", recognised by their first bytes): its first bytes are ", first_bytes(data, size));
  const std::string jpeg_problem = jpeg_huffman_problem(data, size);
  detail::check(jpeg_problem.empty(), fn, "'", name, "' is a corrupt JPEG: ", jpeg_problem);
  const int len = static_cast<int>(size);
  int w = 0, h = 0, c = 0;
  const int ok = stbi_info_from_memory(data, len, &w, &h, &c);
  detail::check(ok != 0, fn, "'", name, "' starts like a ", format, " but its header is not readable: stb_image says '",
                stb_reason("unknown image type"), "'; its first bytes are ", first_bytes(data, size));
  ImageInfo out;
  out.width = w;
  out.height = h;
  out.channels = c;
  out.is_16_bit = stbi_is_16_bit_from_memory(data, len) != 0;
  out.is_hdr = stbi_is_hdr_from_memory(data, len) != 0;
  return out;
}

/// Checks the options and the declared header against them (before any pixel is decoded).
inline void check_decodable(const char* fn, const ImageInfo& info, const std::string& name,
                            const LoadImageOptions& options) {
  detail::check(!info.is_16_bit, fn, "'", name, "' has 16 bits per channel, expected an 8-bit image");
  detail::check(!info.is_hdr, fn, "'", name, "' is a floating-point (HDR) image, expected an 8-bit image");
  detail::check(info.channels >= 1 && info.channels <= 4, fn, "'", name, "' declares ", info.channels,
                " channels, expected 1 to 4");
  detail::check(info.width >= 1 && info.height >= 1 && info.width <= options.max_side &&
                    info.height <= options.max_side,
                fn, "'", name, "' declares ", info.width, "x", info.height, " pixels, expected at most ",
                options.max_side, "x", options.max_side, " (options.max_side)");
  detail::check(info.width * info.height <= options.max_pixels, fn, "'", name, "' declares ", info.width, "x",
                info.height, " = ", info.width * info.height, " pixels, expected at most ", options.max_pixels,
                " (options.max_pixels)");
}

inline void check_options(const char* fn, const LoadImageOptions& options) {
  detail::check(options.channels == 0 || options.channels == 1 || options.channels == 3, fn,
                "argument 'options.channels' is ", options.channels, ", expected 0 (as stored), 1 or 3");
  detail::check(options.max_side >= 1, fn, "argument 'options.max_side' is ", options.max_side, ", expected >= 1");
  detail::check(options.max_pixels >= 1, fn, "argument 'options.max_pixels' is ", options.max_pixels,
                ", expected >= 1");
}

/// Owns stb_image's pixel buffer.
struct StbPixels {
  unsigned char* pixels = nullptr;
  StbPixels() = default;
  StbPixels(const StbPixels&) = delete;
  StbPixels& operator=(const StbPixels&) = delete;
  ~StbPixels() { stbi_image_free(pixels); }
};

template <class S>
Image<S> decode(const char* fn, const unsigned char* data, std::size_t size, const std::string& name,
                const LoadImageOptions& options) {
  check_options(fn, options);
  const ImageInfo declared = info(fn, data, size, name);
  check_decodable(fn, declared, name, options);
  const Index channels = options.channels != 0 ? options.channels : (declared.channels <= 2 ? 1 : 3);
  std::vector<unsigned char> repaired;
  const std::string problem = png_chunk_problem(data, size, repaired);
  if (!repaired.empty()) {
    data = repaired.data();
    size = repaired.size();
  }
  int w = 0, h = 0, stored = 0;
  StbPixels buffer;
  if (problem.empty())
    buffer.pixels = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &stored, static_cast<int>(channels));
  detail::check(buffer.pixels != nullptr, fn, "cannot decode '", name, "' (", declared.width, "x", declared.height,
                " pixels declared): ",
                problem.empty() ? "stb_image says '" + std::string(stb_reason("unknown error")) + "'" : problem,
                ", expected a complete image (truncated or corrupt file?)");
  detail::check(w == declared.width && h == declared.height, fn, "'", name, "' decodes to ", w, "x", h,
                " pixels, its header declares ", declared.width, "x", declared.height);
  // stb gives rows top to bottom, pixels left to right, channels interleaved.
  Image<S> image(channels, h, w);
  const unsigned char* p = buffer.pixels;
  for (Index y = 0; y < h; ++y)
    for (Index x = 0; x < w; ++x)
      for (Index c = 0; c < channels; ++c) image(c, y, x) = static_cast<S>(p[(y * w + x) * channels + c]);
  return image;
}

}  // namespace detail_image

/// Reads the header of an image held in memory; `name` (e.g. the file name) names it in messages.
/// requires: data points to `size` bytes (it may be null when size is 0).
/// throws: Error naming the image when it is empty, larger than 2³¹−1 bytes, not a PNG, JPEG, BMP or GIF,
///         or its header is not readable.
inline ImageInfo image_info(const unsigned char* data, std::size_t size, const std::string& name) {
  return detail_image::info("image_info", data, size, name);
}

/// Reads the header of an image file (the whole file is read, the pixels are not decoded).
/// throws: Error naming the file when it cannot be opened or read, is empty, not a PNG, JPEG, BMP or GIF, or
///         its header is not readable.
inline ImageInfo image_info(const std::string& path) {
  const char* fn = "image_info";
  const std::vector<unsigned char> bytes =
      detail_image::read_file(fn, path, static_cast<std::size_t>(std::numeric_limits<int>::max()));
  return detail_image::info(fn, bytes.data(), bytes.size(), path);
}

/// Decodes an 8-bit image held in memory (PNG, JPEG; also BMP and GIF's first frame; other formats are
/// refused, see detail_image::readable_formats) as intensities 0–255. `name` (e.g. the file name) names
/// it in messages. Gray, gray+alpha, RGB, RGBA and palette images are converted to options.channels;
/// alpha is dropped (not composited). PNG chunks and JPEG Huffman tables are checked before stb_image
/// sees them (see detail_image::png_chunk_problem, jpeg_huffman_problem).
/// requires: data points to `size` bytes; 8 bits per channel; width, height ≤ options.max_side and
///           width × height ≤ options.max_pixels; options.channels ∈ {0, 1, 3}.
/// ensures: result is (channels, height, width) with integer values in [0, 255]. The declared size is
///          checked before any pixel memory is allocated.
/// throws: Error naming the function and the image for: no bytes, not an image, truncated or corrupt
///         data, 16-bit or floating-point samples, a declared size above the limits, bad options.
template <class S = float>
Image<S> decode_image(const unsigned char* data, std::size_t size, const std::string& name,
                      const LoadImageOptions& options = {}) {
  return detail_image::decode<S>("decode_image", data, size, name, options);
}

/// Loads an 8-bit image file as decode_image does (the file is read whole, then decoded from memory).
/// requires: as decode_image; a readable file.
/// ensures: as decode_image.
/// throws: Error naming the file for: a file that cannot be opened or read, is empty, is not an image, is
///         truncated or corrupt, has 16-bit or floating-point samples, or declares a size above the limits.
template <class S = float>
Image<S> load_image(const std::string& path, const LoadImageOptions& options = {}) {
  const char* fn = "load_image";
  detail_image::check_options(fn, options);
  const std::vector<unsigned char> bytes =
      detail_image::read_file(fn, path, static_cast<std::size_t>(std::numeric_limits<int>::max()));
  return detail_image::decode<S>(fn, bytes.data(), bytes.size(), path, options);
}

/// Resamples an image to height × width (stb_image_resize: Mitchell filter when shrinking,
/// Catmull–Rom when enlarging, edges clamped, linear intensities).
/// requires: a non-empty image with at most 64 channels; height, width ≥ 1; at most 2²⁹−1 values in
///           and out (stb_image_resize's int offsets).
/// ensures: the result is (channels, height, width); a constant image stays constant; the filters may
///          overshoot slightly at sharp edges (values are not clipped).
/// throws: Error on bad arguments.
template <class S>
Image<S> resize_image(const Image<S>& image, Index height, Index width) {
  const char* fn = "resize_image";
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  detail::check(C >= 1 && C <= 64 && H >= 1 && W >= 1, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected a non-empty image with 1 to 64 channels");
  detail::check(height >= 1 && width >= 1, fn, "arguments 'height', 'width' are ", height, ", ", width,
                ", expected both >= 1");
  // stb_image_resize computes byte offsets in int: each side of the resampling must fit.
  constexpr Index max_values = std::numeric_limits<int>::max() / static_cast<Index>(sizeof(float));
  detail::check(H * W <= max_values / C, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected at most ", max_values, " values");
  detail::check(height <= max_values / C / width, fn, "arguments 'height', 'width' are ", height, ", ", width,
                ", expected at most ", max_values, " values with ", C, " channels");
  std::vector<float> in(static_cast<std::size_t>(C * H * W)), out(static_cast<std::size_t>(C * height * width));
  for (Index y = 0; y < H; ++y)
    for (Index x = 0; x < W; ++x)
      for (Index c = 0; c < C; ++c) in[static_cast<std::size_t>((y * W + x) * C + c)] = static_cast<float>(image(c, y, x));
  const int ok = stbir_resize_float(in.data(), static_cast<int>(W), static_cast<int>(H), 0, out.data(),
                                    static_cast<int>(width), static_cast<int>(height), 0, static_cast<int>(C));
  detail::check(ok != 0, fn, "stb_image_resize failed for ", to_string(shape_of(image)), " -> ", height, "x", width);
  Image<S> result(C, height, width);
  for (Index y = 0; y < height; ++y)
    for (Index x = 0; x < width; ++x)
      for (Index c = 0; c < C; ++c)
        result(c, y, x) = static_cast<S>(out[static_cast<std::size_t>((y * width + x) * C + c)]);
  return result;
}

/// The mean of each channel over all pixels (and all images of a batch). Dimension 0 is the channel.
/// requires: a non-empty image or batch.  throws: Error on an empty tensor.
template <class S, int R>
std::vector<double> channel_means(const Eigen::Tensor<S, R, Eigen::ColMajor>& t) {
  detail::check(t.size() > 0, "channel_means", "argument 't' is empty, expected an image or a batch");
  const Index C = t.dimension(0), pixels = t.size() / C;
  std::vector<double> sum(static_cast<std::size_t>(C), 0.0);
  for (Index p = 0; p < pixels; ++p)
    for (Index c = 0; c < C; ++c) sum[static_cast<std::size_t>(c)] += static_cast<double>(t.data()[p * C + c]);
  for (double& s : sum) s /= static_cast<double>(pixels);
  return sum;
}

namespace detail_image {
template <class S, int R>
void add_per_channel(Eigen::Tensor<S, R, Eigen::ColMajor>& t, const std::vector<double>& values, double sign,
                     const char* fn) {
  const Index C = t.dimension(0);
  detail::check(static_cast<Index>(values.size()) == C, fn, "argument 'means' has ", values.size(),
                " values, expected one per channel (", C, ")");
  const Index pixels = C > 0 ? t.size() / C : 0;
  for (Index p = 0; p < pixels; ++p)
    for (Index c = 0; c < C; ++c)
      t.data()[p * C + c] += static_cast<S>(sign * values[static_cast<std::size_t>(c)]);
}
}  // namespace detail_image

/// Subtracts means[c] from every value of channel c (the release code's input: 0–255 minus the means).
/// requires: one mean per channel.  throws: Error otherwise.
template <class S, int R>
void subtract_channel_means(Eigen::Tensor<S, R, Eigen::ColMajor>& t, const std::vector<double>& means) {
  detail_image::add_per_channel(t, means, -1.0, "subtract_channel_means");
}

/// Adds means[c] to every value of channel c (back to 0–255 intensities before saving).
/// requires: one mean per channel.  throws: Error otherwise.
template <class S, int R>
void add_channel_means(Eigen::Tensor<S, R, Eigen::ColMajor>& t, const std::vector<double>& means) {
  detail_image::add_per_channel(t, means, +1.0, "add_channel_means");
}

/// Encodes intensities as an 8-bit PNG in memory: each value is clipped to [0, 255] and rounded.
/// requires: 1 to 4 channels (gray, gray+alpha, RGB, RGBA), height and width ≥ 1, at most 2²⁸ values,
///           finite values.
/// throws: Error on bad shape or a NaN/Inf value.
template <class S>
std::vector<unsigned char> encode_png(const Image<S>& image) {
  const char* fn = "encode_png";
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  detail::check(C >= 1 && C <= 4 && H >= 1 && W >= 1, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected 1 to 4 channels and a non-empty picture");
  // stb_image_write sizes its buffers in int (filtered rows, compressed stream growing by doubling).
  constexpr Index max_values = Index(1) << 28;
  detail::check(H * W <= max_values / C, fn, "argument 'image' has shape ", to_string(shape_of(image)),
                ", expected at most ", max_values, " values");
  detail::check(all_finite(image), fn, "argument 'image' contains NaN or Inf");
  std::vector<unsigned char> pixels(static_cast<std::size_t>(C * H * W));
  for (Index y = 0; y < H; ++y)
    for (Index x = 0; x < W; ++x)
      for (Index c = 0; c < C; ++c) {
        const double v = std::clamp(static_cast<double>(image(c, y, x)), 0.0, 255.0);
        pixels[static_cast<std::size_t>((y * W + x) * C + c)] = static_cast<unsigned char>(std::lround(v));
      }
  std::vector<unsigned char> bytes;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* p = static_cast<const unsigned char*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(append, &bytes, static_cast<int>(W), static_cast<int>(H), static_cast<int>(C),
                                        pixels.data(), static_cast<int>(W * C));
  detail::check(ok != 0 && !bytes.empty(), fn, "stb_image_write failed for an image of shape ",
                to_string(shape_of(image)));
  return bytes;
}

/// Saves intensities as an 8-bit PNG, clipped to [0, 255] and rounded, atomically (temporary file +
/// rename: an interrupted program leaves the old file or the new one, never half of one).
/// requires: as encode_png; the directory of `path` exists.
/// throws: Error naming the file when it cannot be written.
template <class S>
void save_png(const Image<S>& image, const std::string& path) {
  write_file_atomically(path, encode_png(image), "save_png");
}

/// Options of image_grid and contact_sheet.
struct GridOptions {
  /// Images per row; 0 chooses: one row for up to 8 images, otherwise ⌈√n⌉ columns.
  Index columns = 0;
  Index gap = 4;             ///< pixels between cells and around the border
  double background = 255;  ///< intensity of the gaps (255: white)
};

/// Lays images out in a grid, row by row, in the given order. Cells are as large as the largest image;
/// a smaller image is centred in its cell.
/// requires: at least one image; all with the same number of channels; gap ≥ 0; columns ≥ 0.
/// throws: Error naming the offending image.
template <class S>
Image<S> image_grid(const std::vector<Image<S>>& images, const GridOptions& options = {}) {
  const char* fn = "image_grid";
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

/// The layout of the paper's texture figures (Fig. 6): the observed image first, then every image of
/// the synthesized batch, in a grid with small gaps. All in the same intensity units (e.g. 0–255).
/// requires: as image_grid; the batch's channels equal the observed image's.
/// throws: Error on a channel mismatch or an empty batch.
template <class S>
Image<S> contact_sheet(const Image<S>& observed, const Batch<S>& synthesized, const GridOptions& options = {}) {
  detail::check(batch_size(synthesized) >= 1 && synthesized.dimension(0) == observed.dimension(0), "contact_sheet",
                "argument 'synthesized' has shape ", to_string(shape_of(synthesized)), "x", batch_size(synthesized),
                ", expected at least one image with ", observed.dimension(0), " channels");
  std::vector<Image<S>> images;
  images.reserve(static_cast<std::size_t>(batch_size(synthesized) + 1));
  images.push_back(observed);
  for (Index n = 0; n < batch_size(synthesized); ++n) images.push_back(image_of(synthesized, n));
  return image_grid(images, options);
}

}  // namespace gconvnet::io
