// Tests of gconvnet/io/image.hpp: decoding (gray, gray+alpha, RGBA, palette, JPEG, from memory), refusals
// (empty, 16-bit, truncated, not an image, missing, directory, huge declared size, bad options), PNG round
// trip, atomic save, resizing, grids and contact sheets. One test case per kind of file.
// The small files in tests/data/io/ are written by tests/data/io/make_io_data.py (PIL).
#include <gconvnet/io/image.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace {

using gconvnet::Error;
using gconvnet::Image;
using gconvnet::Index;
namespace io = gconvnet::io;

std::string data_file(const std::string& name) { return std::string(GCONVNET_TEST_DATA_DIR) + "/io/" + name; }

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A fresh directory under /tmp, removed with its files when the object goes.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/gconvnet_io_XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    for (const auto& f : files()) std::remove((path + "/" + f).c_str());
    ::rmdir(path.c_str());
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }
};

/// Requires that `f` throws gconvnet::Error whose message contains every one of `parts`.
template <class F>
void require_error_mentioning(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected gconvnet::Error");
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts) {
      INFO("message: " << what);
      CHECK(what.find(p) != std::string::npos);
    }
  }
}

}  // namespace

TEST_CASE("load_image reads an 8-bit gray PNG as 0-255 intensities, replicated to RGB on request", "[io][image]") {
  const std::string path = data_file("gray_4x3.png");
  const io::ImageInfo info = io::image_info(path);
  CHECK(info.width == 4);
  CHECK(info.height == 3);
  CHECK(info.channels == 1);
  CHECK_FALSE(info.is_16_bit);

  const Image<double> gray = io::load_image<double>(path, {1});
  REQUIRE(gray.dimension(0) == 1);
  REQUIRE(gray.dimension(1) == 3);
  REQUIRE(gray.dimension(2) == 4);
  for (Index y = 0; y < 3; ++y)
    for (Index x = 0; x < 4; ++x) CHECK(gray(0, y, x) == 20 * x + 60 * y + 5);  // exact: lossless 8-bit

  const Image<float> rgb = io::load_image<float>(path);  // default: 3 channels
  REQUIRE(rgb.dimension(0) == 3);
  for (Index y = 0; y < 3; ++y)
    for (Index x = 0; x < 4; ++x)
      for (Index c = 0; c < 3; ++c) CHECK(rgb(c, y, x) == static_cast<float>(20 * x + 60 * y + 5));

  CHECK(io::load_image<float>(path, {0}).dimension(0) == 1);  // as stored
}

TEST_CASE("load_image drops the alpha channel of an RGBA PNG", "[io][image]") {
  const std::string path = data_file("rgba_3x2.png");
  CHECK(io::image_info(path).channels == 4);
  for (Index channels : {Index(0), Index(3)}) {
    const Image<float> im = io::load_image<float>(path, {channels});
    REQUIRE(im.dimension(0) == 3);
    REQUIRE(im.dimension(1) == 2);
    REQUIRE(im.dimension(2) == 3);
    for (Index y = 0; y < 2; ++y)
      for (Index x = 0; x < 3; ++x) {
        CHECK(im(0, y, x) == 10 * x + 1);
        CHECK(im(1, y, x) == 100 + 50 * y);
        CHECK(im(2, y, x) == 200 - 30 * x);
      }
  }
  // Gray from colour is a luminance: between the smallest and the largest channel.
  const Image<float> gray = io::load_image<float>(path, {1});
  REQUIRE(gray.dimension(0) == 1);
  CHECK(gray(0, 0, 0) >= 1);
  CHECK(gray(0, 0, 0) <= 200);
}

TEST_CASE("load_image decodes a JPEG", "[io][image]") {
  const Image<float> im = io::load_image<float>(data_file("solid_8x8.jpg"));
  REQUIRE(im.dimension(0) == 3);
  REQUIRE(im.dimension(1) == 8);
  REQUIRE(im.dimension(2) == 8);
  // JPEG is lossy; quality 95 on a flat colour stays within a few levels.
  const float expected[3] = {200, 100, 50};
  for (Index y = 0; y < 8; ++y)
    for (Index x = 0; x < 8; ++x)
      for (Index c = 0; c < 3; ++c) CHECK(std::abs(im(c, y, x) - expected[c]) <= 4);
}

TEST_CASE("load_image converts gray+alpha: alpha dropped, gray kept or replicated", "[io][image]") {
  const std::string path = data_file("gray_alpha_3x2.png");
  CHECK(io::image_info(path).channels == 2);
  const Image<float> gray = io::load_image<float>(path, {0});  // as stored, alpha dropped
  REQUIRE(gray.dimension(0) == 1);
  REQUIRE(gray.dimension(1) == 2);
  REQUIRE(gray.dimension(2) == 3);
  const Image<float> rgb = io::load_image<float>(path);
  REQUIRE(rgb.dimension(0) == 3);
  for (Index y = 0; y < 2; ++y)
    for (Index x = 0; x < 3; ++x) {
      CHECK(gray(0, y, x) == 30 * x + 70 * y + 9);
      for (Index c = 0; c < 3; ++c) CHECK(rgb(c, y, x) == 30 * x + 70 * y + 9);
    }
}

TEST_CASE("load_image expands a palette PNG to its RGB colours", "[io][image]") {
  const std::string path = data_file("palette_4x2.png");
  CHECK(io::image_info(path).channels == 3);
  const Image<float> im = io::load_image<float>(path, {0});
  REQUIRE(im.dimension(0) == 3);
  REQUIRE(im.dimension(1) == 2);
  REQUIRE(im.dimension(2) == 4);
  for (Index y = 0; y < 2; ++y)
    for (Index x = 0; x < 4; ++x) {
      const Index i = x + 4 * y;  // the palette index, see make_io_data.py
      CHECK(im(0, y, x) == (30 * i + 3) % 256);
      CHECK(im(1, y, x) == (200 - 20 * i) % 256);
      CHECK(im(2, y, x) == 7 * i);
    }
}

TEST_CASE("decode_image decodes from memory exactly as load_image reads the file", "[io][image]") {
  for (const char* name : {"gray_4x3.png", "rgba_3x2.png", "solid_8x8.jpg", "palette_4x2.png"}) {
    INFO(name);
    std::ifstream in(data_file(name), std::ios::binary);
    const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(!bytes.empty());
    const io::ImageInfo info = io::image_info(bytes.data(), bytes.size(), name);
    CHECK(info.width == io::image_info(data_file(name)).width);
    const Image<double> a = io::decode_image<double>(bytes.data(), bytes.size(), name, {0});
    const Image<double> b = io::load_image<double>(data_file(name), {0});
    REQUIRE(a.dimension(0) == b.dimension(0));
    REQUIRE(a.dimension(1) == b.dimension(1));
    REQUIRE(a.dimension(2) == b.dimension(2));
    for (Index i = 0; i < a.size(); ++i) CHECK(a.data()[i] == b.data()[i]);
  }
  // Messages name decode_image and the given name.
  const unsigned char text[] = "hello";
  require_error_mentioning([&] { io::decode_image<float>(text, 5, "greeting.png"); },
                           {"decode_image", "'greeting.png'", "not an image", "68 65 6c 6c 6f"});
  require_error_mentioning([&] { io::decode_image<float>(nullptr, 0, "nothing.png"); },
                           {"decode_image", "'nothing.png'", "empty (0 bytes)"});
  require_error_mentioning([&] { io::decode_image<float>(nullptr, 3, "null.png"); },
                           {"decode_image", "'data' is null"});
}

TEST_CASE("load_image refuses an empty file", "[io][image]") {
  const std::string path = data_file("empty.png");
  require_error_mentioning([&] { io::load_image<float>(path); }, {"load_image: '" + path, "empty (0 bytes)",
                                                                  "expected an image file"});
  require_error_mentioning([&] { io::image_info(path); }, {"image_info", path, "empty"});
}

TEST_CASE("load_image refuses a 16-bit PNG", "[io][image]") {
  const std::string path = data_file("gray16_4x4.png");
  CHECK(io::image_info(path).is_16_bit);
  require_error_mentioning([&] { io::load_image<float>(path); },
                           {"load_image", path, "has 16 bits per channel", "expected an 8-bit image"});
}

TEST_CASE("load_image refuses a truncated PNG whose header is intact", "[io][image]") {
  const std::string path = data_file("truncated.png");
  CHECK(io::image_info(path).width == 16);  // the header is intact, the pixels are not
  require_error_mentioning([&] { io::load_image<float>(path); },
                           {"load_image", path, "cannot decode", "16x16 pixels declared", "expected a complete image"});
}

TEST_CASE("load_image refuses a file that is not an image, showing its first bytes", "[io][image]") {
  const std::string path = data_file("not_an_image.png");
  require_error_mentioning([&] { io::load_image<float>(path); },
                           {"load_image", path, "not an image", "PNG, JPEG", "54 68 69 73 20 69 73 20"});
}

TEST_CASE("load_image reads BMP and GIF, and refuses TGA and PNM by their first bytes", "[io][image]") {
  for (const char* ext : {"bmp", "gif"}) {
    INFO(ext);
    // as gray (a palette BMP or GIF may be stored as colour; luminance of R = G = B is exact)
    const Image<double> im = io::load_image<double>(data_file(std::string("gray_4x3.") + ext), {1});
    REQUIRE(im.dimension(0) == 1);
    REQUIRE(im.dimension(1) == 3);
    REQUIRE(im.dimension(2) == 4);
    for (Index y = 0; y < 3; ++y)
      for (Index x = 0; x < 4; ++x) CHECK(im(0, y, x) == 20 * x + 60 * y + 5);
  }
  for (const char* ext : {"tga", "pgm"}) {
    const std::string path = data_file(std::string("gray_4x3.") + ext);
    require_error_mentioning([&] { io::load_image<float>(path); },
                             {"load_image", path, "not an image this library can read", "PNG, JPEG, BMP, GIF"});
  }
}

TEST_CASE("load_image refuses a JPEG whose Huffman table declares more than 256 codes", "[io][image]") {
  // stb_image 2.27 writes past its tables on such a file (found by fuzz/fuzz_image); the check refuses it
  // before stb reads the header. The file: solid_8x8.jpg with the first DHT's 16 counts set to 0x20 (512).
  std::ifstream in(data_file("solid_8x8.jpg"), std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t dht = 0;
  while (dht + 1 < bytes.size() && !(bytes[dht] == 0xFF && bytes[dht + 1] == 0xC4)) ++dht;
  REQUIRE(dht + 21 < bytes.size());
  for (std::size_t k = 0; k < 16; ++k) bytes[dht + 5 + k] = 0x20;
  require_error_mentioning([&] { io::decode_image<float>(bytes.data(), bytes.size(), "dht.jpg"); },
                           {"decode_image", "'dht.jpg' is a corrupt JPEG", "DHT segment at byte " + std::to_string(dht),
                            "declares 512 codes, expected at most 256"});
  require_error_mentioning([&] { io::image_info(bytes.data(), bytes.size(), "dht.jpg"); }, {"image_info", "512 codes"});
}

TEST_CASE("decode_image reads a PNG with zero-length IDAT chunks as the same image", "[io][image]") {
  // Legal PNG, but the first empty IDAT makes stb_image 2.27 call memcpy(NULL, p, 0) (UBSan, found by
  // fuzzing): decode_image hands stb a copy without the empty chunks.
  std::ifstream in(data_file("gray_4x3.png"), std::ios::binary);
  const std::vector<unsigned char> png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t idat = 33;  // the IDAT chunk (length, type, data, CRC) starts here
  REQUIRE(std::string(png.begin() + idat + 4, png.begin() + idat + 8) == "IDAT");
  const unsigned char empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};  // CRC of "IDAT"
  std::vector<unsigned char> bytes(png.begin(), png.begin() + idat);
  bytes.insert(bytes.end(), empty_idat, empty_idat + 12);  // before the data
  const std::size_t data_length = png[idat + 3];
  bytes.insert(bytes.end(), png.begin() + idat, png.begin() + idat + 12 + data_length);
  bytes.insert(bytes.end(), empty_idat, empty_idat + 12);  // after it
  bytes.insert(bytes.end(), png.begin() + idat + 12 + data_length, png.end());
  REQUIRE(bytes.size() == png.size() + 24);
  const Image<double> a = io::decode_image<double>(bytes.data(), bytes.size(), "empty_idat.png", {1});
  const Image<double> b = io::decode_image<double>(png.data(), png.size(), "gray_4x3.png", {1});
  REQUIRE(a.size() == b.size());
  for (Index i = 0; i < a.size(); ++i) CHECK(a.data()[i] == b.data()[i]);
}

TEST_CASE("decode_image refuses a PNG chunk declaring more bytes than follow, before stb allocates them",
          "[io][image]") {
  // stb_image would first grow its IDAT buffer to the declared length (here 2 GiB) and only then find the
  // data missing.
  std::ifstream in(data_file("gray_4x3.png"), std::ios::binary);
  std::vector<unsigned char> png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  png[33] = 0x7f;
  png[34] = png[35] = png[36] = 0xff;
  CHECK(io::image_info(png.data(), png.size(), "long_idat.png").width == 4);  // the header is fine
  require_error_mentioning([&] { io::decode_image<float>(png.data(), png.size(), "long_idat.png"); },
                           {"decode_image: cannot decode 'long_idat.png' (4x3 pixels declared)",
                            "its IDAT chunk at byte 33 declares 2147483647 bytes, only 32 follow",
                            "expected a complete image"});
  // A chunk type that is not letters is shown in hex.
  png[33] = 0;
  png[37] = 0x01;
  require_error_mentioning([&] { io::decode_image<float>(png.data(), png.size(), "odd.png"); },
                           {"its (type 01 44 41 54) chunk at byte 33 declares 16777215 bytes"});
}

TEST_CASE("load_image refuses a missing file and a directory", "[io][image]") {
  const std::string missing = data_file("no_such_file.png");
  require_error_mentioning([&] { io::load_image<float>(missing); }, {"load_image", missing, "cannot open"});
  const std::string dir = std::string(GCONVNET_TEST_DATA_DIR) + "/io";
  require_error_mentioning([&] { io::load_image<float>(dir); }, {"load_image", dir, "cannot"});
}

TEST_CASE("load_image refuses a PNG declaring a size above the limit, before decoding", "[io][image]") {
  // The file holds only the header (an empty IDAT): a decode attempt would report a zlib error instead.
  const std::string path = data_file("huge_9000x9000.png");
  const io::ImageInfo info = io::image_info(path);
  CHECK(info.width == 9000);
  CHECK(info.height == 9000);
  require_error_mentioning([&] { io::load_image<float>(path); },
                           {"load_image", path, "declares 9000x9000 pixels", "at most 8192x8192", "max_side"});
  // A smaller limit applies to ordinary images too.
  require_error_mentioning([&] { io::load_image<float>(data_file("gray_4x3.png"), {3, 3}); }, {"4x3", "3x3"});
}

TEST_CASE("a PNG declaring more pixels than stb_image reads is refused by its declared size", "[io][image]") {
  // 60000 × 60000 RGB: stb's header reader refuses it (more than 2³⁰ bytes of samples) and, trying every
  // other format, reports "unknown image type"; the size comes from the IHDR chunk instead.
  const std::string path = data_file("huge_60000x60000.png");
  const io::ImageInfo info = io::image_info(path);
  CHECK(info.width == 60000);
  CHECK(info.height == 60000);
  CHECK(info.channels == 3);
  CHECK_FALSE(info.is_16_bit);
  require_error_mentioning([&] { io::load_image<float>(path); },
                           {"load_image", path, "declares 60000x60000 pixels", "at most 8192x8192", "max_side"});
  const std::vector<unsigned char> bytes = read_bytes(path);
  require_error_mentioning([&] { io::decode_image<float>(bytes.data(), bytes.size(), "big.png"); },
                           {"decode_image", "'big.png' declares 60000x60000 pixels"});
  // With the limits raised, stb's own refusal comes through, still with the declared size.
  require_error_mentioning([&] { io::load_image<float>(path, {3, 60000, Index(60000) * 60000}); },
                           {"load_image", "60000x60000 pixels declared", "too large"});
  // A broken IHDR is not mistaken for a large image: a colour type of 7 is refused as unreadable.
  std::vector<unsigned char> bad = bytes;
  bad[25] = 7;
  require_error_mentioning([&] { io::decode_image<float>(bad.data(), bad.size(), "bad.png"); },
                           {"'bad.png' starts like a PNG but its header is not readable"});
}

TEST_CASE("load_image refuses a JPEG declaring a size above the limit, before decoding", "[io][image]") {
  const std::string path = data_file("huge_20000x20000.jpg");
  CHECK(io::image_info(path).width == 20000);
  require_error_mentioning([&] { io::load_image<float>(path); }, {"load_image", path, "20000x20000", "8192"});
}

TEST_CASE("load_image refuses more pixels than options.max_pixels", "[io][image]") {
  const std::string path = data_file("gray_4x3.png");
  require_error_mentioning([&] { io::load_image<float>(path, {1, 100, 11}); },
                           {"load_image", path, "4x3 = 12 pixels", "at most 11", "max_pixels"});
  CHECK(io::load_image<float>(path, {1, 100, 12}).size() == 12);  // the limit itself is accepted
  // The default: 4096² pixels, so the 9000×9000 file is refused by it too when max_side allows.
  require_error_mentioning([&] { io::load_image<float>(data_file("huge_9000x9000.png"), {3, 10000}); },
                           {"81000000 pixels", "at most 16777216"});
}

TEST_CASE("load_image refuses bad options", "[io][image]") {
  const std::string path = data_file("gray_4x3.png");
  require_error_mentioning([&] { io::load_image<float>(path, {2}); }, {"load_image", "options.channels", "is 2"});
  require_error_mentioning([&] { io::load_image<float>(path, {3, 0}); }, {"options.max_side", "is 0"});
  require_error_mentioning([&] { io::load_image<float>(path, {3, 10, -1}); }, {"options.max_pixels", "is -1"});
}

TEST_CASE("save_png then load_image gives back the rounded, clipped intensities", "[io][image]") {
  TempDir dir;
  std::mt19937_64 engine(7);
  std::uniform_real_distribution<double> u(-40.0, 300.0);  // some values outside 0-255 to test clipping
  for (Index C : {Index(1), Index(3), Index(4)}) {
    Image<double> im(C, 5, 7);
    for (Index i = 0; i < im.size(); ++i) im.data()[i] = u(engine);
    const std::string path = dir.path + "/round_trip_" + std::to_string(C) + ".png";
    io::save_png(im, path);
    const io::ImageInfo info = io::image_info(path);
    CHECK(info.channels == C);
    if (C == 4) continue;  // load_image drops alpha by design
    const Image<double> back = io::load_image<double>(path, {C});
    REQUIRE(back.dimension(0) == C);
    REQUIRE(back.dimension(1) == 5);
    REQUIRE(back.dimension(2) == 7);
    for (Index c = 0; c < C; ++c)
      for (Index y = 0; y < 5; ++y)
        for (Index x = 0; x < 7; ++x)
          CHECK(back(c, y, x) == std::round(std::min(255.0, std::max(0.0, im(c, y, x)))));
  }
  // The temporary files of the atomic writes are gone.
  for (const auto& f : dir.files()) CHECK(f.find(".tmp-") == std::string::npos);
}

TEST_CASE("save_png replaces an existing file and refuses an unwritable path or a NaN", "[io][image]") {
  TempDir dir;
  const std::string path = dir.path + "/out.png";
  Image<float> a(1, 2, 2), b(1, 3, 3);
  a.setConstant(10);
  b.setConstant(20);
  io::save_png(a, path);
  io::save_png(b, path);
  const Image<float> back = io::load_image<float>(path, {1});
  CHECK(back.dimension(1) == 3);
  CHECK(back(0, 1, 1) == 20);
  CHECK(dir.files().size() == 1);

  require_error_mentioning([&] { io::save_png(a, dir.path + "/no_such_dir/x.png"); }, {"no_such_dir/x.png"});
  Image<float> bad(3, 2, 2);
  bad.setConstant(std::numeric_limits<float>::quiet_NaN());
  require_error_mentioning([&] { io::save_png(bad, path); }, {"encode_png", "NaN"});
  Image<float> five(5, 2, 2);
  five.setZero();
  require_error_mentioning([&] { io::encode_png(five); }, {"encode_png", "5x2x2"});
}

TEST_CASE("resize_image keeps constants, halves a ramp sensibly, and checks its arguments", "[io][image]") {
  Image<float> flat(3, 16, 12);
  for (Index c = 0; c < 3; ++c)
    for (Index y = 0; y < 16; ++y)
      for (Index x = 0; x < 12; ++x) flat(c, y, x) = 50.0f * static_cast<float>(c + 1);
  for (auto [h, w] : {std::pair<Index, Index>{8, 6}, {32, 20}, {5, 13}}) {
    const Image<float> r = io::resize_image(flat, h, w);
    REQUIRE(r.dimension(0) == 3);
    REQUIRE(r.dimension(1) == h);
    REQUIRE(r.dimension(2) == w);
    for (Index c = 0; c < 3; ++c)
      for (Index y = 0; y < h; ++y)
        for (Index x = 0; x < w; ++x) CHECK(r(c, y, x) == Approx(50.0 * (c + 1)).margin(1e-3));
  }
  // A horizontal ramp shrunk 2× stays a ramp: increasing left to right, constant down each column,
  // mean preserved (the filter is normalised; edges clamp, so allow a little at the ends).
  Image<double> ramp(1, 8, 64);
  for (Index y = 0; y < 8; ++y)
    for (Index x = 0; x < 64; ++x) ramp(0, y, x) = 2.0 * static_cast<double>(x) + 0.5;
  const Image<double> half = io::resize_image(ramp, 4, 32);
  double mean = 0;
  for (Index x = 0; x < 32; ++x) {
    for (Index y = 1; y < 4; ++y) CHECK(half(0, y, x) == Approx(half(0, 0, x)).margin(1e-3));
    if (x > 0) CHECK(half(0, 0, x) > half(0, 0, x - 1));
    if (x > 1 && x < 30) CHECK(half(0, 0, x) == Approx(4.0 * x + 1.5).margin(1e-2));  // centre of 2 source pixels
    mean += half(0, 0, x) / 32;
  }
  CHECK(mean == Approx(64.0).margin(0.5));
  require_error_mentioning([&] { io::resize_image(ramp, 0, 4); }, {"resize_image", "'height'"});
  // Refused before allocating: 2^40 output values do not fit stb_image_resize's int offsets.
  require_error_mentioning([&] { io::resize_image(ramp, Index(1) << 20, Index(1) << 20); },
                           {"resize_image", "1048576, 1048576", "at most 536870911 values"});
}

TEST_CASE("contact_sheet puts the observed image first, then the synthesized ones, with gaps", "[io][image]") {
  Image<float> observed(1, 4, 4);
  observed.setConstant(1);
  gconvnet::Batch<float> synth(1, 4, 4, 3);
  for (Index n = 0; n < 3; ++n)
    for (Index i = 0; i < 16; ++i) synth.data()[n * 16 + i] = static_cast<float>(10 * (n + 1));
  const io::GridOptions opt{0, 2, 255};
  const Image<float> sheet = io::contact_sheet(observed, synth, opt);
  // One row of 4 cells: width 4·4 + 5·2, height 4 + 2·2.
  REQUIRE(sheet.dimension(1) == 8);
  REQUIRE(sheet.dimension(2) == 26);
  CHECK(sheet(0, 0, 0) == 255);      // border gap
  CHECK(sheet(0, 2, 2) == 1);        // observed, first cell
  CHECK(sheet(0, 2, 6) == 255);      // gap between cells
  CHECK(sheet(0, 3, 8) == 10);       // synthesized 0
  CHECK(sheet(0, 3, 14) == 20);      // synthesized 1
  CHECK(sheet(0, 5, 23) == 30);      // synthesized 2
  CHECK(sheet(0, 7, 25) == 255);

  // Two columns: 2 rows; a larger image sets the cell size and a smaller one is centred.
  std::vector<Image<float>> images{observed, Image<float>(1, 6, 6)};
  images[1].setConstant(7);
  images.push_back(observed);
  const Image<float> grid = io::image_grid(images, {2, 1, 0});
  REQUIRE(grid.dimension(1) == 2 * 6 + 3);
  REQUIRE(grid.dimension(2) == 2 * 6 + 3);
  CHECK(grid(0, 1, 1) == 0);  // small image centred: its cell starts with a 1-pixel margin
  CHECK(grid(0, 2, 2) == 1);
  CHECK(grid(0, 1, 8) == 7);
  CHECK(grid(0, 9, 2) == 1);  // third image, second row

  std::vector<Image<float>> mixed{observed, Image<float>(3, 4, 4)};
  require_error_mentioning([&] { io::image_grid(mixed); }, {"image_grid", "image 1", "1 channels"});
}

TEST_CASE("contact_sheet's errors name contact_sheet, not the grid it builds", "[io][image]") {
  Image<float> observed(1, 4, 4), empty(1, 0, 4);
  observed.setConstant(1);
  gconvnet::Batch<float> synth(1, 4, 4, 2);
  synth.setConstant(2);
  io::GridOptions negative;
  negative.columns = -3;
  const auto starts_with = [](const std::string& prefix) { return Catch::Matchers::StartsWith(prefix); };
  CHECK_THROWS_WITH(io::contact_sheet(observed, synth, negative), starts_with("contact_sheet: ") &&
                                                                      Catch::Contains("'options.columns'"));
  CHECK_THROWS_WITH(io::contact_sheet(empty, synth), starts_with("contact_sheet: argument 'observed'"));
  CHECK_THROWS_WITH(io::contact_sheet(observed, gconvnet::Batch<float>(1, 0, 4, 2)),
                    starts_with("contact_sheet: argument 'synthesized'"));
  CHECK_THROWS_WITH(io::image_grid(std::vector<Image<float>>{observed}, negative), starts_with("image_grid: "));
}
