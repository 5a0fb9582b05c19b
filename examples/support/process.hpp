// examples/support/process.hpp — what a program owns as a process and the library leaves to its users:
// Ctrl-C and SIGTERM, exit statuses and the one-line error report, threads, the files of its --out
// directory and the bundled data. Not part of the library (it prints, and it owns process-wide state).
#pragma once

#include <gconvnet/core/error.hpp>

#include <csignal>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gconvnet::examples {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------
// Ctrl-C and SIGTERM: the handler only raises a flag; the learning loop looks at it after each
// iteration, writes the checkpoint and ends with exit status 128 + signal. A second signal ends the
// program at once.

namespace detail {
inline volatile std::sig_atomic_t stop_signal = 0;
extern "C" inline void on_stop_signal(int sig) {
  stop_signal = sig;
  std::signal(sig, SIG_DFL);
}
/// The newest checkpoint of a good state on disk (see remember_good_checkpoint).
inline std::string last_good_checkpoint;
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
// Errors: one line on stderr and a distinct exit status (docs/errors.md, "Programs").

/// Exit status of a run that diverged (NaN or Inf in the chains, gradients or weights).
inline constexpr int exit_diverged = 3;

/// Records `path` as the newest checkpoint of a good state: the one resumed from, then each one
/// written. A run that diverges never writes one (the learner undoes the failing iteration and
/// throws), so this stays the last good state for report_exception.
inline void remember_good_checkpoint(const std::string& path) { detail::last_good_checkpoint = path; }

/// Prints ONE line "PROGRAM: message" on stderr for the exception in flight and returns the exit
/// status: 3 for a NumericalError (the run diverged), with a hint and the last good checkpoint (when
/// one was remembered and is on disk: continue from it with --resume and a smaller step size or
/// learning rate); 1 otherwise. Call from a catch block.
inline int report_exception(const char* program) {
  const std::string& checkpoint = detail::last_good_checkpoint;
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
// Threads.

/// Sets the threads of OpenMP and of Eigen to `threads`; 0 leaves their defaults.
inline void use_threads(int threads) {
  if (threads <= 0) return;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);
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

/// remove_stale_temp_files in `dir` and in each folder directly inside it.
inline int remove_stale_temp_files_below(const fs::path& dir) {
  int removed = remove_stale_temp_files(dir);
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_directory(ec)) removed += remove_stale_temp_files(entry.path());
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

}  // namespace gconvnet::examples
