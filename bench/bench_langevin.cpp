// bench_langevin — speed of the Langevin step and of a learning iteration on the paper's texture net
// (conv 3→100 15×15 s3 p2, ReLU, 100→64 5×5 p2, ReLU, 64→30 3×3 p2, ReLU), against the same process's
// GEMM throughput at the layer-2 shape.
//
//   bench_langevin [--json] [--sizes 224,112,64] [--chains 1,16] [--threads 1,2] [--repeats N]
//                  [--algorithm auto|im2col|winograd]
//
// Effective GFLOP/s counts every convolution as direct convolution: 2·MACs for the bottom-up pass and
// the same again for the top-down pass (and for the weight gradient in a learning iteration), so a
// faster algorithm (fewer real operations) shows as a higher figure. --algorithm sets every
// convolution's ConvAlgorithm (auto: the library's choice), so one build compares the paths.
//
// Memory: each configuration runs in a child process. peak_MiB is the growth of its resident memory
// (VmHWM at the end of the learning iteration minus VmRSS before the model is built; the GEMM
// reference runs afterwards and is not counted). The working set (ws) is what the algorithm holds:
// weights and gradients, the chains and their gradient, every layer's activation, top-down buffer and
// pattern, the observed image, and every convolution's own buffers as it reports them
// (Conv::workspace_size: patches and columns for im2col; padded inputs, transformed filters,
// per-thread tile buffers and weight-gradient buffers for Winograd).
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/sampling/langevin.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace gconvnet;
using Clock = std::chrono::steady_clock;

struct Config {
  Index size, chains;
  int threads;
  ConvAlgorithm algorithm;
};

struct Result {
  double step_seconds = 0, iteration_seconds = 0, gemm_gflops = 0;
  double step_gflop = 0, iteration_gflop = 0, working_set = 0, peak = 0;
};

// Resident memory from /proc/self/status: "VmRSS" (now) or "VmHWM" (peak), in bytes.
double resident_bytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') kib = std::atof(line + n + 1);
  std::fclose(f);
  return kib * 1024.0;
}

void set_threads(int t) {
#ifdef _OPENMP
  omp_set_num_threads(t);
#endif
  Eigen::setNbThreads(t);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Best of `repeats` timings of fn().
template <class F>
double best_time(int repeats, F&& fn) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

auto texture_net(Index size) {
  return EnergyModel(Shape{3, size, size}, Conv<float>(100, 15).stride(3).padding(2), ReLU<float>{}, Conv<float>(64, 5).padding(2),
                     ReLU<float>{}, Conv<float>(30, 3).padding(2), ReLU<float>{});
}

Result run(const Config& c, int repeats) {
  set_threads(c.threads);
  const double rss_at_start = resident_bytes("VmRSS");
  std::mt19937_64 engine(1);
  auto model = texture_net(c.size);
  model.layer<0>().set_algorithm(c.algorithm);
  model.layer<2>().set_algorithm(c.algorithm);
  model.layer<4>().set_algorithm(c.algorithm);
  initialize_normal(model, engine, 0.01);
  const double macs = static_cast<double>(model.macs());

  Batch<float> chains = make_batch<float>(model.input_shape(), c.chains);
  chains.setZero();
  LangevinOptions one_step{0.3, 1, 1.0};
  LangevinWorkspace<float> ws;
  langevin(model, chains, one_step, engine, ws);  // warm-up: buffers allocated here
  Result r;
  r.step_seconds = best_time(repeats, [&] { langevin(model, chains, one_step, engine, ws); });
  r.step_gflop = 4 * macs * static_cast<double>(c.chains) * 1e-9;

  // One learning iteration of Algorithm 1: L = 10 steps, then ∂f/∂w over one observed image and the chains.
  Batch<float> observed = make_batch<float>(model.input_shape(), 1);
  std::normal_distribution<float> normal(0.f, 30.f);
  for (Index i = 0; i < observed.size(); ++i) observed.data()[i] = normal(engine);
  auto grads = model.zero_gradients();
  LangevinOptions ten_steps{0.3, 10, 1.0};
  const int iteration_repeats = std::max(1, repeats / 3);
  r.iteration_seconds = best_time(iteration_repeats, [&] {
    langevin(model, chains, ten_steps, engine, ws);
    grads.set_zero();
    model.accumulate_parameter_gradient(observed, grads, 1.f);
    model.accumulate_parameter_gradient(chains, grads, -1.f / static_cast<float>(c.chains));
  });
  r.iteration_gflop = (10 * 4 * macs * static_cast<double>(c.chains) + 6 * macs * static_cast<double>(c.chains + 1)) * 1e-9;

  // Working set (see the header comment), then the peak before the GEMM reference allocates.
  double floats = 2.0 * static_cast<double>(chains.size()) + 2.0 * static_cast<double>(model.num_parameters()) +
                  static_cast<double>(observed.size());
  for (Index l = 0; l < model.num_layers(); ++l)
    floats += 3.0 * static_cast<double>(model.output_shape(l).size() * c.chains);  // activation, top-down, gate
  floats += static_cast<double>(model.layer<0>().workspace_size() + model.layer<2>().workspace_size() +
                                model.layer<4>().workspace_size());
  r.working_set = floats * sizeof(float);
  r.peak = resident_bytes("VmHWM") - rss_at_start;

  // The same process's GEMM at the layer-2 shape: (64 × 2500) · (2500 × H2·W2·N).
  const Shape s2 = model.output_shape(2);
  const Index m = 64, k = 2500, n = s2.pixels() * c.chains;
  Matrix<float> A = Matrix<float>::Random(m, k), B = Matrix<float>::Random(k, n), C(m, n);
  C.noalias() = A * B;
  const double gemm_seconds = best_time(repeats, [&] { C.noalias() = A * B; });
  r.gemm_gflops = 2.0 * m * k * n / gemm_seconds * 1e-9;
  return r;
}

std::vector<Index> parse_list(const std::string& s) {
  std::vector<Index> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stol(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::vector<Index> sizes{224, 112, 64}, chain_counts{1, 16}, thread_counts{1, 2};
  int repeats = 5;
  ConvAlgorithm algorithm = ConvAlgorithm::automatic;
  std::string algorithm_name = "auto";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "bench_langevin: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") json = true;
    else if (a == "--sizes") sizes = parse_list(next());
    else if (a == "--chains") chain_counts = parse_list(next());
    else if (a == "--threads") thread_counts = parse_list(next());
    else if (a == "--repeats") repeats = std::stoi(next());
    else if (a == "--algorithm") {
      algorithm_name = next();
      if (algorithm_name == "auto") algorithm = ConvAlgorithm::automatic;
      else if (algorithm_name == "im2col") algorithm = ConvAlgorithm::im2col;
      else if (algorithm_name == "winograd") algorithm = ConvAlgorithm::winograd;
      else {
        std::cerr << "bench_langevin: --algorithm is '" << algorithm_name << "', expected auto, im2col or winograd\n";
        return 2;
      }
    }
    else {
      std::cerr << "usage: bench_langevin [--json] [--sizes 224,112,64] [--chains 1,16] [--threads 1,2] [--repeats N]"
                   " [--algorithm auto|im2col|winograd]\n";
      return a == "--help" ? 0 : 2;
    }
  }

  std::vector<std::string> rows;
  if (!json) {
    std::printf("algorithm: %s\n", algorithm_name.c_str());
    std::printf("%5s %6s %7s %11s %11s %9s %9s %7s %9s %9s\n", "size", "chains", "threads", "step_s", "iter_s",
                "eff_GF/s", "gemm_GF/s", "ratio", "peak_MiB", "peak/ws");
  }
  for (Index size : sizes)
    for (Index chains : chain_counts)
      for (Index threads : thread_counts) {
        const Config c{size, chains, static_cast<int>(threads), algorithm};
        int fd[2];
        if (pipe(fd) != 0) return 1;
        const pid_t pid = fork();
        if (pid == 0) {
          close(fd[0]);
          const Result r = run(c, repeats);
          if (write(fd[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
          _exit(0);
        }
        close(fd[1]);
        Result r;
        const bool got = read(fd[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
        close(fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!got || status != 0) {
          std::cerr << "bench_langevin: configuration " << size << "/" << chains << "/" << threads << " failed\n";
          return 1;
        }
        const double peak = r.peak;
        const double eff = r.step_gflop / r.step_seconds;
        const double iter_eff = r.iteration_gflop / r.iteration_seconds;
        if (json) {
          std::ostringstream os;
          os << "{\"algorithm\": \"" << algorithm_name << "\", \"size\": " << size << ", \"chains\": " << chains << ", \"threads\": " << threads
             << ", \"langevin_step_seconds\": " << r.step_seconds
             << ", \"learning_iteration_seconds\": " << r.iteration_seconds << ", \"effective_gflops\": " << eff
             << ", \"learning_effective_gflops\": " << iter_eff << ", \"gemm_gflops\": " << r.gemm_gflops
             << ", \"ratio_to_gemm\": " << eff / r.gemm_gflops << ", \"peak_memory_bytes\": " << peak
             << ", \"working_set_bytes\": " << r.working_set << "}";
          rows.push_back(os.str());
        } else {
          std::printf("%5ld %6ld %7ld %11.4f %11.4f %9.1f %9.1f %7.2f %9.1f %9.2f\n", static_cast<long>(size),
                      static_cast<long>(chains), static_cast<long>(threads), r.step_seconds, r.iteration_seconds, eff,
                      r.gemm_gflops, eff / r.gemm_gflops, peak / 1048576.0, peak / r.working_set);
          std::fflush(stdout);
        }
      }
  if (json) {
    std::cout << "{\"configurations\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) std::cout << "  " << rows[i] << (i + 1 < rows.size() ? ",\n" : "\n");
    std::cout << "]}\n";
  }
  return 0;
}
