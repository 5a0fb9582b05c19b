// libFuzzer target: image decoding (decode_image, the entry point of load_image), then a PNG round trip
// and resizing on success. See fuzz/harness.hpp and fuzz/README.md.
#include <cstddef>
#include <cstdint>

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    gconvnet::fuzz::image_input(data, size);
  } catch (const gconvnet::Error&) {
    // refused with a message: the correct outcome for bad input
  }
  return 0;
}
