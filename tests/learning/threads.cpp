// Thread-count independence end to end: MLE (Algorithm 1) and CD learning run a few iterations with one
// and with two OpenMP threads and must give the same weights, optimizer state and chains, bit for bit.
// The net has a Winograd convolution (tiles and filter blocks cut into pieces across threads), an im2col
// convolution with stride 2 and a fully connected top (Eigen's GEMM, which blocks differently with more
// threads): every parallel path the learners use. Without OpenMP there is one thread and nothing to
// compare; CI builds with OpenMP (GCONVNET_REQUIRE_OPENMP=ON fails the configure step without it).
#include <gconvnet/gconvnet.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "support/allocation_counter.hpp"

using namespace gconvnet;

#ifdef _OPENMP
namespace {

using Net = EnergyModel<Conv<float>, ReLU<float>, Conv<float>, ReLU<float>, Conv<float>, ReLU<float>>;

const Shape input{3, 20, 20};

Net make_net() {
  // 3×3 stride 1 (Winograd, forced), 5×5 stride 2 (im2col, forced), 10×10 over a 10×10 map (fully connected)
  Net net(input, Conv<float>(8, 3).padding(1), ReLU<float>{}, Conv<float>(6, 5).stride(2).padding(2), ReLU<float>{},
          Conv<float>(4, 10), ReLU<float>{});
  net.layer<0>().set_algorithm(ConvAlgorithm::winograd);
  net.layer<2>().set_algorithm(ConvAlgorithm::im2col);
  std::mt19937_64 engine(11);
  initialize_normal(net, engine, 0.1);
  return net;
}

Batch<float> observed() {
  std::mt19937_64 engine(12);
  Batch<float> b = make_batch<float>(input, 2);
  fill_standard_normal(engine, b);
  return b;
}

/// The learner's whole state (weights, optimizer, chains, engine) after `steps` iterations at `threads`.
/// The parallel loops of a model this small stay on the calling thread by default
/// (detail::parallel_min_work): the two-thread runs are made with that threshold and with 0, where
/// every loop of two or more pieces goes to the team.
template <class Learner>
LearnerState<float> run(int threads, const LearningOptions& options, int steps,
                        double min_work = detail::parallel_min_work()) {
  const gconvnet::test::OmpThreads scope(threads);
  const double saved_work = detail::parallel_min_work();
  detail::set_parallel_min_work(min_work);
  struct Restore {
    double work;
    ~Restore() { detail::set_parallel_min_work(work); }
  } restore{saved_work};
  Net model = make_net();
  REQUIRE(model.layer<0>().active_algorithm() == ConvAlgorithm::winograd);
  REQUIRE(model.layer<2>().active_algorithm() == ConvAlgorithm::im2col);
  Learner learner(model, observed(), options, 5);
  for (int s = 0; s < steps; ++s) learner.step();
  return learner.state();
}

void check_equal(const LearnerState<float>& one, const LearnerState<float>& two) {
  CHECK(one.iteration == two.iteration);
  REQUIRE(one.weights.size() == two.weights.size());
  REQUIRE(one.optimizer.first_moment.size() == two.optimizer.first_moment.size());
  for (std::size_t b = 0; b < one.weights.size(); ++b) {
    CAPTURE(b);
    CHECK(one.weights[b] == two.weights[b]);  // Eigen vectors: exact equality
    CHECK(one.optimizer.first_moment[b] == two.optimizer.first_moment[b]);
  }
  REQUIRE(one.chains.size() == two.chains.size());
  CHECK(std::equal(one.chains.data(), one.chains.data() + one.chains.size(), two.chains.data()));
  CHECK(one.engine == two.engine);
}

}  // namespace

TEST_CASE("MLE and CD learning give bit-identical weights and chains with one and two threads",
          "[learning][threads]") {
  LearningOptions options;
  options.chains = 4;
  options.langevin = {0.3, 3, 1.0};
  options.optimizer.momentum = 0.5;
  const double default_work = detail::parallel_min_work();
  {
    const gconvnet::test::OmpThreads scope(2);
    detail::set_parallel_min_work(0);
    const bool team = detail::use_team(2, 0);
    detail::set_parallel_min_work(default_work);
    REQUIRE(team);  // with threshold 0 two pieces really go to a team of two
  }
  SECTION("MLE, persistent chains") {
    const auto one = run<MleLearner<Net>>(1, options, 4);
    for (double min_work : {default_work, 0.0}) {
      CAPTURE(min_work);
      check_equal(one, run<MleLearner<Net>>(2, options, 4, min_work));
    }
  }
  SECTION("CD") {
    options.chains = 2;  // = the observed images
    const auto one = run<CdLearner<Net>>(1, options, 4);
    for (double min_work : {default_work, 0.0}) {
      CAPTURE(min_work);
      check_equal(one, run<CdLearner<Net>>(2, options, 4, min_work));
    }
  }
  SECTION("the comparison sees a difference: another step size's chains differ") {
    const auto a = run<MleLearner<Net>>(1, options, 2);
    LearningOptions other = options;
    other.langevin.step_size = 0.31;
    const auto b = run<MleLearner<Net>>(1, other, 2);
    CHECK_FALSE(std::equal(a.chains.data(), a.chains.data() + a.chains.size(), b.chains.data()));
  }
}
#else
TEST_CASE("MLE and CD learning give bit-identical weights and chains with one and two threads",
          "[learning][threads]") {
  WARN("built without OpenMP: one thread only, nothing to compare");
}
#endif
