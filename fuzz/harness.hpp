// fuzz/harness.hpp — what the fuzz targets do with one input, shared with the regression test
// (tests/io/loaders.cpp), which replays every seed and every input that once failed.
//
// image_input: decode_image with small limits; on success the invariants of a decoded image are checked
//   (size within the limits, integer intensities 0–255, image_info agrees), then a PNG round trip
//   (encode_png → decode_image gives the same pixels) and resize_image + encode_png.
// checkpoint_input: SafetensorsReader::from_memory (every tensor copied out with its own dtype and shape),
//   load_weights_from_memory into a small float model, load_checkpoint_from_memory into an SGD and an
//   Adam learner of that model; after a load that succeeds, the state is checked (finite weights, depth)
//   and the learner takes one step.
//
// Bad input ends in gconvnet::Error (a learner step from loaded extreme values may also end in
// NumericalError): both are the correct outcome and the callers catch them. Anything else — another
// exception, a crash, a sanitizer report, or a broken invariant (reported here on stderr, then abort) —
// is a finding.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/io/safetensors.hpp>
#include <gconvnet/layers/conv.hpp>
#include <gconvnet/layers/relu.hpp>
#include <gconvnet/learning/mle_learner.hpp>
#include <gconvnet/model/energy_model.hpp>
#include <gconvnet/model/initialize.hpp>

namespace gconvnet::fuzz {

/// A broken invariant: says which on stderr and aborts (libFuzzer keeps the input as a crash).
[[noreturn]] inline void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz harness: invariant broken: %s\n", what);
  std::abort();
}
inline void require(bool ok, const char* what) {
  if (!ok) invariant_failed(what);
}

// --- images ---------------------------------------------------------------------------------------

/// Small limits keep every input fast: at most 64×64 pixels.
inline io::LoadImageOptions fuzz_image_options(std::size_t size) {
  io::LoadImageOptions o;
  const Index channels[3] = {0, 1, 3};
  o.channels = channels[size % 3];  // the length picks the conversion: every one gets exercised
  o.max_side = 64;
  o.max_pixels = 64 * 48;
  return o;
}

inline void image_input(const std::uint8_t* data, std::size_t size) {
  const io::LoadImageOptions options = fuzz_image_options(size);
  const Image<float> image = io::decode_image<float>(data, size, "fuzz input", options);
  const Index C = image.dimension(0), H = image.dimension(1), W = image.dimension(2);
  require(C == 1 || C == 3, "decoded channels are 1 or 3");
  require(options.channels == 0 || C == options.channels, "decoded channels are the requested ones");
  require(H >= 1 && W >= 1 && H <= options.max_side && W <= options.max_side && H * W <= options.max_pixels,
          "decoded size within the limits");
  const io::ImageInfo info = io::image_info(data, size, "fuzz input");
  require(info.width == W && info.height == H, "image_info agrees with decode_image");
  for (Index i = 0; i < image.size(); ++i) {
    const float v = image.data()[i];
    require(v >= 0 && v <= 255 && v == std::floor(v), "decoded intensities are integers 0-255");
  }
  // PNG round trip: lossless, so exactly the same pixels.
  const std::vector<unsigned char> png = io::encode_png(image);
  io::LoadImageOptions again = options;
  again.channels = C;
  const Image<float> back = io::decode_image<float>(png.data(), png.size(), "round trip", again);
  require(back.dimension(0) == C && back.dimension(1) == H && back.dimension(2) == W, "round trip keeps the shape");
  for (Index i = 0; i < image.size(); ++i) require(back.data()[i] == image.data()[i], "round trip keeps the pixels");
  // Resampling (shrinking and enlarging), then encoding the result (clipped).
  const Image<float> resized = io::resize_image(image, H / 2 + 1, W + 3);
  require(resized.dimension(1) == H / 2 + 1 && resized.dimension(2) == W + 3, "resize gives the requested shape");
  require(all_finite(resized), "resize gives finite values");
  require(!io::encode_png(resized).empty(), "encode_png of the resized image");
}

// --- checkpoints ----------------------------------------------------------------------------------

/// The small model the checkpoint seeds were written for (fuzz/make_seeds.cpp).
using FuzzNet = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

inline FuzzNet make_fuzz_net() {
  FuzzNet net(Shape{1, 8, 8}, Conv<float>(4, 3).padding(1), ReLU<float>{}, Conv<float>(2, 3), ReLU<float>{});
  std::mt19937_64 engine(1);
  initialize_normal(net, engine, 0.1);
  return net;
}

inline Batch<float> fuzz_observed() {
  Batch<float> b = make_batch<float>(Shape{1, 8, 8}, 1);
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = static_cast<float>((i * 37) % 17) - 8.0f;
  return b;
}

inline LearningOptions fuzz_learning_options(OptimizerOptions::Method method) {
  LearningOptions o;
  o.chains = 2;
  o.langevin = {0.3, 1, 1.0};
  o.optimizer.method = method;
  o.optimizer.learning_rate = 0.01;
  return o;
}

/// Weights finite and the depth in range: what a successful load promises.
inline void check_loaded_model(FuzzNet& net) {
  require(net.depth() >= 1 && net.depth() <= net.num_layers(), "loaded depth in range");
  for (const auto& p : net.parameters())
    for (Index i = 0; i < p.size(); ++i) require(std::isfinite(p.data[i]), "loaded weights are finite");
}

inline void checkpoint_input(const std::uint8_t* data, std::size_t size) {
  // 1. The reader alone: every tensor copied out with the dtype and shape it declares.
  try {
    const io::SafetensorsReader r = io::SafetensorsReader::from_memory(data, size, "fuzz input");
    for (const std::string& name : r.names()) {
      const io::SafetensorsReader::Entry& e = r.entry(name);
      std::size_t n = 1;
      for (Index d : e.shape) n *= static_cast<std::size_t>(d);
      require(e.end >= e.begin && e.end - e.begin <= size, "entry within the file");
      if (e.dtype == "F32") {
        std::vector<float> out(n);
        r.copy_to(name, e.shape, out.data());
      } else if (e.dtype == "F64") {
        std::vector<double> out(n);
        r.copy_to(name, e.shape, out.data());
      }
    }
    for (const auto& kv : r.metadata()) (void)r.metadata(kv.first);
  } catch (const Error&) {
  }
  // 2. Weights into a model.
  try {
    FuzzNet net = make_fuzz_net();
    io::load_weights_from_memory(net, data, size, "fuzz input");
    check_loaded_model(net);
    const Batch<float> x = fuzz_observed();
    (void)net.score(x);
  } catch (const Error&) {
  }
  // 3. Checkpoints into learners (SGD and Adam: the Adam state has second moments), then one step.
  for (OptimizerOptions::Method method : {OptimizerOptions::Method::sgd, OptimizerOptions::Method::adam}) {
    try {
      FuzzNet net = make_fuzz_net();
      MleLearner<FuzzNet> learner(net, fuzz_observed(), fuzz_learning_options(method), 5);
      io::load_checkpoint_from_memory(learner, data, size, "fuzz input");
      check_loaded_model(net);
      require(learner.stage() >= 0 && learner.stage() < learner.num_stages(), "loaded stage in range");
      try {
        learner.step();
      } catch (const NumericalError&) {
        // extreme (finite) loaded values may overflow in the step: reported, not a crash
      }
    } catch (const Error&) {
    }
  }
}

}  // namespace gconvnet::fuzz
