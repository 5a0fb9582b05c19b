// libFuzzer target: the safetensors reader, load_weights and load_checkpoint (SGD and Adam learners)
// from memory into a small model, one learner step after a successful load. See fuzz/harness.hpp.
#include <cstddef>
#include <cstdint>

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gconvnet::fuzz::checkpoint_input(data, size);  // catches gconvnet::Error itself
  return 0;
}
