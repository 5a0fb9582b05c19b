// gconvnet/io/image_decode.hpp — reading images: PNG and JPEG (also BMP, GIF) decoded by Debian's
// stb_image into intensities 0–255, with the checks stb_image 2.27 lacks done first (declared size
// against the limits, PNG chunk lengths, JPEG Huffman tables). Link gconvnet::io.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <stb/stb_image.h>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"

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

/// A PNG whose header (IHDR, the first chunk) is well formed but declares more pixels than stb_image
/// 2.27 accepts (a side above 2²⁴, or more than 2³⁰ bytes of decoded samples): stbi_info then fails,
/// tries every other format and reports "unknown image type". Fills `out` from the header, so the
/// declared size reaches the caller's limits (check_decodable); false for anything else.
inline bool png_too_large_for_stb(const unsigned char* data, std::size_t size, ImageInfo& out) {
  if (size < 33 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0 || std::memcmp(data + 12, "IHDR", 4) != 0)
    return false;
  auto be32 = [&](std::size_t at) {
    return std::size_t(data[at]) << 24 | std::size_t(data[at + 1]) << 16 | std::size_t(data[at + 2]) << 8 |
           std::size_t(data[at + 3]);
  };
  const std::size_t length = be32(8), width = be32(16), height = be32(20);
  const unsigned depth = data[24], color = data[25];
  const bool depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
  const bool color_ok = color == 0 || color == 2 || color == 4 || color == 6 || (color == 3 && depth != 16);
  if (length != 13 || width == 0 || height == 0 || !depth_ok || !color_ok || data[26] != 0 || data[27] != 0 ||
      data[28] > 1)
    return false;
  const std::size_t stored = color == 3 ? 3 : (color & 2 ? 3 : 1) + (color & 4 ? 1 : 0);
  const std::size_t stb_samples = color == 3 ? 4 : stored;  // stb's own bound for palette images
  const std::size_t max_side = std::size_t(1) << 24, max_bytes = std::size_t(1) << 30;
  if (width <= max_side && height <= max_side && max_bytes / width / stb_samples >= height) return false;
  out = ImageInfo{};
  out.width = static_cast<Index>(width);
  out.height = static_cast<Index>(height);
  out.channels = static_cast<Index>(stored);
  out.is_16_bit = depth == 16;
  return true;
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
  ImageInfo large;
  if (ok == 0 && png_too_large_for_stb(data, size, large)) return large;  // refused later by its declared size
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

}  // namespace gconvnet::io
