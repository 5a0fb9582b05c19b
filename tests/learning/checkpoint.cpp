// Checkpoints (io/checkpoint.hpp): bit-identical resumption, weights alone, the safetensors layout,
// refusal of truncated / corrupted / mismatched files, atomic replacement; the learner state as a value
// (state / restore, set_learning_rate) and the files written before it (tests/data/learning/legacy_v1_*).
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
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
      CHECK(resumed.optimizer().state().first_moment[2] == uninterrupted.optimizer().state().first_moment[2]);
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

// --- LearnerState: state() / restore() ------------------------------------------------------------

namespace {

/// True when two states are equal bit for bit, field by field (for_each_field: the one list of fields).
template <class S>
bool same_state(const LearnerState<S>& a, const LearnerState<S>& b) {
  bool same = true;
  auto blocks_equal = [](const std::vector<Vector<S>>& x, const std::vector<Vector<S>>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!bit_equal_vectors(x[i], y[i])) return false;
    return true;
  };
  for_each_field(
      [&](const LearnerStateField&, const auto& x, const auto& y) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<Vector<S>>>) same = same && blocks_equal(x, y);
        else if constexpr (std::is_same_v<T, Batch<S>>) same = same && same_batch(x, y);
        else same = same && x == y;
      },
      a, b);
  return same;
}

}  // namespace

TEST_CASE("state() is a value: restore() takes a learner back bit for bit, also another learner", "[checkpoint][state]") {
  const Batch<double> observed = observed_images<double>();
  const LearningOptions options = options_for(OptimizerOptions::Method::adam);
  auto model = make_net<double>(11);
  MleLearner learner(model, observed, options, 4);
  run(learner, 0, 7);  // grows to stage 1 at iteration 6
  const LearnerState<double> at7 = learner.state();
  CHECK(at7.iteration == 7);
  CHECK(at7.stage == 1);
  CHECK(at7.learning_rate == options.optimizer.learning_rate);
  CHECK(at7.optimizer.second_moment.size() == 4);
  learner.restore(at7);
  CHECK(same_state(learner.state(), at7));  // restore(state()) changes nothing
  run(learner, 7, 10);
  const LearnerState<double> at10 = learner.state();
  REQUIRE_FALSE(same_state(at10, at7));

  // Back to iteration 7 and on again: the same three iterations.
  learner.restore(at7);
  CHECK(learner.iteration() == 7);
  CHECK(learner.stage() == 1);
  CHECK(model.depth() == 4);
  CHECK(learner.gradient().squared_norm() == 0);
  run(learner, 7, 10);
  CHECK(same_state(learner.state(), at10));

  // Another learner (other seed, other weights, stage 0) restored to iteration 7 goes on alike.
  auto other_model = make_net<double>(12);
  MleLearner other(other_model, observed, options, 99);
  REQUIRE(other_model.depth() == 2);
  other.restore(at7);
  CHECK(other_model.depth() == 4);
  run(other, 7, 10);
  CHECK(same_state(other.state(), at10));
  CHECK(same_parameters(other_model, model));
}

TEST_CASE("state(out) reuses the buffers of out", "[checkpoint][state]") {
  const Batch<float> observed = observed_images<float>();
  auto model = make_net<float>(2);
  MleLearner learner(model, observed, options_for(OptimizerOptions::Method::adam), 4);
  LearnerState<float> out;
  learner.state(out);
  const float* weights = out.weights[2].data();
  const float* chains = out.chains.data();
  const float* second = out.optimizer.second_moment[3].data();
  const Index* steps = out.optimizer.steps.data();
  for (int t = 0; t < 2; ++t) learner.step();
  learner.state(out);
  CHECK(out.weights[2].data() == weights);
  CHECK(out.chains.data() == chains);
  CHECK(out.optimizer.second_moment[3].data() == second);
  CHECK(out.optimizer.steps.data() == steps);
  CHECK(same_state(out, learner.state()));
}

TEST_CASE("set_learning_rate: the base eta of the next steps, kept in state() and checkpoints", "[checkpoint][state]") {
  TempDir dir("learning_rate");
  const Batch<double> observed = observed_images<double>();
  LearningOptions options = options_for(OptimizerOptions::Method::sgd);
  options.optimizer.learning_rate = 0.01;
  auto model = make_net<double>(21);
  MleLearner learner(model, observed, options, 4);
  const double eta = 0.1 + 0.2;  // not a short decimal: the file must keep it exactly
  learner.set_learning_rate(eta);
  CHECK(learner.learning_rate() == eta);
  CHECK(learner.options().optimizer.learning_rate == 0.01);
  learner.set_stage(1);
  CHECK(learner.learning_rate() == eta * 0.5);  // the per-stage factor still applies
  CHECK(learner.step().learning_rate == eta * 0.5);
  CHECK(learner.state().learning_rate == eta);
  learner.save_checkpoint(dir.file("set.safetensors"));
  CHECK(io::SafetensorsReader::read(dir.file("set.safetensors")).metadata("learning_rate") == "0.30000000000000004");

  // A fresh learner with the options' eta loads the one that was set.
  auto model_b = make_net<double>(22);
  MleLearner resumed(model_b, observed, options, 5);
  resumed.load_checkpoint(dir.file("set.safetensors"));
  CHECK(resumed.learning_rate() == eta * 0.5);
  CHECK(resumed.state().learning_rate == eta);
  // ... and goes on as the learner that wrote it.
  learner.step();
  resumed.step();
  CHECK(same_parameters(model, model_b));

  // A learner that never called set_learning_rate writes no learning_rate; loading it takes the eta of
  // the loading learner's options (as files written before set_learning_rate existed).
  auto model_c = make_net<double>(23);
  MleLearner plain(model_c, observed, options, 6);
  plain.step();
  plain.save_checkpoint(dir.file("plain.safetensors"));
  CHECK(io::SafetensorsReader::read(dir.file("plain.safetensors")).metadata().count("learning_rate") == 0);
  LearningOptions slower = options;
  slower.optimizer.learning_rate = 0.001;
  MleLearner slow(model_c, observed, slower, 6);
  slow.load_checkpoint(dir.file("plain.safetensors"));
  CHECK(slow.learning_rate() == 0.001);
  CHECK(slow.iteration() == 1);
  // set_learning_rate then load: the file decides.
  slow.set_learning_rate(0.5);
  slow.load_checkpoint(dir.file("plain.safetensors"));
  CHECK(slow.learning_rate() == 0.001);
}

// --- checkpoints written before LearnerState (format v1, main at f3935f6) ---------------------------

namespace {

// As tests/data/learning/make_legacy_checkpoints.cpp, which wrote the files (the v1 files with the old code).
template <class S>
Batch<S> legacy_observed(Index n) {
  Batch<S> b = make_batch<S>(Shape{1, 6, 6}, n);
  for (Index m = 0; m < n; ++m)
    for (Index y = 0; y < 6; ++y)
      for (Index x = 0; x < 6; ++x) b(0, y, x, m) = static_cast<S>((3 * y + 5 * x + 7 * m) % 11 - 5);
  return b;
}
template <class S>
DynamicModel<S> legacy_model(std::uint64_t seed) {
  DynamicModel<S> model(Shape{1, 6, 6}, parse_layers<S>("conv:3:3:1:1,relu"));
  std::mt19937_64 engine(seed);
  initialize_normal(model, engine, 0.2);
  return model;
}
LearningOptions legacy_mle_options() {
  LearningOptions o;
  o.chains = 2;
  o.langevin = {0.2, 3, 0.7};
  o.chain_init = LearningOptions::ChainInit::noise;
  o.optimizer.learning_rate = 0.01;
  o.optimizer.momentum = 0.9;
  return o;
}
LearningOptions legacy_cd_options() {
  LearningOptions o;
  o.langevin = {0.3, 1, 1.0};
  o.optimizer.method = OptimizerOptions::Method::adam;
  o.optimizer.learning_rate = 0.003;
  return o;
}

std::string legacy_file(const std::string& name) {
  return std::string(GCONVNET_TEST_DATA_DIR) + "/learning/" + name + ".safetensors";
}

/// max |a − b| / (1 + |b|) over the tensors of two states.
template <class S>
double largest_difference(const LearnerState<S>& a, const LearnerState<S>& b) {
  double d = 0;
  auto vec = [&](const S* x, const S* y, Index n) {
    for (Index i = 0; i < n; ++i)
      d = std::max(d, std::abs(static_cast<double>(x[i]) - static_cast<double>(y[i])) / (1 + std::abs(static_cast<double>(y[i]))));
  };
  for (std::size_t i = 0; i < a.weights.size(); ++i) vec(a.weights[i].data(), b.weights[i].data(), a.weights[i].size());
  for (std::size_t i = 0; i < a.optimizer.first_moment.size(); ++i)
    vec(a.optimizer.first_moment[i].data(), b.optimizer.first_moment[i].data(), a.optimizer.first_moment[i].size());
  for (std::size_t i = 0; i < a.optimizer.second_moment.size(); ++i)
    vec(a.optimizer.second_moment[i].data(), b.optimizer.second_moment[i].data(), a.optimizer.second_moment[i].size());
  vec(a.chains.data(), b.chains.data(), a.chains.size());
  return d;
}

/// Loads NAME.safetensors (written by the old code), checks that the learner holds exactly what the file
/// holds, runs 4 iterations, and compares with NAME_continued.safetensors (4 iterations of the code of
/// the issue-16 merge, whose keyed Langevin noise differs from the old code's: tests/data/learning/legacy_v1.md).
template <class Learner>
void check_legacy(const std::string& name, const LearningOptions& options, double tolerance) {
  using S = typename Learner::Scalar;
  const Batch<S> observed = legacy_observed<S>(2);
  auto model = legacy_model<S>(40);  // other weights than the run that wrote the file
  Learner learner(model, observed, options, 41);
  io::load_checkpoint(learner, legacy_file(name));
  const LearnerState<S> loaded = learner.state();
  CHECK(loaded.iteration == 3);
  CHECK(loaded.learning_rate == options.optimizer.learning_rate);  // v1 files have none: the options'
  // Every tensor and count as stored.
  const auto r = io::SafetensorsReader::read(legacy_file(name));
  const auto params = model.parameters();
  for (std::size_t b = 0; b < params.size(); ++b) {
    Vector<S> stored(params[b].size());
    r.copy_to(params[b].name, io::row_major_shape(params[b].dims), stored.data());
    CHECK(bit_equal_vectors(stored, loaded.weights[b]));
    r.copy_to("optimizer.first_moment." + params[b].name, io::row_major_shape(params[b].dims), stored.data());
    CHECK(bit_equal_vectors(stored, loaded.optimizer.first_moment[b]));
  }
  std::ostringstream engine;
  engine << loaded.engine;
  CHECK(engine.str() == r.metadata("engine"));
  CHECK(nlohmann::json(loaded.optimizer.steps).dump() == r.metadata("optimizer.steps"));

  for (int t = 0; t < 4; ++t) learner.step();
  auto expected_model = legacy_model<S>(42);
  Learner expected(expected_model, observed, options, 43);
  io::load_checkpoint(expected, legacy_file(name + "_continued"));
  const LearnerState<S> mine = learner.state(), theirs = expected.state();
  CHECK(mine.iteration == 7);
  CHECK(theirs.iteration == 7);
  CHECK(mine.engine == theirs.engine);  // the same number of random draws
  CHECK(mine.optimizer.steps == theirs.optimizer.steps);
  // The same arithmetic: bit-identical with the generator's flags (Release, -march=native, one thread);
  // other flags (-O0 contracts no FMA, another vector width) round differently, by ~1e-7 (float) or
  // ~1e-16 (double) relative per operation. The tolerance is far below what 4 iterations move the
  // weights, so a changed update (η off by 1 %, momentum lost, another chain) is caught.
  const double difference = largest_difference(mine, theirs);
  double travel = 0;
  for (std::size_t b = 0; b < mine.weights.size(); ++b)
    travel = std::max(travel, static_cast<double>((theirs.weights[b] - loaded.weights[b]).cwiseAbs().maxCoeff()));
  WARN(name << ": largest relative difference to the pinned continuation after 4 iterations " << difference
            << (same_state(mine, theirs) ? " (bit-identical)" : "") << "; the weights moved by up to " << travel);
  REQUIRE(tolerance < 0.01 * travel);
  CHECK(difference <= tolerance);
}

}  // namespace

TEST_CASE("checkpoints written before LearnerState load exactly and continue as pinned", "[checkpoint][legacy]") {
  check_legacy<MleLearner<DynamicModel<float>>>("legacy_v1_mle_float_sgd", legacy_mle_options(), 1e-5);
  check_legacy<CdLearner<DynamicModel<double>>>("legacy_v1_cd_double_adam", legacy_cd_options(), 1e-12);
}
