// The loaders that read memory, and what the fuzzers found (one translation unit: both instantiate the
// fuzz harness's learner, which is what costs compile time).
// 1. load_weights_from_memory, load_checkpoint_from_memory, SafetensorsReader::from_memory and the
//    loaders' value checks: NaN/Inf tensors, negative second moments, iteration and step counts out of
//    range are refused with the file named, nothing changed. The model is the fuzz harness's
//    (fuzz/harness.hpp); files are rebuilt tensor by tensor with SafetensorsWriter so that each case
//    changes exactly one thing and the checksum stays valid.
// 2. Every seed of the fuzz corpora (fuzz/corpus/<target>/) and every input the fuzzers once failed on
//    (fuzz/regressions/<target>/) goes through the fuzz harness in an ordinary build: each must load or
//    end in a clean gconvnet::Error. A crash, another exception or a broken invariant (the harness
//    aborts) fails the test run; under GCONVNET_SANITIZE so does a sanitizer report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>

#include "../../fuzz/harness.hpp"

namespace {

using namespace gconvnet;
using fuzz::FuzzNet;
using Bytes = std::vector<unsigned char>;

/// A file name under /tmp, removed when the object goes.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& tag) : path("/tmp/gconvnet_io_ck_" + tag + "_" + std::to_string(::getpid())) {}
  ~TempFile() { std::remove(path.c_str()); }
  Bytes bytes() const {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
};

std::vector<float> flat(FuzzNet& net) {
  std::vector<float> out;
  for (const auto& p : net.parameters()) out.insert(out.end(), p.data, p.data + p.size());
  return out;
}

/// A checkpoint of the harness's model after two SGD or Adam iterations, as bytes.
Bytes checkpoint_bytes(OptimizerOptions::Method method) {
  FuzzNet net = fuzz::make_fuzz_net();
  MleLearner<FuzzNet> learner(net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(method), 3);
  learner.step();
  learner.step();
  TempFile file("source");
  learner.save_checkpoint(file.path);
  return file.bytes();
}

/// The same file rebuilt: `tensor` may change the values of a tensor (by name), `meta` the metadata.
Bytes rebuilt(const Bytes& bytes, const std::function<void(const std::string&, std::vector<float>&)>& tensor,
              const std::function<void(std::map<std::string, std::string>&)>& meta = {}) {
  const io::SafetensorsReader r = io::SafetensorsReader::from_memory(bytes.data(), bytes.size(), "source");
  io::SafetensorsWriter w;
  // In data order, as the library writes them.
  std::vector<std::pair<std::size_t, std::string>> order;
  for (const std::string& name : r.names()) order.emplace_back(r.entry(name).begin, name);
  std::sort(order.begin(), order.end());
  for (const auto& [begin, name] : order) {
    const auto& e = r.entry(name);
    std::vector<float> values((e.end - e.begin) / sizeof(float));
    r.copy_to(name, e.shape, values.data());
    if (tensor) tensor(name, values);
    w.add(name, e.shape, values.data());
  }
  std::map<std::string, std::string> metadata = r.metadata();
  metadata.erase(io::safetensors_checksum_key);
  if (meta) meta(metadata);
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  return w.bytes();
}

/// Requires that `f` throws gconvnet::Error whose message contains every one of `parts`.
template <class F>
void require_error_mentioning(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected gconvnet::Error");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    for (const auto& p : parts) CHECK(what.find(p) != std::string::npos);
  }
}

// --- the fuzz corpora and findings ---

std::string fuzz_dir() { return std::string(GCONVNET_SOURCE_DIR) + "/fuzz"; }

/// The regular files of `dir` (sorted), none when it does not exist.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != ".." && name != "README.md") out.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Runs `input` on every file of corpus/<target> and regressions/<target>; counts the inputs that loaded
/// and those refused with Error. Any other exception fails the test.
template <class Input>
void replay(const std::string& target, Input input, int& loaded, int& refused) {
  for (const char* sub : {"corpus", "regressions"})
    for (const std::string& path : files_in(fuzz_dir() + "/" + sub + "/" + target)) {
      INFO(path);
      const Bytes bytes = read_all(path);
      try {
        input(bytes.data(), bytes.size());
        ++loaded;
      } catch (const gconvnet::Error&) {
        ++refused;
      } catch (const std::exception& e) {
        FAIL("not a gconvnet::Error: " << e.what());
      }
    }
}

}  // namespace

TEST_CASE("load_weights_from_memory and load_checkpoint_from_memory load exactly what the file loads",
          "[io][checkpoint]") {
  const Bytes bytes = checkpoint_bytes(OptimizerOptions::Method::adam);
  TempFile file("same");
  {
    std::ofstream out(file.path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  FuzzNet a = fuzz::make_fuzz_net(), b = fuzz::make_fuzz_net();
  for (const auto& p : b.parameters()) p.vector().setZero();
  io::load_weights(a, file.path);
  io::load_weights_from_memory(b, bytes.data(), bytes.size(), "in memory");
  CHECK(flat(a) == flat(b));
  CHECK(a.depth() == b.depth());

  const auto options = fuzz::fuzz_learning_options(OptimizerOptions::Method::adam);
  FuzzNet c = fuzz::make_fuzz_net(), d = fuzz::make_fuzz_net();
  MleLearner<FuzzNet> from_file(c, fuzz::fuzz_observed(), options, 9);
  MleLearner<FuzzNet> from_memory(d, fuzz::fuzz_observed(), options, 10);
  from_file.load_checkpoint(file.path);
  io::load_checkpoint_from_memory(from_memory, bytes.data(), bytes.size(), "in memory");
  CHECK(from_memory.iteration() == 2);
  from_file.step();
  from_memory.step();  // continuing is bit-identical
  CHECK(flat(c) == flat(d));
  CHECK(from_file.engine() == from_memory.engine());

  // Messages name the function and the given name; a null pointer with a size is refused.
  require_error_mentioning([&] { io::load_weights_from_memory(a, bytes.data(), 5, "five bytes"); },
                           {"load_weights: 'five bytes'", "truncated"});
  require_error_mentioning([&] { io::load_checkpoint_from_memory(from_memory, nullptr, 0, "nothing"); },
                           {"MleLearner::load_checkpoint: 'nothing'", "truncated"});
  require_error_mentioning([&] { io::SafetensorsReader::from_memory(nullptr, 3, "null"); },
                           {"SafetensorsReader::from_memory", "'data' is null"});
}

TEST_CASE("load_weights refuses NaN or Inf weights and leaves the model unchanged", "[io][checkpoint]") {
  const Bytes good = checkpoint_bytes(OptimizerOptions::Method::sgd);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const Bytes bytes = rebuilt(good, [&](const std::string& name, std::vector<float>& v) {
      if (name == "layer2.weight") v[5] = bad;
    });
    FuzzNet net = fuzz::make_fuzz_net();
    const std::vector<float> before = flat(net);
    require_error_mentioning([&] { io::load_weights_from_memory(net, bytes.data(), bytes.size(), "bad.safetensors"); },
                             {"load_weights: 'bad.safetensors'", "tensor 'layer2.weight'", "at element 5",
                              "expected finite values"});
    CHECK(flat(net) == before);
  }
  // The rebuilt file itself is fine when nothing is changed.
  const Bytes same = rebuilt(good, {});
  FuzzNet net = fuzz::make_fuzz_net();
  io::load_weights_from_memory(net, same.data(), same.size(), "same");
}

TEST_CASE("load_checkpoint refuses non-finite chains and moments, negative second moments", "[io][checkpoint]") {
  const Bytes sgd = checkpoint_bytes(OptimizerOptions::Method::sgd);
  const Bytes adam = checkpoint_bytes(OptimizerOptions::Method::adam);
  struct Case {
    OptimizerOptions::Method method;
    std::string tensor;
    float value;
    std::string message;
  };
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<Case> cases = {
      {OptimizerOptions::Method::sgd, "chains", -inf, "expected finite values"},
      {OptimizerOptions::Method::sgd, "optimizer.first_moment.layer0.bias", std::nanf(""), "expected finite values"},
      {OptimizerOptions::Method::adam, "optimizer.second_moment.layer0.weight", -1e-3f, "expected values >= 0"},
      {OptimizerOptions::Method::adam, "optimizer.second_moment.layer2.bias", inf, "expected finite values"},
  };
  for (const Case& c : cases) {
    INFO(c.tensor);
    const Bytes& good = c.method == OptimizerOptions::Method::sgd ? sgd : adam;
    const Bytes bytes = rebuilt(good, [&](const std::string& name, std::vector<float>& v) {
      if (name == c.tensor) v[1] = c.value;
    });
    FuzzNet net = fuzz::make_fuzz_net();
    MleLearner<FuzzNet> learner(net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(c.method), 1);
    const std::vector<float> before = flat(net);
    require_error_mentioning(
        [&] { io::load_checkpoint_from_memory(learner, bytes.data(), bytes.size(), "bad.safetensors"); },
        {"MleLearner::load_checkpoint: 'bad.safetensors'", "tensor '" + c.tensor + "'", "at element 1", c.message});
    CHECK(flat(net) == before);
    CHECK(learner.iteration() == 0);
  }
}

TEST_CASE("load_checkpoint refuses iteration, optimizer step counts and learning rates out of range", "[io][checkpoint]") {
  const Bytes good = checkpoint_bytes(OptimizerOptions::Method::adam);
  struct Case {
    std::string key, value, message;
  };
  const std::vector<Case> cases = {
      {"iteration", "9223372036854775807", "has iteration 9223372036854775807, expected 0..9007199254740992"},
      {"iteration", "-1", "has iteration -1, expected 0..9007199254740992"},
      {"iteration", "12x", "has metadata 'iteration' = '12x', expected an integer"},
      {"optimizer.steps", "[2,2,-1,2]", "optimizer.steps' (expected integers 0..9007199254740992, found -1)"},
      {"optimizer.steps", "[2,2,18446744073709551615,2]", "found 18446744073709551615"},
      {"optimizer.steps", "[2,2,2.5,2]", "found 2.5"},
      {"optimizer.steps", "[2,2", "unreadable metadata 'optimizer.steps'"},
      {"optimizer.steps", "[2,2,2]", "does not fit this learner: field 'optimizer.steps' has 3 entries, expected 4"},
      {"learning_rate", "0.01x", "has metadata 'learning_rate' = '0.01x', expected a finite number"},
      {"learning_rate", "inf", "has metadata 'learning_rate' = 'inf', expected a finite number"},
      {"learning_rate", "-0.5", "does not fit this learner: field 'learning_rate' is -0.5, expected a finite value > 0"},
  };
  for (const Case& c : cases) {
    INFO(c.key << " = " << c.value);
    const Bytes bytes = rebuilt(good, {}, [&](std::map<std::string, std::string>& m) { m[c.key] = c.value; });
    FuzzNet net = fuzz::make_fuzz_net();
    MleLearner<FuzzNet> learner(
        net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(OptimizerOptions::Method::adam), 1);
    require_error_mentioning(
        [&] { io::load_checkpoint_from_memory(learner, bytes.data(), bytes.size(), "bad.safetensors"); },
        {"MleLearner::load_checkpoint: 'bad.safetensors'", c.message});
    CHECK(learner.iteration() == 0);
  }
  // The largest accepted counts load.
  const Bytes big = rebuilt(good, {}, [](std::map<std::string, std::string>& m) {
    m["iteration"] = "9007199254740992";
    m["optimizer.steps"] = "[9007199254740992,1,1,1]";
  });
  FuzzNet net = fuzz::make_fuzz_net();
  MleLearner<FuzzNet> learner(net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(OptimizerOptions::Method::adam), 1);
  io::load_checkpoint_from_memory(learner, big.data(), big.size(), "big.safetensors");
  CHECK(learner.iteration() == Index(1) << 53);
}

TEST_CASE("fuzz_image: every seed and every past finding decodes or is refused with an Error", "[io][fuzz]") {
  int loaded = 0, refused = 0;
  replay("fuzz_image", gconvnet::fuzz::image_input, loaded, refused);
  // The seeds hold 13 images stb decodes (PNG, JPEG, BMP, GIF) and refused ones (16-bit, truncated, TGA,
  // PNM, huge, text), the past findings are refused.
  CHECK(loaded >= 13);
  CHECK(refused >= 12);
  // Each past finding is refused (before stb_image reads it: see detail_image::image_format and
  // jpeg_huffman_problem).
  const auto findings = files_in(fuzz_dir() + "/regressions/fuzz_image");
  CHECK(findings.size() >= 3);
  for (const std::string& path : findings) {
    INFO(path);
    const Bytes bytes = read_all(path);
    CHECK_THROWS_AS(gconvnet::fuzz::image_input(bytes.data(), bytes.size()), gconvnet::Error);
  }
}

TEST_CASE("fuzz_checkpoint: every seed and every past finding loads or is refused with an Error", "[io][fuzz]") {
  int loaded = 0, refused = 0;
  // checkpoint_input catches Error itself (it tries three loaders); it returns normally either way.
  replay("fuzz_checkpoint", gconvnet::fuzz::checkpoint_input, loaded, refused);
  CHECK(loaded >= 6);
  // The seeds themselves load: checksum or not, into the learner of their optimizer.
  using gconvnet::fuzz::FuzzNet;
  using gconvnet::OptimizerOptions;
  for (const char* name : {"sgd", "sgd_nosum", "adam_stage1", "adam_stage1_nosum"}) {
    INFO(name);
    const Bytes bytes = read_all(fuzz_dir() + "/corpus/fuzz_checkpoint/" + name + ".safetensors");
    const auto method = name[0] == 's' ? OptimizerOptions::Method::sgd : OptimizerOptions::Method::adam;
    FuzzNet net = gconvnet::fuzz::make_fuzz_net();
    gconvnet::MleLearner<FuzzNet> learner(net, gconvnet::fuzz::fuzz_observed(),
                                          gconvnet::fuzz::fuzz_learning_options(method), 1);
    gconvnet::io::load_checkpoint_from_memory(learner, bytes.data(), bytes.size(), name);
    CHECK(learner.iteration() == 2);
  }
  for (const char* name : {"weights", "weights_nosum"}) {
    const Bytes bytes = read_all(fuzz_dir() + "/corpus/fuzz_checkpoint/" + name + ".safetensors");
    FuzzNet net = gconvnet::fuzz::make_fuzz_net();
    gconvnet::io::load_weights_from_memory(net, bytes.data(), bytes.size(), name);
    CHECK(net.depth() == 2);
  }
}
