// Every seed of the fuzz corpora (fuzz/corpus/<target>/) and every input the fuzzers once failed on
// (fuzz/regressions/<target>/) goes through the fuzz harness (fuzz/harness.hpp) in an ordinary build:
// each must load or end in a clean gconvnet::Error. A crash, another exception or a broken invariant
// (the harness aborts) fails the test run; under GCONVNET_SANITIZE so does a sanitizer report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <dirent.h>

#include "../../fuzz/harness.hpp"

namespace {

using Bytes = std::vector<unsigned char>;

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
