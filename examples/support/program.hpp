// examples/support/program.hpp — what the example programs share and the library leaves to its users:
// Ctrl-C handling, a progress display, the bundled data files, and how a program reports an error.
// Not part of the library (it prints, and it owns process-wide signal handlers).
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace gconvnet::examples {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------
// Ctrl-C and SIGTERM: the handler only raises a flag; a program's loop looks at it after each
// iteration, writes its checkpoint and returns exit_code(). A second signal ends the program at once.

namespace detail {
inline volatile std::sig_atomic_t stop_signal = 0;
extern "C" inline void on_stop_signal(int sig) {
  stop_signal = sig;
  std::signal(sig, SIG_DFL);
}
}  // namespace detail

/// Installs the SIGINT and SIGTERM handlers.
inline void catch_stop_signals() {
  std::signal(SIGINT, detail::on_stop_signal);
  std::signal(SIGTERM, detail::on_stop_signal);
}
/// True once SIGINT or SIGTERM arrived.
inline bool stop_requested() { return detail::stop_signal != 0; }
/// "SIGINT" or "SIGTERM".
inline const char* stop_signal_name() { return detail::stop_signal == SIGINT ? "SIGINT" : "SIGTERM"; }
/// The shell's convention for a program ended by a signal: 128 + its number.
inline int stop_exit_code() { return 128 + static_cast<int>(detail::stop_signal); }

// ---------------------------------------------------------------------------------------------------
// Errors: one line on stderr and a distinct exit status.

/// Exit status of a run that diverged (NaN or Inf in the chains, gradients or weights).
inline constexpr int exit_diverged = 3;

/// Prints ONE line "PROGRAM: message" on stderr for the exception in flight and returns the exit
/// status: 3 for a NumericalError (the run diverged), with a hint and the last good checkpoint
/// (`checkpoint`, when not empty and on disk: continue from it with --resume and a smaller step size
/// or learning rate); 1 otherwise. Call from a catch block.
inline int report_exception(const char* program, const std::string& checkpoint = {}) {
  try {
    throw;
  } catch (const NumericalError& e) {
    std::cerr << program << ": the run diverged: " << e.what()
              << "; hint: rerun with a smaller --step-size or --learning-rate";
    if (!checkpoint.empty() && fs::exists(checkpoint))
      std::cerr << ", from the last good checkpoint: --resume " << checkpoint;
    else
      std::cerr << " (no checkpoint was written before the divergence)";
    std::cerr << "\n";
    return exit_diverged;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------------
// Files.

/// Where a bundled data file is: in `source_dir` (the examples/data folder this program was built
/// from), or installed under share/gconvnet/examples/data next to the executable.
/// throws: Error naming the places looked in.
inline std::string bundled_file(const std::string& name, const std::string& source_dir) {
  std::vector<fs::path> candidates;
  if (!source_dir.empty()) candidates.emplace_back(fs::path(source_dir) / name);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "gconvnet" / "examples" / "data" / name);
  std::string places;
  for (const auto& p : candidates) {
    if (fs::exists(p)) return p.string();
    places += (places.empty() ? "" : ", ") + p.parent_path().string();
  }
  throw Error("the bundled file '" + name + "' is not in " + (places.empty() ? std::string("any known place") : places));
}

/// Removes the temporary files that io::write_file_atomically ("NAME.tmp-XXXXXX") leaves in `dir`
/// when the process is killed (SIGKILL, power loss) between creating and renaming one; returns how
/// many. Only for a directory this program alone writes (its --out): another process's file being
/// written there would be removed too. A missing directory has none.
inline int remove_stale_temp_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at == 0 || name.size() != at + 5 + 6 || !entry.is_regular_file(ec)) continue;
    if (fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

/// This program's command line with "--resume CHECKPOINT" in place of any earlier --resume.
inline std::string resume_command(int argc, char** argv, const fs::path& checkpoint) {
  std::string cmd = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--resume") {
      ++i;
      continue;
    }
    if (a.rfind("--resume=", 0) == 0) continue;
    cmd += " " + a;
  }
  return cmd + " --resume " + checkpoint.string();
}

// ---------------------------------------------------------------------------------------------------
// Progress.

/// "m:ss" or "h:mm:ss".
inline std::string clock_time(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << ":" << std::setw(2) << std::setfill('0');
  os << (s / 60) % 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return os.str();
}

/// A progress bar with ETA on a terminal (stderr); a plain line every `plain_every` iterations (or
/// 30 s) otherwise. The ETA weighs the remaining iterations by the cost of their stage (e.g. the
/// model's multiply-adds at that stage's depth); one stage of cost 1 for a program without stages.
class Progress {
public:
  Progress(std::vector<double> stage_cost, Index iterations_per_stage, Index plain_every = 20)
      : cost_(std::move(stage_cost)), per_stage_(std::max<Index>(iterations_per_stage, 1)),
        plain_every_(std::max<Index>(plain_every, 1)), tty_(::isatty(::fileno(stderr)) != 0) {
    if (cost_.empty()) cost_.push_back(1.0);
  }

  /// Reports iteration `done` of `total` (1-based, just finished, in stage `stage`, which took
  /// `seconds`); `status` is shown after the ETA (e.g. "f(obs)-f(syn) 12.5").
  void update(Index done, Index total, Index stage, double seconds, const std::string& status) {
    cost_done_ += stage_cost(stage);
    seconds_ += seconds;
    double cost_left = 0;
    for (Index i = done; i < total; ++i) cost_left += stage_cost(i / per_stage_);
    const double eta = cost_done_ > 0 ? seconds_ / cost_done_ * cost_left : 0;
    const auto now = std::chrono::steady_clock::now();
    std::ostringstream line;
    if (cost_.size() > 1) line << "stage " << stage + 1 << "/" << cost_.size() << " ";
    line << "iter " << done << "/" << total << "  " << std::fixed << std::setprecision(2) << seconds
         << " s/it  ETA " << clock_time(eta) << "  " << status;
    if (tty_) {
      if (done < total && now - last_ < std::chrono::milliseconds(200)) return;
      const int width = 30;
      const int filled = static_cast<int>(width * done / std::max<Index>(total, 1));
      std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
                << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << line.str() << "    "
                << std::flush;
      if (done == total) std::cerr << "\n";
    } else {
      if (done % plain_every_ != 0 && done != total && now - last_ < std::chrono::seconds(30)) return;
      std::cerr << line.str() << "\n";
    }
    last_ = now;
  }
  /// Ends a terminal's progress line before other output.
  void interrupt_line() const {
    if (tty_) std::cerr << "\n";
  }

private:
  double stage_cost(Index s) const {
    return cost_[static_cast<std::size_t>(std::clamp<Index>(s, 0, static_cast<Index>(cost_.size()) - 1))];
  }
  std::vector<double> cost_;
  Index per_stage_, plain_every_;
  bool tty_;
  double cost_done_ = 0, seconds_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace gconvnet::examples
