// Writes the seed corpus of fuzz_checkpoint: weights and checkpoints of the harness's small model,
// written by the library itself, each also without its checksum entry (the reader verifies the checksum
// only when present, so mutated data bytes reach the loaders' value checks).
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus/fuzz_checkpoint
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace {

using namespace gconvnet;

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// The same file with the checksum entry removed from its metadata.
std::vector<unsigned char> without_checksum(const std::vector<unsigned char>& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  auto header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  header["__metadata__"].erase(io::safetensors_checksum_key);
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  std::vector<unsigned char> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(text.size() >> (8 * i));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  return out;
}

void both(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name + ".safetensors";
  write_all(dir + "/" + name + "_nosum.safetensors", without_checksum(read_all(path)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds DIRECTORY\n");
    return 2;
  }
  const std::string dir = argv[1];
  using fuzz::FuzzNet;
  {
    FuzzNet net = fuzz::make_fuzz_net();
    net.set_depth(2);
    io::save_weights(net, dir + "/weights.safetensors");
    both(dir, "weights");
  }
  {
    FuzzNet net = fuzz::make_fuzz_net();
    MleLearner<FuzzNet> learner(net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(OptimizerOptions::Method::sgd), 3);
    learner.step();
    learner.step();
    learner.save_checkpoint(dir + "/sgd.safetensors");
    both(dir, "sgd");
  }
  {
    FuzzNet net = fuzz::make_fuzz_net();
    MleLearner<FuzzNet> learner(net, fuzz::fuzz_observed(), fuzz::fuzz_learning_options(OptimizerOptions::Method::adam), 4);
    learner.step();
    learner.set_stage(1);
    learner.step();
    learner.save_checkpoint(dir + "/adam_stage1.safetensors");
    both(dir, "adam_stage1");
  }
  return 0;
}
