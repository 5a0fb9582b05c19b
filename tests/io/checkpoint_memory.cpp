// Loading weights and checkpoints from memory (load_weights_from_memory, load_checkpoint_from_memory,
// SafetensorsReader::from_memory) and the loaders' value checks: NaN/Inf tensors, negative second
// moments, iteration and step counts out of range are refused with the file named, nothing changed.
// The model is the fuzz harness's (fuzz/harness.hpp); files are rebuilt tensor by tensor with
// SafetensorsWriter so that each case changes exactly one thing and the checksum stays valid.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

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

TEST_CASE("load_checkpoint refuses iteration and optimizer step counts out of range", "[io][checkpoint]") {
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
      {"optimizer.steps", "[2,2,2]", "has 3 optimizer step counts, expected 4"},
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
