// Writes the checkpoints of the v1 format that tests/learning/checkpoint.cpp loads ("checkpoints written
// before LearnerState ..."; run once;
// the outputs are committed). They were made with the code of main at f3935f6 (before LearnerState),
// so that the test shows that files written before that change still load and continue as they did:
//
//   g++ -std=c++17 -O3 -DNDEBUG -march=native -fopenmp -Iinclude -I/usr/include/eigen3
//       tests/data/learning/make_legacy_checkpoints.cpp -o /tmp/make_legacy
//   OMP_NUM_THREADS=1 /tmp/make_legacy tests/data/learning    (from the repository root)
//
// For each of two learners it writes NAME.safetensors (after `first` iterations) and
// NAME_continued.safetensors (a fresh learner loads NAME.safetensors and runs `more` iterations).
// With --continued-only it writes only the continued files, from the NAME.safetensors already there:
// how they were re-made with the code of the merge of issue 16 (the Langevin noise drawn from one key
// per step, so the old code's continuation no longer applies), while the v1 files stay the old code's:
//
//   OMP_NUM_THREADS=1 /tmp/make_legacy tests/data/learning --continued-only
// The models, observed images and options are formulas that the test repeats (keep them in sync).
#include <cstdint>
#include <iostream>
#include <string>

#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>

using namespace gconvnet;

// The observed images: small integers, exact in float and double.
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

// MLE, float, SGD with momentum, chains from noise, sigma 0.7.
LearningOptions legacy_mle_options() {
  LearningOptions o;
  o.chains = 2;
  o.langevin = {0.2, 3, 0.7};
  o.chain_init = LearningOptions::ChainInit::noise;
  o.optimizer.learning_rate = 0.01;
  o.optimizer.momentum = 0.9;
  return o;
}

// CD-1, double, Adam.
LearningOptions legacy_cd_options() {
  LearningOptions o;
  o.langevin = {0.3, 1, 1.0};
  o.optimizer.method = OptimizerOptions::Method::adam;
  o.optimizer.learning_rate = 0.003;
  return o;
}

template <class Learner, class S>
void make(const std::string& dir, const std::string& name, const LearningOptions& options, Index observed,
          int first, int more, bool continued_only) {
  const Batch<S> data = legacy_observed<S>(observed);
  if (!continued_only) {
    auto model = legacy_model<S>(5);
    Learner learner(model, data, options, 11);
    for (int t = 0; t < first; ++t) learner.step();
    io::save_checkpoint(learner, dir + "/" + name + ".safetensors");
  }
  auto other = legacy_model<S>(6);
  Learner resumed(other, data, options, 12);
  io::load_checkpoint(resumed, dir + "/" + name + ".safetensors");
  for (int t = 0; t < more; ++t) resumed.step();
  io::save_checkpoint(resumed, dir + "/" + name + "_continued.safetensors");
  std::cout << "wrote " << (continued_only ? "" : name + ".safetensors (iteration " + std::to_string(first) + ") and ")
            << name << "_continued.safetensors (iteration " << resumed.iteration() << ")\n";
}

int main(int argc, char** argv) {
  const bool continued_only = argc == 3 && std::string(argv[2]) == "--continued-only";
  if (argc != 2 && !continued_only) {
    std::cerr << "usage: make_legacy_checkpoints OUTPUT_DIR [--continued-only]\n";
    return 2;
  }
  const std::string dir = argv[1];
  make<MleLearner<DynamicModel<float>>, float>(dir, "legacy_v1_mle_float_sgd", legacy_mle_options(), 2, 3, 4,
                                               continued_only);
  make<CdLearner<DynamicModel<double>>, double>(dir, "legacy_v1_cd_double_adam", legacy_cd_options(), 2, 3, 4,
                                                continued_only);
  return 0;
}
