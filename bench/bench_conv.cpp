// bench_conv — each convolution of the paper's texture net (conv 3→100 15×15 s3 p2, 100→64 5×5 p2,
// 64→30 3×3 p2) on its own: bottom-up, top-down and weight gradient, im2col against Winograd, with the
// error of each against a double-precision im2col reference.
//
//   bench_conv [--size 224] [--chains 16] [--threads 1] [--repeats 5] [--cpu-time]
//
// Effective GFLOP/s counts 2·MACs of the direct convolution for every product. --cpu-time times with
// the process's CPU clock instead of the wall clock: on a machine shared with other work it measures
// the work done, not the waiting (meaningful with one thread only).
#include <gconvnet/layers/conv.hpp>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace gconvnet;

bool use_cpu_time = false;

double now() {
  if (use_cpu_time) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double best_time(int repeats, F&& fn) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    fn();
    best = std::min(best, now() - t0);
  }
  return best;
}

// Largest |a − b| over the largest |b|.
template <class A, class B>
double relative_error(const A& a, const B& b) {
  const double scale = b.cwiseAbs().maxCoeff();
  return (a.template cast<double>() - b).cwiseAbs().maxCoeff() / (scale > 0 ? scale : 1.0);
}

struct Times {
  double forward = 0, backward = 0, gradient = 0;
  double forward_error = 0, backward_error = 0, gradient_error = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Index size = 224, chains = 16;
  int threads = 1, repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) {
        std::cerr << "bench_conv: " << a << " needs a value\n";
        std::exit(2);
      }
      return std::stol(argv[++i]);
    };
    if (a == "--size") size = next();
    else if (a == "--chains") chains = next();
    else if (a == "--threads") threads = static_cast<int>(next());
    else if (a == "--repeats") repeats = static_cast<int>(next());
    else if (a == "--cpu-time") use_cpu_time = true;
    else {
      std::cerr << "usage: bench_conv [--size 224] [--chains 16] [--threads 1] [--repeats 5] [--cpu-time]\n";
      return a == "--help" ? 0 : 2;
    }
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);

  struct LayerSpec {
    Index filters, kernel, stride, padding;
  };
  std::printf("size %ld, chains %ld, threads %d, %s time, best of %d\n", static_cast<long>(size),
              static_cast<long>(chains), threads, use_cpu_time ? "CPU" : "wall", repeats);
  std::printf("%-26s %-9s %9s %9s %9s %8s %8s %8s %9s %9s %9s\n", "layer", "algorithm", "fwd_s", "bwd_s", "grad_s",
              "fwd_GF/s", "bwd_GF/s", "grad_GF/s", "fwd_err", "bwd_err", "grad_err");
  Shape in{3, size, size};
  std::mt19937_64 engine(1);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const LayerSpec& l : {LayerSpec{100, 15, 3, 2}, LayerSpec{64, 5, 1, 2}, LayerSpec{30, 3, 1, 2}}) {
    auto reference = Conv<double>(l.filters, l.kernel).stride(l.stride).padding(l.padding);
    const Shape out = reference.configure(in);
    reference.set_algorithm(ConvAlgorithm::im2col);
    for (Index i = 0; i < reference.weights().size(); ++i)
      reference.weights().data()[i] = static_cast<float>(0.01 * normal(engine));
    Batch<double> x = make_batch<double>(in, chains), dy = make_batch<double>(out, chains);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(normal(engine));
    for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<float>(normal(engine));
    Batch<double> y_ref, dx_ref;
    LayerPattern<double> pattern_d;
    reference.forward(x, y_ref, pattern_d);
    reference.backward(pattern_d, dy, dx_ref);
    Vector<double> g_ref[2] = {Vector<double>::Zero(reference.weights().size()), Vector<double>::Zero(l.filters)};
    reference.accumulate_gradient(dy, 1.0, g_ref);

    const std::string name = "conv " + std::to_string(in.channels) + "->" + std::to_string(l.filters) + " " +
                             std::to_string(l.kernel) + "x" + std::to_string(l.kernel) + " s" + std::to_string(l.stride);
    const double gflop = 2.0 * static_cast<double>(reference.macs()) * static_cast<double>(chains) * 1e-9;
    for (ConvAlgorithm algorithm : {ConvAlgorithm::im2col, ConvAlgorithm::winograd}) {
      auto conv = Conv<float>(l.filters, l.kernel).stride(l.stride).padding(l.padding);
      conv.configure(in);
      conv.set_algorithm(algorithm);
      conv.weights() = reference.weights().cast<float>();
      const Batch<float> xf = x.cast<float>(), dyf = dy.cast<float>();
      Batch<float> y, dx;
      LayerPattern<float> pattern;
      Vector<float> g[2] = {Vector<float>::Zero(conv.weights().size()), Vector<float>::Zero(l.filters)};
      conv.forward(xf, y, pattern);  // warm-up: buffers allocated here
      conv.backward(pattern, dyf, dx);
      conv.accumulate_gradient(dyf, 1.f, g);
      Times t;
      t.forward = best_time(repeats, [&] { conv.forward(xf, y, pattern); });
      t.backward = best_time(repeats, [&] { conv.backward(pattern, dyf, dx); });
      t.gradient = best_time(repeats, [&] {
        g[0].setZero();
        conv.accumulate_gradient(dyf, 1.f, g);
      });
      t.forward_error = relative_error(as_vector(y), as_vector(y_ref));
      t.backward_error = relative_error(as_vector(dx), as_vector(dx_ref));
      t.gradient_error = relative_error(g[0], g_ref[0]);
      std::printf("%-26s %-9s %9.4f %9.4f %9.4f %8.1f %8.1f %8.1f %9.2e %9.2e %9.2e\n", name.c_str(),
                  conv.active_algorithm() == ConvAlgorithm::winograd ? "winograd" : "im2col", t.forward, t.backward,
                  t.gradient, gflop / t.forward, gflop / t.backward, gflop / t.gradient, t.forward_error,
                  t.backward_error, t.gradient_error);
      std::fflush(stdout);
    }
    in = out;
  }
  return 0;
}
