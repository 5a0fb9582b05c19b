// The documented errors of io/ (docs/errors.md, "I/O"): one test case per group of entries, each
// provoking the error — with a file from tests/data/io, a file written and then damaged, or bytes
// crafted in memory — and matching the whole message against the catalogue's template.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/atomic_file.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/io/safetensors.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using Catch::StartsWith;
using reliability::expect_error;
namespace fs = std::filesystem;

namespace {

std::string data_file(const std::string& name) { return std::string(GCONVNET_TEST_DATA_DIR) + "/io/" + name; }

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// A fresh directory, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/gconvnet_reliability_XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

/// A safetensors file from its header text and data bytes (the length field is computed).
std::vector<unsigned char> safetensors_bytes(const std::string& header, std::size_t data_bytes = 0) {
  std::vector<unsigned char> out(8 + header.size() + data_bytes, 0);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  return out;
}

/// Reads crafted bytes as the function "test" does.
void read_crafted(const std::vector<unsigned char>& bytes) {
  io::SafetensorsReader::from_memory(bytes.data(), bytes.size(), "crafted.safetensors", "test");
}

/// A copy of the safetensors file `path` (float tensors) with its metadata and values edited.
std::vector<unsigned char> rewrite(const std::string& path, const std::function<void(std::map<std::string, std::string>&)>& edit,
                                   const std::function<void(const std::string&, std::vector<float>&)>& values = {}) {
  const auto r = io::SafetensorsReader::read(path);
  io::SafetensorsWriter w;
  for (const auto& name : r.names()) {
    const auto& e = r.entry(name);
    std::size_t n = 1;
    for (Index d : e.shape) n *= static_cast<std::size_t>(d);
    std::vector<float> v(n);
    r.copy_to(name, e.shape, v.data());
    if (values) values(name, v);
    w.add(name, e.shape, v.data());
  }
  auto meta = r.metadata();
  meta.erase(io::safetensors_checksum_key);
  edit(meta);
  for (const auto& [k, v] : meta) w.set_metadata(k, v);
  return w.bytes();
}

using Model = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

Model small_model(Index filters = 3) {
  Model model(Shape{1, 8, 8}, Conv<float>(filters, 3).padding(1), ReLU<float>{}, Conv<float>(2, 3).padding(1), ReLU<float>{});
  std::mt19937_64 engine(7);
  initialize_normal(model, engine, 0.1);
  return model;
}

Batch<float> observed_images() {
  Batch<float> b = make_batch<float>(Shape{1, 8, 8}, 2);
  std::mt19937_64 engine(8);
  std::normal_distribution<float> normal;
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = normal(engine);
  return b;
}

LearningOptions small_options(Index chains = 2, bool adam = false) {
  LearningOptions o;
  o.chains = chains;
  o.langevin = {0.3, 1, 1.0};
  if (adam) o.optimizer.method = OptimizerOptions::Method::adam;
  return o;
}

/// A directory with a checkpoint (MLE, SGD, 2 chains, after one step), its weights, and an Adam checkpoint.
struct Files {
  TempDir dir;
  std::string checkpoint = dir / "checkpoint.safetensors", weights = dir / "weights.safetensors",
              adam = dir / "adam.safetensors";
  Files() {
    Model model = small_model();
    MleLearner<Model> learner(model, observed_images(), small_options(), 1);
    learner.step();
    io::save_checkpoint(learner, checkpoint);
    io::save_weights(model, weights);
    Model model2 = small_model();
    MleLearner<Model> adam_learner(model2, observed_images(), small_options(2, true), 1);
    adam_learner.step();
    io::save_checkpoint(adam_learner, adam);
  }
  /// Writes bytes to a new file in the directory and returns its path.
  std::string file(const std::string& name, const std::vector<unsigned char>& bytes) const {
    const std::string path = dir / name;
    io::write_file_atomically(path, bytes);
    return path;
  }
};

}  // namespace

TEST_CASE("io.atomic.*: write_file_atomically", "[reliability][errors][io]") {
  TempDir dir;
  const std::vector<unsigned char> bytes(1000, 7);
  expect_error("io.atomic.path_empty", [&] { io::write_file_atomically("", bytes); });
  expect_error("io.atomic.data_null", [&] { io::write_file_atomically(dir / "x", nullptr, 5); });
  CHECK_THAT(expect_error("io.atomic.temporary", [&] { io::write_file_atomically(dir / "no/such/dir/x.png", bytes); }),
             Contains("No such file or directory"));
  // a file size limit of 16 bytes (SIGXFSZ ignored): the write fails with EFBIG, the temporary file goes
  {
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small = old;
    small.rlim_cur = 16;
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string what = expect_error("io.atomic.write", [&] { io::write_file_atomically(dir / "big", bytes); });
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, previous);
    CHECK_THAT(what, Contains("cannot write '"));
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 0);
  }
  // the destination is a directory
  fs::create_directories(dir.path / "occupied" / "inside");
  CHECK_THAT(expect_error("io.atomic.rename", [&] { io::write_file_atomically(dir / "occupied", bytes); }),
             Contains("occupied'"));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temporary file left
}

TEST_CASE("io.atomic.*: the public writers name themselves, not write_file_atomically", "[reliability][errors][io]") {
  TempDir dir;
  const std::string missing = dir / "no/such/dir/out";
  Model model = small_model();
  MleLearner<Model> learner(model, observed_images(), small_options(), 1);
  CHECK_THAT(expect_error("io.atomic.temporary", [&] { io::save_weights(model, missing); }),
             StartsWith("save_weights: cannot create a temporary file next to '"));
  CHECK_THAT(expect_error("io.atomic.temporary", [&] { io::save_checkpoint(learner, missing); }),
             StartsWith("MleLearner::save_checkpoint: cannot create a temporary file next to '"));
  CHECK_THAT(expect_error("io.atomic.temporary", [&] { learner.save_checkpoint(missing); }),
             StartsWith("MleLearner::save_checkpoint: "));
  Image<float> image(1, 2, 2);
  image.setZero();
  CHECK_THAT(expect_error("io.atomic.path_empty", [&] { io::save_png(image, ""); }),
             StartsWith("save_png: argument 'path' is empty"));
  CHECK_THAT(expect_error("io.atomic.temporary", [&] { io::SafetensorsWriter().write(missing); }),
             StartsWith("SafetensorsWriter::write: "));
  CdLearner<Model> cd(model, observed_images(), small_options(), 1);
  CHECK_THAT(expect_error("io.atomic.rename", [&] { io::save_checkpoint(cd, dir.path.string()); }),
             StartsWith("CdLearner::save_checkpoint: cannot rename the temporary file to '"));
}

TEST_CASE("io.image.*: reading files", "[reliability][errors][io]") {
  CHECK_THAT(expect_error("io.image.open", [] { io::load_image<float>(data_file("no_such.png")); }),
             StartsWith("load_image: cannot open '"));
  CHECK_THAT(expect_error("io.image.read", [] { io::image_info(std::string(GCONVNET_TEST_DATA_DIR) + "/io"); }),
             StartsWith("image_info: cannot read '"));
  CHECK_THAT(expect_error("io.image.empty", [] { io::load_image<float>(data_file("empty.png")); }),
             Contains("is empty (0 bytes)"));
  CHECK_THAT(expect_error("io.image.not_an_image", [] { io::load_image<float>(data_file("gray_4x3.tga")); }),
             Contains("its first bytes are "));
  CHECK_THAT(expect_error("io.image.16_bit", [] { io::load_image<float>(data_file("gray16_4x4.png")); }),
             Contains("gray16_4x4.png' has 16 bits"));
  CHECK_THAT(expect_error("io.image.decode", [] { io::load_image<float>(data_file("truncated.png")); }),
             Contains("(16x16 pixels declared)"));
  CHECK_THAT(expect_error("io.image.max_side", [] { io::load_image<float>(data_file("huge_9000x9000.png")); }),
             Contains("declares 9000x9000 pixels, expected at most 8192x8192"));
  CHECK_THAT(expect_error("io.image.max_pixels", [] { io::load_image<float>(data_file("gray_4x3.png"), {1, 100, 11}); }),
             Contains("4x3 = 12 pixels, expected at most 11"));
  CHECK_THAT(expect_error("io.image.options_channels", [] { io::load_image<float>(data_file("gray_4x3.png"), {2}); }),
             Contains("is 2,"));
  expect_error("io.image.options_max_side", [] { io::load_image<float>(data_file("gray_4x3.png"), {3, 0}); });
  expect_error("io.image.options_max_pixels", [] { io::load_image<float>(data_file("gray_4x3.png"), {3, 10, -1}); });
}

TEST_CASE("io.image.*: decoding memory", "[reliability][errors][io]") {
  CHECK_THAT(expect_error("io.image.data_null", [] { io::decode_image<float>(nullptr, 10, "none"); }),
             Contains("null for 10 bytes of 'none'"));
  // the size is checked before a byte is read
  const unsigned char one = 0;
  const std::size_t too_many = static_cast<std::size_t>(std::numeric_limits<int>::max()) + 1;
  CHECK_THAT(expect_error("io.image.too_many_bytes", [&] { io::decode_image<float>(&one, too_many, "huge"); }),
             Contains("'huge' has 2147483648 bytes"));
  // a PNG signature followed by junk
  const std::string junk = "\x89PNG\r\n\x1a\nthis is not a PNG header";
  const std::vector<unsigned char> png(junk.begin(), junk.end());
  CHECK_THAT(expect_error("io.image.header_unreadable", [&] { io::decode_image<float>(png.data(), png.size(), "junk.png"); }),
             Contains("'junk.png' starts like a PNG"));
  // a JPEG whose first Huffman table declares 512 codes
  std::vector<unsigned char> jpeg = read_bytes(data_file("solid_8x8.jpg"));
  std::size_t dht = 0;
  while (dht + 1 < jpeg.size() && !(jpeg[dht] == 0xFF && jpeg[dht + 1] == 0xC4)) ++dht;
  REQUIRE(dht + 21 < jpeg.size());
  for (std::size_t k = 0; k < 16; ++k) jpeg[dht + 5 + k] = 0x20;
  CHECK_THAT(expect_error("io.image.corrupt_jpeg", [&] { io::decode_image<float>(jpeg.data(), jpeg.size(), "dht.jpg"); }),
             Contains("512 codes"));
}

TEST_CASE("io.image.*: resizing, channel means, PNG, grids", "[reliability][errors][io]") {
  Image<float> rgb(3, 4, 4), gray(1, 4, 4), wide(5, 2, 2), none(3, 0, 0);
  rgb.setConstant(10);
  gray.setConstant(10);
  wide.setConstant(1);
  CHECK_THAT(expect_error("io.image.resize_shape", [&] { io::resize_image(none, 2, 2); }),
             Contains("argument 'image' has shape 3x0x0"));
  Image<float> many(65, 1, 1);
  many.setZero();
  expect_error("io.image.resize_shape", [&] { io::resize_image(many, 2, 2); });
  CHECK_THAT(expect_error("io.image.resize_size", [&] { io::resize_image(rgb, 0, 3); }), Contains("are 0, 3"));
  CHECK_THAT(expect_error("io.image.resize_too_large", [&] { io::resize_image(gray, Index(1) << 20, Index(1) << 20); }),
             Contains("with 1 channels"));
  CHECK_THAT(expect_error("io.image.png_shape", [&] { io::encode_png(wide); }), Contains("5x2x2"));
  TempDir dir;
  Image<float> bad = rgb;
  bad(1, 2, 3) = std::nan("");
  CHECK_THAT(expect_error("io.image.png_not_finite", [&] { io::save_png(bad, dir / "bad.png"); }),
             StartsWith("encode_png: "));
  CHECK(!fs::exists(dir / "bad.png"));
  expect_error("io.image.grid_empty", [&] { io::image_grid(std::vector<Image<float>>{}); });
  io::GridOptions negative;
  negative.gap = -1;
  CHECK_THAT(expect_error("io.image.grid_options", [&] { io::image_grid(std::vector<Image<float>>{rgb}, negative); }),
             Contains("are -1, 0"));
  CHECK_THAT(expect_error("io.image.grid_channels", [&] { io::image_grid(std::vector<Image<float>>{rgb, gray}); }),
             Contains("image 1 has shape 1x4x4, expected a non-empty image with 3 channels"));
  CHECK_THAT(expect_error("io.image.contact_sheet", [&] { io::contact_sheet(rgb, as_batch(gray)); }),
             Contains("1x4x4x1, expected at least one non-empty image with 3 channels"));
  // contact_sheet's messages name contact_sheet, also where the grid refuses its options
  CHECK_THAT(expect_error("io.image.grid_options", [&] { io::contact_sheet(rgb, as_batch(rgb), negative); }),
             StartsWith("contact_sheet: ") && Contains("are -1, 0"));
  CHECK_THAT(expect_error("io.image.contact_sheet_observed", [&] { io::contact_sheet(none, as_batch(rgb)); }),
             StartsWith("contact_sheet: argument 'observed' has shape 3x0x0"));
}

TEST_CASE("io.safetensors.writer_*: SafetensorsWriter::add", "[reliability][errors][io]") {
  io::SafetensorsWriter w;
  const float x[2] = {1, 2};
  CHECK_THAT(expect_error("io.safetensors.writer_name", [&] { w.add("", {2}, x); }), Contains("is ''"));
  expect_error("io.safetensors.writer_name", [&] { w.add("__metadata__", {2}, x); });
  w.add("a", {2}, x);
  CHECK_THAT(expect_error("io.safetensors.writer_duplicate", [&] { w.add("a", {2}, x); }), Contains("tensor 'a'"));
  CHECK_THAT(expect_error("io.safetensors.writer_extent", [&] { w.add("b", {2, -1}, x); }), Contains("extent -1"));
  expect_error("io.safetensors.writer_data_null", [&] { w.add("c", {2}, static_cast<const float*>(nullptr)); });
}

TEST_CASE("io.safetensors.*: reading files and tensors", "[reliability][errors][io]") {
  TempDir dir;
  CHECK_THAT(expect_error("io.safetensors.open", [&] { io::SafetensorsReader::read(dir / "missing.safetensors", "test"); }),
             StartsWith("test: cannot open '"));
  expect_error("io.safetensors.data_null", [&] { io::SafetensorsReader::from_memory(nullptr, 3, "x", "test"); });
  io::SafetensorsWriter w;
  const float x[6] = {1, 2, 3, 4, 5, 6};
  w.add("t", {2, 3}, x);
  w.set_metadata("format", "test");
  const auto bytes = w.bytes();
  const auto r = io::SafetensorsReader::from_memory(bytes.data(), bytes.size(), "ok.safetensors", "test");
  CHECK_THAT(expect_error("io.safetensors.no_metadata", [&] { r.metadata("depth"); }),
             Contains("'ok.safetensors' has no metadata entry 'depth'"));
  expect_error("io.safetensors.no_tensor", [&] { r.entry("u"); });
  double d[6];
  float f[6];
  CHECK_THAT(expect_error("io.safetensors.dtype", [&] { r.copy_to("t", {2, 3}, d); }), Contains("has dtype F32, expected F64"));
  CHECK_THAT(expect_error("io.safetensors.shape", [&] { r.copy_to("t", {3, 2}, f); }),
             Contains("has shape [2, 3], expected [3, 2]"));
  // one flipped data byte
  auto flipped = bytes;
  flipped.back() ^= 0x01;
  expect_error("io.safetensors.checksum", [&] { read_crafted(flipped); });
}

// Reading a directory: std::ifstream opens it, and libstdc++ then throws std::ios_base::failure
// ("basic_filebuf::underflow error reading the file: Is a directory") — the reader turns it into an Error,
// and so do the loaders that use it.
TEST_CASE("io.safetensors.read: a directory", "[reliability][errors][io]") {
  TempDir dir;
  CHECK_THAT(expect_error("io.safetensors.read", [&] { io::SafetensorsReader::read(dir.path.string(), "test"); }),
             Contains("': it is a directory"));
  Model model = small_model();
  CHECK_THAT(expect_error("io.safetensors.read", [&] { io::load_weights(model, dir.path.string()); }),
             StartsWith("load_weights: cannot read '"));
  MleLearner<Model> learner(model, observed_images(), small_options(), 1);
  CHECK_THAT(expect_error("io.safetensors.read", [&] { io::load_checkpoint(learner, dir.path.string()); }),
             StartsWith("MleLearner::load_checkpoint: cannot read '"));
}

TEST_CASE("io.safetensors.*: damaged headers", "[reliability][errors][io]") {
  const std::vector<unsigned char> short_file{1, 2, 3};
  CHECK_THAT(expect_error("io.safetensors.too_short", [&] { read_crafted(short_file); }), Contains(": 3 bytes"));
  auto claims = safetensors_bytes("{}");
  claims[0] = 200;  // the header "claims" 200 bytes, 2 follow
  CHECK_THAT(expect_error("io.safetensors.header_length", [&] { read_crafted(claims); }), Contains("claims 200 bytes but only 2"));
  expect_error("io.safetensors.json", [&] { read_crafted(safetensors_bytes("{not json")); });
  expect_error("io.safetensors.not_object", [&] { read_crafted(safetensors_bytes("[1, 2]")); });
  expect_error("io.safetensors.metadata_not_object", [&] { read_crafted(safetensors_bytes(R"({"__metadata__": 5})")); });
  CHECK_THAT(expect_error("io.safetensors.metadata_not_string",
                          [&] { read_crafted(safetensors_bytes(R"({"__metadata__": {"k": 1}})")); }),
             Contains("entry 'k'"));
  expect_error("io.safetensors.entry_fields", [&] { read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32"}})")); });
  expect_error("io.safetensors.dtype_not_string", [&] {
    read_crafted(safetensors_bytes(R"({"t": {"dtype": 1, "shape": [1], "data_offsets": [0, 4]}})", 4));
  });
  CHECK_THAT(expect_error("io.safetensors.unknown_dtype", [&] {
               read_crafted(safetensors_bytes(R"({"t": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}})", 4));
             }),
             Contains("unknown dtype 'X9'"));
  expect_error("io.safetensors.shape_not_array", [&] {
    read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", 4));
  });
  expect_error("io.safetensors.shape_entry", [&] {
    read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4));
  });
  expect_error("io.safetensors.impossible_shape", [&] {
    read_crafted(safetensors_bytes(
        R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4));
  });
  expect_error("io.safetensors.offsets", [&] {
    read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4));
  });
  CHECK_THAT(expect_error("io.safetensors.span", [&] {
               read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4));
             }),
             Contains("spans bytes [0, 8) of a data section of 4 bytes"));
  CHECK_THAT(expect_error("io.safetensors.size_mismatch", [&] {
               read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4));
             }),
             Contains("has 4 bytes, its dtype F32 and shape [2] need 8"));
  CHECK_THAT(expect_error("io.safetensors.overlap_gap", [&] {
               read_crafted(safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                                              R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                                              12));
             }),
             Contains("its tensors leave a gap at byte 4"));
  CHECK_THAT(expect_error("io.safetensors.coverage", [&] {
               read_crafted(safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8));
             }),
             Contains("has 8 bytes but the tensors cover 4"));
}

TEST_CASE("io.checkpoint.*: weights files", "[reliability][errors][io]") {
  const Files files;
  Model model = small_model();
  const auto meta = [&](const char* key, const char* value) {
    return files.file(std::string(key) + ".safetensors",
                      rewrite(files.weights, [&](std::map<std::string, std::string>& m) { m[key] = value; }));
  };
  CHECK_THAT(expect_error("io.checkpoint.integer", [&] { io::load_weights(model, meta("depth", "two")); }),
             StartsWith("load_weights: '") && Contains("has metadata 'depth' = 'two'"));
  CHECK_THAT(expect_error("io.checkpoint.weights_depth", [&] { io::load_weights(model, meta("depth", "9")); }),
             Contains("has depth 9, expected 1..4"));
  CHECK_THAT(expect_error("io.checkpoint.weights_format", [&] { io::load_weights(model, meta("format", "pytorch")); }),
             Contains("has format 'pytorch'"));
  Model other = small_model(4);
  expect_error("io.checkpoint.architecture", [&] { io::load_weights(other, files.weights); });
  const std::string nan = files.file("nan.safetensors", rewrite(files.weights, [](auto&) {}, [](const std::string& name, std::vector<float>& v) {
    if (name == "layer2.weight") v[3] = std::numeric_limits<float>::quiet_NaN();
  }));
  CHECK_THAT(expect_error("io.checkpoint.not_finite", [&] { io::load_weights(model, nan); }),
             Contains("tensor 'layer2.weight' holding nan at element 3"));
}

TEST_CASE("io.checkpoint.*: learner checkpoints", "[reliability][errors][io]") {
  const Files files;
  Model model = small_model();
  MleLearner<Model> learner(model, observed_images(), small_options(), 1);
  const auto meta = [&](const char* key, const char* value) {
    return files.file(std::string(key) + ".safetensors",
                      rewrite(files.checkpoint, [&](std::map<std::string, std::string>& m) { m[key] = value; }));
  };
  const auto load = [&](const std::string& path) { return [&learner, path] { io::load_checkpoint(learner, path); }; };
  CHECK_THAT(expect_error("io.checkpoint.format", load(files.weights)),
             StartsWith("MleLearner::load_checkpoint: '") && Contains("has format 'gconvnet.weights.v1'"));
  CHECK_THAT(expect_error("io.checkpoint.integer", load(meta("iteration", "1.5"))), Contains("'iteration' = '1.5'"));
  CHECK_THAT(expect_error("io.checkpoint.count", load(meta("iteration", "-1"))), Contains("has iteration -1"));
  CHECK_THAT(expect_error("io.checkpoint.count", load(meta("stage", "-2"))), Contains("has stage -2"));
  CHECK_THAT(expect_error("io.checkpoint.state", load(meta("stage", "5"))),
             Contains("does not fit this learner: field 'stage' is 5, expected 0..1"));
  CHECK_THAT(expect_error("io.checkpoint.stage_depth", load(meta("depth", "4"))),
             Contains("has depth 4 for stage 0, expected 2"));
  CHECK_THAT(expect_error("io.checkpoint.optimizer_steps", load(meta("optimizer.steps", "[-1, 0, 0, 0]"))),
             Contains("'optimizer.steps' ("));
  CHECK_THAT(expect_error("io.checkpoint.state", load(meta("optimizer.steps", "[1, 2]"))),
             Contains("field 'optimizer.steps' has 2 entries, expected 4"));
  CHECK_THAT(expect_error("io.checkpoint.state", load(meta("learning_rate", "0"))),
             Contains("field 'learning_rate' is 0, expected a finite value > 0"));
  CHECK_THAT(expect_error("io.checkpoint.number", load(meta("learning_rate", "1e-3 "))),
             Contains("has metadata 'learning_rate' = '1e-3 ', expected a finite number"));
  expect_error("io.checkpoint.engine", load(meta("engine", "not an engine")));
  CHECK(learner.iteration() == 0);  // every refusal left the learner as it was

  CdLearner<Model> cd(model, observed_images(), small_options(), 1);
  CHECK_THAT(expect_error("io.checkpoint.learner", [&] { io::load_checkpoint(cd, files.checkpoint); }),
             Contains("was written by a MleLearner, not a CdLearner"));
  MleLearner<Model> three(model, observed_images(), small_options(3), 1);
  CHECK_THAT(expect_error("io.checkpoint.chains", [&] { io::load_checkpoint(three, files.checkpoint); }),
             Contains("holds 2 chains, this learner has 3"));
  MleLearner<Model> adam(model, observed_images(), small_options(2, true), 1);
  CHECK_THAT(expect_error("io.checkpoint.optimizer_method", [&] { io::load_checkpoint(adam, files.checkpoint); }),
             Contains("optimizer 'sgd', this learner uses 'adam'"));
  const std::string negative = files.file("negative.safetensors", rewrite(files.adam, [](auto&) {}, [](const std::string& name, std::vector<float>& v) {
    if (name == "optimizer.second_moment.layer0.weight") v[0] = -1;
  }));
  CHECK_THAT(expect_error("io.checkpoint.negative", [&] { io::load_checkpoint(adam, negative); }),
             Contains("holding -1 at element 0, expected values >= 0"));
}
