// Checkpoints (io/checkpoint.hpp): bit-identical resumption, weights alone, the safetensors layout,
// refusal of truncated / corrupted / mismatched files, atomic replacement.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/learning/cd_learner.hpp>
#include <gconvnet/learning/mle_learner.hpp>

#include "learning_helpers.hpp"

using namespace gconvnet;
using namespace learning_test;
namespace fs = std::filesystem;

namespace {

template <class S>
using Net = EnergyModel<Conv<S>, ReLU<S>, Conv<S>, ReLU<S>>;

template <class S>
Net<S> make_net(std::uint64_t seed) {
  Net<S> net(Shape{1, 8, 8}, Conv<S>(4, 3).padding(1), ReLU<S>{}, Conv<S>(2, 3), ReLU<S>{});
  std::mt19937_64 engine(seed);
  initialize_normal(net, engine, 0.1);
  return net;
}

template <class S>
Batch<S> observed_images() {
  std::mt19937_64 engine(77);
  Batch<S> b = make_batch<S>(Shape{1, 8, 8}, 2);
  fill_standard_normal(engine, b);
  as_vector(b) *= S(4);
  return b;
}

LearningOptions options_for(OptimizerOptions::Method method) {
  LearningOptions o;
  o.chains = 3;
  o.langevin = {0.3, 3, 1.0};
  o.chain_init = LearningOptions::ChainInit::noise;
  o.optimizer.method = method;
  o.optimizer.momentum = method == OptimizerOptions::Method::sgd ? 0.9 : 0.0;
  o.optimizer.learning_rate = method == OptimizerOptions::Method::sgd ? 0.01 : 0.003;
  return o;
}

// The schedule: iterations [from, to), growing to stage 1 before iteration 6.
template <class Learner>
void run(Learner& learner, Index from, Index to) {
  REQUIRE(learner.iteration() == from);
  for (Index t = from; t < to; ++t) {
    if (t == 6) learner.set_stage(1);
    learner.step();
  }
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("gconvnet_learning_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t count() const { return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), fs::directory_iterator())); }
};

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class S>
void check_resume(OptimizerOptions::Method method, const std::string& tag) {
  TempDir dir("resume_" + tag);
  const Batch<S> observed = observed_images<S>();
  const LearningOptions options = options_for(method);

  auto model_a = make_net<S>(1);
  MleLearner uninterrupted(model_a, observed, options, 42);
  run(uninterrupted, 0, 12);

  // Interrupted after iterations 3, 6 and 9; each time a fresh model (other initial weights) and a
  // fresh learner (other seed) load the checkpoint and go on.
  auto model_b = make_net<S>(1);
  MleLearner first(model_b, observed, options, 42);
  run(first, 0, 3);
  first.save_checkpoint(dir.file("ck.safetensors"));
  const Index cuts[] = {3, 6, 9, 12};
  auto model = make_net<S>(100);
  for (int i = 0; i < 3; ++i) {
    model = make_net<S>(100 + static_cast<std::uint64_t>(i));
    MleLearner resumed(model, observed, options, 1000 + static_cast<std::uint64_t>(i));
    resumed.load_checkpoint(dir.file("ck.safetensors"));
    CHECK(resumed.iteration() == cuts[i]);
    run(resumed, cuts[i], cuts[i + 1]);
    if (i < 2) {
      io::save_checkpoint(resumed, dir.file("ck.safetensors"));  // the free-function form
    } else {
      CHECK(resumed.stage() == uninterrupted.stage());
      CHECK(same_parameters(model, model_a));                           // bit identical
      CHECK(same_batch(resumed.synthesized(), uninterrupted.synthesized()));
      CHECK(resumed.optimizer().first_moment.blocks[2] == uninterrupted.optimizer().first_moment.blocks[2]);
      CHECK(resumed.engine() == uninterrupted.engine());
    }
  }
  CHECK(dir.count() == 1);  // no temporary files left behind
}

}  // namespace

TEST_CASE("load-and-continue is bit identical to an uninterrupted run (SGD+momentum, Adam, float, double)",
          "[checkpoint]") {
  check_resume<float>(OptimizerOptions::Method::sgd, "f_sgd");
  check_resume<double>(OptimizerOptions::Method::sgd, "d_sgd");
  check_resume<float>(OptimizerOptions::Method::adam, "f_adam");
  check_resume<double>(OptimizerOptions::Method::adam, "d_adam");
}

TEST_CASE("a CD learner resumes bit identically too", "[checkpoint]") {
  TempDir dir("cd");
  const Batch<double> observed = observed_images<double>();
  LearningOptions options;
  options.langevin = {0.5, 1, 1.0};
  auto a = make_net<double>(3);
  CdLearner straight(a, observed, options, 9);
  for (int t = 0; t < 8; ++t) straight.step();
  auto b = make_net<double>(3);
  CdLearner half(b, observed, options, 9);
  for (int t = 0; t < 4; ++t) half.step();
  half.save_checkpoint(dir.file("cd.safetensors"));
  auto c = make_net<double>(4);
  CdLearner resumed(c, observed, options, 10);
  resumed.load_checkpoint(dir.file("cd.safetensors"));
  for (int t = 0; t < 4; ++t) resumed.step();
  CHECK(same_parameters(a, c));
  CHECK(same_batch(straight.synthesized(), resumed.synthesized()));
  // An MLE learner refuses a CD checkpoint.
  MleLearner mle(c, observed, LearningOptions{}, 1);
  CHECK_THROWS_WITH(mle.load_checkpoint(dir.file("cd.safetensors")), Catch::Contains("CdLearner"));
}

TEST_CASE("the checkpoint is a safetensors file: length, JSON header, F32 data, metadata", "[checkpoint]") {
  TempDir dir("layout");
  const Batch<float> observed = observed_images<float>();
  auto model = make_net<float>(5);
  MleLearner learner(model, observed, options_for(OptimizerOptions::Method::adam), 3);
  learner.step();
  const std::string path = dir.file("ck.safetensors");
  learner.save_checkpoint(path);
  const std::vector<char> bytes = read_all(path);
  REQUIRE(bytes.size() > 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  REQUIRE(8 + n <= bytes.size());
  CHECK((8 + n) % 8 == 0);
  const auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const auto& w = header.at("layer0.weight");
  CHECK(w.at("dtype") == "F32");
  CHECK(w.at("shape") == nlohmann::json::array({3, 3, 1, 4}));  // (4, 1, 3, 3) ColMajor, reversed
  const auto off = w.at("data_offsets");
  // The stored bytes are the weights, little-endian.
  std::vector<float> stored(36);
  std::memcpy(stored.data(), bytes.data() + 8 + n + off[0].get<std::size_t>(), 36 * sizeof(float));
  const auto p = model.parameters()[0];
  CHECK(std::equal(stored.begin(), stored.end(), p.data));
  CHECK(header.at("chains").at("shape") == nlohmann::json::array({3, 8, 8, 1}));
  CHECK(header.contains("optimizer.second_moment.layer2.weight"));
  const auto& meta = header.at("__metadata__");
  CHECK(meta.at("iteration") == "1");
  CHECK(meta.at("stage") == "0");
  CHECK(meta.at("optimizer.method") == "adam");
  std::ostringstream engine;
  engine << learner.engine();
  CHECK(meta.at("engine") == engine.str());
}

TEST_CASE("weights alone: saved, loaded into a fresh model for synthesis, refused for another model", "[checkpoint]") {
  TempDir dir("weights");
  auto model = make_net<double>(6);
  model.set_depth(2);
  io::save_weights(model, dir.file("w.safetensors"));
  auto fresh = make_net<double>(7);
  REQUIRE_FALSE(same_parameters(model, fresh));
  io::load_weights(fresh, dir.file("w.safetensors"));
  CHECK(same_parameters(model, fresh));
  CHECK(fresh.depth() == 2);
  const Batch<double> x = observed_images<double>();
  CHECK(fresh.score(x) == model.score(x));

  // A checkpoint is also a weights file.
  MleLearner learner(model, x, LearningOptions{}, 1);
  learner.step();
  learner.save_checkpoint(dir.file("ck.safetensors"));
  io::load_weights(fresh, dir.file("ck.safetensors"));
  CHECK(same_parameters(model, fresh));

  // Another architecture, another scalar type.
  EnergyModel other(Shape{1, 8, 8}, Conv<double>(5, 3).padding(1), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  CHECK_THROWS_WITH(io::load_weights(other, dir.file("w.safetensors")),
                    Catch::Contains("w.safetensors") && Catch::Contains("another model"));
  auto single = make_net<float>(6);
  CHECK_THROWS_WITH(io::load_weights(single, dir.file("w.safetensors")),
                    Catch::Contains("dtype F64, expected F32"));
  CHECK_THROWS_WITH(io::load_weights(single, dir.file("missing.safetensors")), Catch::Contains("cannot open"));
}

TEST_CASE("truncated or corrupted checkpoints are refused with the file named and nothing changes", "[checkpoint]") {
  TempDir dir("corrupt");
  const Batch<double> observed = observed_images<double>();
  auto model = make_net<double>(8);
  MleLearner learner(model, observed, options_for(OptimizerOptions::Method::sgd), 5);
  learner.step();
  const std::string good = dir.file("good.safetensors");
  learner.save_checkpoint(good);
  const std::vector<char> bytes = read_all(good);
  for (int t = 0; t < 2; ++t) learner.step();  // the state a failed load must leave alone
  const Vector<double> weights = flat_parameters(model);
  const Batch<double> chains = learner.synthesized();

  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  struct Case {
    std::string name;
    std::vector<char> bytes;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, "truncated"});
  cases.push_back({"short", std::vector<char>(bytes.begin(), bytes.begin() + 5), "truncated"});
  cases.push_back({"cut_header", std::vector<char>(bytes.begin(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n / 2)), "truncated"});
  cases.push_back({"cut_data", std::vector<char>(bytes.begin(), bytes.end() - 12), "truncated or corrupted"});
  auto flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x10;  // one bit of the data
  cases.push_back({"bit_flip", flipped, "checksum"});
  auto bad_json = bytes;
  bad_json[8] = '[';
  bad_json[9] = '#';
  cases.push_back({"bad_json", bad_json, "not valid JSON"});
  auto huge = bytes;
  huge[7] = 0x7f;  // header length ≈ 9e18
  cases.push_back({"huge_length", huge, "truncated or corrupted"});
  for (const auto& c : cases) {
    const std::string path = dir.file(c.name + ".safetensors");
    write_all(path, c.bytes);
    INFO(c.name);
    CHECK_THROWS_AS(learner.load_checkpoint(path), Error);
    CHECK_THROWS_WITH(learner.load_checkpoint(path), Catch::Contains(path) && Catch::Contains(c.message));
    CHECK(bit_equal_vectors(flat_parameters(model), weights));
    CHECK(same_batch(learner.synthesized(), chains));
    CHECK(learner.iteration() == 3);
  }
  // The good file still loads.
  learner.load_checkpoint(good);
  CHECK(learner.iteration() == 1);

  // A checkpoint for another number of chains is refused by name.
  LearningOptions more = options_for(OptimizerOptions::Method::sgd);
  more.chains = 5;
  MleLearner other(model, observed, more, 5);
  CHECK_THROWS_WITH(other.load_checkpoint(good), Catch::Contains("3 chains, this learner has 5"));
  // Another optimizer.
  MleLearner adam(model, observed, options_for(OptimizerOptions::Method::adam), 5);
  CHECK_THROWS_WITH(adam.load_checkpoint(good), Catch::Contains("optimizer 'sgd'"));
}

TEST_CASE("a save that fails half way leaves the previous checkpoint intact", "[checkpoint]") {
  TempDir dir("atomic");
  const Batch<double> observed = observed_images<double>();
  auto model = make_net<double>(9);
  MleLearner learner(model, observed, options_for(OptimizerOptions::Method::sgd), 5);
  learner.step();
  const std::string path = dir.file("ck.safetensors");
  learner.save_checkpoint(path);
  const std::vector<char> previous = read_all(path);
  learner.step();

  // Make the next write fail part way: a file-size limit below the checkpoint's size (EFBIG).
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = previous.size() / 2;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  std::string message;
  try {
    learner.save_checkpoint(path);
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK(threw);
  CHECK_THAT(message, Catch::Contains("ck.safetensors"));
  CHECK(read_all(path) == previous);  // the old file, whole
  CHECK(dir.count() == 1);            // no temporary file left
  learner.load_checkpoint(path);
  CHECK(learner.iteration() == 1);

  // Saving again replaces it atomically.
  learner.step();
  learner.save_checkpoint(path);
  CHECK(read_all(path) != previous);
  CHECK(dir.count() == 1);
}
