// bench_langevin — speed of the Langevin step and of a learning iteration on the paper's texture net
// (conv 3→100 15×15 s3 p2, ReLU, 100→64 5×5 p2, ReLU, 64→30 3×3 p2, ReLU), against the same process's
// GEMM throughput at the shape of the net's largest convolution, and how it scales with the threads.
//
//   bench_langevin [--net texture|objects|cd|prototype] [--json] [--sizes 224,112,64] [--chains 1,16]
//                  [--threads 1,2,4,...] [--repeats N] [--rounds R] [--algorithm auto|im2col|winograd]
//                  [--min-work NS] [--print-partition T]
//
// --net picks the net and its defaults: texture (above; L = 10), or the default nets of the small
// programs, to measure them without their I/O: objects = synthesize_objects (3×64×64,
// conv:32:7:2:3,relu,conv:32:5:1:2,relu,conv:20:3:1:1,relu,fc:1; 4 chains, L = 10), cd = cd_reconstruct
// (3×32×32, conv:16:5:1:2,relu,fc:16,relu; 10 chains, one CD step), prototype = prototype_dictionary
// (1×12×12, fc:16,relu; 512 chains, L = 10). A learning iteration is L steps, then ∂f/∂w over one
// observed image and over the chains.
//
// Effective GFLOP/s counts every convolution as direct convolution: 2·MACs for the bottom-up pass and
// the same again for the top-down pass (and for the weight gradient in a learning iteration), so a
// faster algorithm (fewer real operations) shows as a higher figure. --algorithm sets every
// convolution's ConvAlgorithm (auto: the library's choice), so one build compares the paths.
//
// Threads: --threads lists thread counts up to the machine's (default 1, 2, 4, … and the core count).
// Every size and chain count also runs on one thread (first, if the list lacks 1): speed-up is the
// 1-thread time over the t-thread time, efficiency the speed-up over t, for the step, the iteration and
// the GEMM; a summary line per configuration follows the table. Timings are the best of --repeats
// (default 10; the learning iteration a third as many) in each of --rounds rounds (default 5) that run
// the thread counts in turn (1, 2, …, 1, 2, …), each in a fresh child process: on a shared machine
// other work comes and goes over seconds, and interleaved rounds give every thread count the same
// chance of a quiet spell, where one pass per thread count lets a slow spell fall on one of them.
// --min-work sets the work (estimated one-core nanoseconds) below which a parallel loop stays on the
// calling thread (detail::set_parallel_min_work). --print-partition T prints, without running
// anything, every parallel loop of the net at each size and chain count: pass, pieces, what a piece
// is, whether it would run in a team, and the share of T threads' time equal pieces can fill.
//
// Memory: each configuration runs in a child process. peak_MiB is the growth of its resident memory
// (VmHWM at the end of the learning iteration minus VmRSS before the model is built; the GEMM
// reference runs afterwards and is not counted). The working set (ws) is what the algorithm holds:
// weights and gradients, the chains and their gradient, every layer's activation, top-down buffer and
// pattern, the observed image, and every convolution's own buffers as it reports them
// (Conv::workspace_size: patches and columns for im2col; padded inputs, transformed filters,
// per-thread tile buffers and weight-gradient buffers for Winograd).
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/layers/detail/partition.hpp>
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
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace gconvnet;
using Clock = std::chrono::steady_clock;

struct Net {
  std::string name, layers;
  Index channels, steps;
  std::vector<Index> sizes, chains;
};

const Net nets[] = {
    {"texture", "conv:100:15:3:2,relu,conv:64:5:1:2,relu,conv:30:3:1:2,relu", 3, 10, {224, 112, 64}, {1, 16}},
    {"objects", "conv:32:7:2:3,relu,conv:32:5:1:2,relu,conv:20:3:1:1,relu,fc:1", 3, 10, {64}, {4}},
    {"cd", "conv:16:5:1:2,relu,fc:16,relu", 3, 1, {32}, {10}},
    {"prototype", "fc:16,relu", 1, 10, {12}, {512}},
};

struct Config {
  const Net* net;
  Index size, chains;
  int threads;
  ConvAlgorithm algorithm;
  double min_work;  // < 0: the library's default
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

DynamicModel<float> make_net(const Net& net, Index size, ConvAlgorithm algorithm) {
  DynamicModel<float> model(Shape{net.channels, size, size}, parse_layers<float>(net.layers));
  model.for_each_layer_all([&](Index, auto& layer) {
    if constexpr (std::is_same_v<std::decay_t<decltype(layer)>, Conv<float>>) layer.set_algorithm(algorithm);
  });
  return model;
}

// Calls f(conv) for every convolution of the model.
template <class F>
void for_each_conv(DynamicModel<float>& model, F&& f) {
  model.for_each_layer_all([&](Index, auto& layer) {
    if constexpr (std::is_same_v<std::decay_t<decltype(layer)>, Conv<float>>) f(layer);
  });
}

Result run(const Config& c, int repeats) {
  set_threads(c.threads);
  if (c.min_work >= 0) detail::set_parallel_min_work(c.min_work);
  const double rss_at_start = resident_bytes("VmRSS");
  std::mt19937_64 engine(1);
  auto model = make_net(*c.net, c.size, c.algorithm);
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

  // One learning iteration of Algorithm 1: L steps, then ∂f/∂w over one observed image and the chains.
  Batch<float> observed = make_batch<float>(model.input_shape(), 1);
  std::normal_distribution<float> normal(0.f, 30.f);
  for (Index i = 0; i < observed.size(); ++i) observed.data()[i] = normal(engine);
  auto grads = model.zero_gradients();
  const LangevinOptions steps{0.3, c.net->steps, 1.0};
  const int iteration_repeats = std::max(1, repeats / 3);
  r.iteration_seconds = best_time(iteration_repeats, [&] {
    langevin(model, chains, steps, engine, ws);
    grads.set_zero();
    model.accumulate_parameter_gradient(observed, grads, 1.f);
    model.accumulate_parameter_gradient(chains, grads, -1.f / static_cast<float>(c.chains));
  });
  r.iteration_gflop = (static_cast<double>(c.net->steps) * 4 * macs * static_cast<double>(c.chains) +
                       6 * macs * static_cast<double>(c.chains + 1)) * 1e-9;

  // Working set (see the header comment), then the peak before the GEMM reference allocates.
  double floats = 2.0 * static_cast<double>(chains.size()) + 2.0 * static_cast<double>(model.num_parameters()) +
                  static_cast<double>(observed.size());
  for (Index l = 0; l < model.num_layers(); ++l)
    floats += 3.0 * static_cast<double>(model.output_shape(l).size() * c.chains);  // activation, top-down, gate
  for_each_conv(model, [&](const Conv<float>& conv) { floats += static_cast<double>(conv.workspace_size()); });
  r.working_set = floats * sizeof(float);
  r.peak = resident_bytes("VmHWM") - rss_at_start;

  // The same process's GEMM (Eigen's, with its own threads) at the im2col shape of the convolution
  // with the most multiply-adds: (K × C·k²) · (C·k² × H_out·W_out·N); texture: (64 × 2500) · (2500 × 72²·N).
  Index m = 1, k = 1, n = 1;
  for_each_conv(model, [&](const Conv<float>& conv) {
    if (conv.macs() * c.chains > m * k * n)
      m = conv.filters(), k = conv.input_shape().channels * conv.kernel_height() * conv.kernel_width(),
      n = conv.output_shape().pixels() * c.chains;
  });
  Matrix<float> A = Matrix<float>::Random(m, k), B = Matrix<float>::Random(k, n), C(m, n);
  C.noalias() = A * B;
  const double gemm_seconds = best_time(repeats, [&] { C.noalias() = A * B; });
  r.gemm_gflops = 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n) / gemm_seconds * 1e-9;
  return r;
}

std::vector<Index> parse_list(const std::string& s) {
  std::vector<Index> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stol(item));
  return out;
}

int machine_cores() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#endif
}

// Every parallel loop of the net (one Langevin step, then a learning iteration's weight gradient) for
// `chains` chains, and the share of `threads` threads' time it can fill.
void print_partition(const Net& net, Index size, Index chains, ConvAlgorithm algorithm, int threads) {
  auto model = make_net(net, size, algorithm);
  std::printf("\n%s net, %ldx%ld, %ld chains, %d threads (parallel loops from %.0f us of estimated one-core work):\n",
              net.name.c_str(), static_cast<long>(size), static_cast<long>(size), static_cast<long>(chains), threads,
              detail::parallel_min_work() * 1e-3);
  std::printf("  %-12s %-16s %-32s %7s  %-46s %9s %8s\n", "layer", "pass", "loop", "pieces", "piece", "work_ms",
              "balance");
  double total = 0, filled = 0;
  auto row = [&](const std::string& layer, const detail::LoopCut& l) {
    const bool team = l.runs_in_team();
    const double b = team ? l.balance(threads) : 1.0 / threads;
    char balance[16];
    std::snprintf(balance, sizeof balance, "%.2f", b);
    std::printf("  %-12s %-16s %-32s %7ld  %-46s %9.3f %8s\n", layer.c_str(), l.pass.c_str(), l.loop.c_str(),
                static_cast<long>(l.pieces), l.piece.c_str(), l.work * 1e-6, team ? balance : "inline");
    total += l.work;
    filled += l.work * b;
  };
  row("-", detail::langevin_move_cut(model.input_shape().size() * chains));
  model.for_each_layer_all([&](Index l, auto& layer) {
    using L = std::decay_t<decltype(layer)>;
    const Index values = model.output_shape(l).size() * chains;
    if constexpr (std::is_same_v<L, Conv<float>>) {
      const std::string name = std::to_string(l) + (layer.active_algorithm() == ConvAlgorithm::winograd ? " winograd"
                                                                                                       : " im2col");
      for (const auto& cut : detail::conv_loop_cuts(layer, chains)) row(name, cut);
    } else if constexpr (std::is_same_v<L, ReLU<float>> || std::is_same_v<L, Softplus<float>>) {
      const double scalars = std::is_same_v<L, ReLU<float>> ? 3 : 30;
      row(std::to_string(l), detail::elementwise_cut("bottom-up", values, scalars));
      row(std::to_string(l), detail::elementwise_cut("top-down", values, 3));
    }
  });
  std::printf("  work-weighted share of %d threads' time (inline loops fill 1/%d): %.3f\n", threads, threads,
              filled / total);
}

// Runs one configuration in a child process (its own memory high-water mark, a fresh OpenMP runtime).
bool run_in_child(const Config& c, int repeats, Result& r) {
  int fd[2];
  if (pipe(fd) != 0) return false;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    const Result result = run(c, repeats);
    if (write(fd[1], &result, sizeof result) != static_cast<ssize_t>(sizeof result)) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  const bool got = read(fd[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got && status == 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  const int cores = machine_cores();
  const Net* net = &nets[0];
  std::vector<Index> sizes, chain_counts, thread_counts;
  for (int t = 1; t < cores; t *= 2) thread_counts.push_back(t);
  thread_counts.push_back(cores);
  int repeats = 10, rounds = 5, partition_threads = 0;
  double min_work = -1;
  ConvAlgorithm algorithm = ConvAlgorithm::automatic;
  std::string algorithm_name = "auto";
  const char* usage =
      "usage: bench_langevin [--net texture|objects|cd|prototype] [--json] [--sizes 224,112,64] [--chains 1,16] [--threads 1,2,...] [--repeats N] [--rounds R]"
      " [--algorithm auto|im2col|winograd] [--min-work NS] [--print-partition T]\n";
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
    else if (a == "--net") {
      const std::string name = next();
      net = nullptr;
      for (const Net& n : nets)
        if (n.name == name) net = &n;
      if (!net) {
        std::cerr << "bench_langevin: --net is '" << name << "', expected texture, objects, cd or prototype\n";
        return 2;
      }
    }
    else if (a == "--sizes") sizes = parse_list(next());
    else if (a == "--chains") chain_counts = parse_list(next());
    else if (a == "--threads") thread_counts = parse_list(next());
    else if (a == "--repeats") repeats = std::stoi(next());
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--min-work") min_work = std::stod(next());
    else if (a == "--print-partition") partition_threads = std::stoi(next());
    else if (a == "--algorithm") {
      algorithm_name = next();
      if (algorithm_name == "auto") algorithm = ConvAlgorithm::automatic;
      else if (algorithm_name == "im2col") algorithm = ConvAlgorithm::im2col;
      else if (algorithm_name == "winograd") algorithm = ConvAlgorithm::winograd;
      else {
        std::cerr << "bench_langevin: --algorithm is '" << algorithm_name << "', expected auto, im2col or winograd\n";
        return 2;
      }
    } else {
      std::cerr << usage;
      return a == "--help" ? 0 : 2;
    }
  }
  if (repeats < 1 || rounds < 1) {
    std::cerr << "bench_langevin: --repeats is " << repeats << " and --rounds " << rounds << ", expected both >= 1\n";
    return 2;
  }
  if (sizes.empty()) sizes = net->sizes;
  if (chain_counts.empty()) chain_counts = net->chains;
  if (min_work >= 0) detail::set_parallel_min_work(min_work);
  if (partition_threads > 0) {
    for (Index size : sizes)
      for (Index chains : chain_counts) print_partition(*net, size, chains, algorithm, partition_threads);
    return 0;
  }
  for (Index t : thread_counts)
    if (t < 1 || t > cores) {
      std::cerr << "bench_langevin: --threads has " << t << ", expected 1.." << cores << " (this machine's cores)\n";
      return 2;
    }
  // The 1-thread run first: the reference of every speed-up.
  std::vector<Index> runs{1};
  for (Index t : thread_counts)
    if (t != 1) runs.push_back(t);

  std::vector<std::string> rows, summaries;
  if (!json) {
    std::printf("net: %s, algorithm: %s, %d cores, parallel loops from %.0f us of estimated one-core work\n",
                net->name.c_str(), algorithm_name.c_str(), cores, detail::parallel_min_work() * 1e-3);
    std::printf("%5s %6s %7s %10s %10s %9s %9s %6s %6s %6s %6s %6s %8s %7s\n", "size", "chains", "threads", "step_s",
                "iter_s", "eff_GF/s", "gemm_GF/s", "step_x", "eff", "iter_x", "eff", "gemm_x", "peak_MiB", "peak/ws");
  }
  for (Index size : sizes)
    for (Index chains : chain_counts) {
      // Best of the rounds for each thread count (runs[0] is 1 thread).
      std::vector<Result> best(runs.size());
      for (int round = 0; round < rounds; ++round)
        for (std::size_t i = 0; i < runs.size(); ++i) {
          const Config c{net, size, chains, static_cast<int>(runs[i]), algorithm, min_work};
          Result r;
          if (!run_in_child(c, repeats, r)) {
            std::cerr << "bench_langevin: configuration " << size << "/" << chains << "/" << runs[i] << " failed\n";
            return 1;
          }
          Result& b = best[i];
          if (round == 0) b = r;
          b.step_seconds = std::min(b.step_seconds, r.step_seconds);
          b.iteration_seconds = std::min(b.iteration_seconds, r.iteration_seconds);
          b.gemm_gflops = std::max(b.gemm_gflops, r.gemm_gflops);
          b.peak = std::max(b.peak, r.peak);
        }
      const Result one = best[0];
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const Index threads = runs[i];
        const Result& r = best[i];
        const bool listed = std::find(thread_counts.begin(), thread_counts.end(), threads) != thread_counts.end();
        if (!listed) continue;  // the 1-thread reference the list left out
        const double t = static_cast<double>(threads);
        const double step_x = one.step_seconds / r.step_seconds, iter_x = one.iteration_seconds / r.iteration_seconds;
        const double gemm_x = r.gemm_gflops / one.gemm_gflops;
        const double eff = r.step_gflop / r.step_seconds;
        const double iter_eff = r.iteration_gflop / r.iteration_seconds;
        std::ostringstream line;
        line << size << "x" << size << ", " << chains << " chains, " << threads << " threads: step " << r.step_seconds
             << " s (" << step_x << "x one thread, efficiency " << step_x / t << "), iteration " << r.iteration_seconds
             << " s (" << iter_x << "x, " << iter_x / t << "), GEMM " << r.gemm_gflops << " GF/s (" << gemm_x << "x, "
             << gemm_x / t << ")";
        summaries.push_back(line.str());
        if (json) {
          std::ostringstream os;
          os << "{\"net\": \"" << net->name << "\", \"algorithm\": \"" << algorithm_name << "\", \"size\": " << size << ", \"chains\": " << chains
             << ", \"threads\": " << threads << ", \"langevin_step_seconds\": " << r.step_seconds
             << ", \"learning_iteration_seconds\": " << r.iteration_seconds << ", \"effective_gflops\": " << eff
             << ", \"learning_effective_gflops\": " << iter_eff << ", \"gemm_gflops\": " << r.gemm_gflops
             << ", \"ratio_to_gemm\": " << eff / r.gemm_gflops << ", \"step_speedup\": " << step_x
             << ", \"step_efficiency\": " << step_x / t << ", \"iteration_speedup\": " << iter_x
             << ", \"iteration_efficiency\": " << iter_x / t << ", \"gemm_speedup\": " << gemm_x
             << ", \"peak_memory_bytes\": " << r.peak << ", \"working_set_bytes\": " << r.working_set << "}";
          rows.push_back(os.str());
        } else {
          std::printf("%5ld %6ld %7ld %10.4f %10.4f %9.1f %9.1f %6.2f %6.2f %6.2f %6.2f %6.2f %8.1f %7.2f\n",
                      static_cast<long>(size), static_cast<long>(chains), static_cast<long>(threads), r.step_seconds,
                      r.iteration_seconds, eff, r.gemm_gflops, step_x, step_x / t, iter_x, iter_x / t, gemm_x,
                      r.peak / 1048576.0, r.peak / r.working_set);
          std::fflush(stdout);
        }
      }
    }
  if (json) {
    std::cout << "{\"configurations\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) std::cout << "  " << rows[i] << (i + 1 < rows.size() ? ",\n" : "\n");
    std::cout << "]}\n";
  } else {
    std::printf("\n");
    for (const auto& line : summaries) std::printf("%s\n", line.c_str());
  }
  return 0;
}
