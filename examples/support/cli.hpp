// examples/support/cli.hpp — the command-line conventions of the example programs (CLI11): the options
// every learning program has (--out, --seed, --threads, --resume, --snapshot-every, --stop-after),
// validators whose errors read as sentences ("--size must be a positive integer, got 0"), and the
// parse that prints them on one line and exits with status 1.
#pragma once

#include <gconvnet/core/tensor.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gconvnet::examples {

/// The options every learning program has; the defaults are the usual ones (a program may change
/// them before add_run_options).
struct RunOptions {
  std::string out;             ///< --out DIR: the output directory (created)
  std::uint64_t seed = 2016;   ///< --seed N
  int threads = 0;             ///< --threads N for OpenMP and Eigen (0: their default)
  std::string resume;          ///< --resume CHECKPOINT: continue an earlier run
  Index snapshot_every = 100;  ///< --snapshot-every N: pictures and checkpoint every N iterations
  Index stop_after = 0;        ///< --stop-after N: stop after iteration N as Ctrl-C would, exit 0 (0: never)
};

/// The words of the shared options' help that differ between programs.
struct RunOptionHelp {
  std::string seeded = "weights' initialisation, Langevin noise";  ///< what --seed seeds
  std::string snapshot_flag = "--snapshot-every";    ///< the name of the cadence option
  std::string snapshot_what = "contact sheet and checkpoint";  ///< what it writes
};

// ---------------------------------------------------------------------------------------------------
// Validators: CLI11 runs them on the text given, before converting it; an error reads
// "NAME must be ..., got TEXT" (see parse_command_line).

namespace detail {
/// A validator that accepts what `ok` accepts and otherwise says "must be <expected>, got <text>".
inline CLI::Validator must_be(const std::string& expected, const std::string& type,
                              std::function<bool(const std::string&)> ok) {
  return CLI::Validator(
      [expected, ok](std::string& text) { return ok(text) ? std::string() : "must be " + expected + ", got " + text; },
      type);
}
inline bool parse_integer(const std::string& s, long long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && *end == '\0' && errno == 0;
}
inline bool parse_number(const std::string& s, double& value) {
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  return !s.empty() && *end == '\0' && std::isfinite(value);
}
}  // namespace detail

/// An integer ≥ 1.
inline CLI::Validator positive_integer() {
  return detail::must_be("a positive integer", "POSITIVE", [](const std::string& s) {
    long long v = 0;
    return detail::parse_integer(s, v) && v >= 1;
  });
}
/// An integer ≥ 0.
inline CLI::Validator non_negative_integer() {
  return detail::must_be("0 or a positive integer", "NON-NEGATIVE", [](const std::string& s) {
    long long v = 0;
    return detail::parse_integer(s, v) && v >= 0;
  });
}
/// A finite number > 0.
inline CLI::Validator positive_number() {
  return detail::must_be("a positive number", "POSITIVE", [](const std::string& s) {
    double v = 0;
    return detail::parse_number(s, v) && v > 0;
  });
}
/// One of the words in `allowed`.
inline CLI::Validator one_of(const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return detail::must_be("one of " + list, "{" + list + "}", [allowed](const std::string& s) {
    for (const auto& a : allowed)
      if (s == a) return true;
    return false;
  });
}
/// A file that exists.
inline CLI::Validator existing_file() {
  return detail::must_be("an existing file", "FILE", [](const std::string& s) {
    std::error_code ec;
    return std::filesystem::is_regular_file(s, ec);
  });
}
/// A file or a folder that exists.
inline CLI::Validator existing_path() {
  return detail::must_be("an existing file or folder", "PATH", [](const std::string& s) {
    std::error_code ec;
    return std::filesystem::exists(s, ec);
  });
}

// ---------------------------------------------------------------------------------------------------
// The shared options and the parse.

/// Adds --out (required), --seed, --threads, --snapshot-every (named by help.snapshot_flag),
/// --stop-after and --resume, bound to `o`; their defaults are o's values.
inline void add_run_options(CLI::App& app, RunOptions& o, const RunOptionHelp& help = {}) {
  app.add_option("--out", o.out, "output directory (created)")->required();
  app.add_option("--seed", o.seed, "random seed (" + help.seeded + ")")->capture_default_str();
  app.add_option("--threads", o.threads, "threads for OpenMP and Eigen (0: their default, all cores)")
      ->check(non_negative_integer())->capture_default_str();
  app.add_option(help.snapshot_flag, o.snapshot_every, help.snapshot_what + " every N iterations")
      ->check(positive_integer())->capture_default_str();
  app.add_option("--stop-after", o.stop_after, "stop after iteration N as Ctrl-C would (checkpoint written; exit "
                 "status 0): learn in chunks with --resume")->check(positive_integer());
  app.add_option("--resume", o.resume, "continue from a checkpoint written by an earlier run with the same options")
      ->check(existing_file());
}

/// Parses the command line. Returns the exit status when the program must end now: 0 after --help
/// (printed on stdout); 1 after an error, printed on stderr as "PROGRAM: --size must be a positive
/// integer, got 0" and a pointer to --help. Returns nothing when the program goes on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    const std::size_t colon = what.find(": must be ");  // CLI11's "NAME: " before a validator's sentence
    if (colon != std::string::npos) what.erase(colon, 1);
    std::cerr << std::filesystem::path(argv[0]).filename().string() << ": " << what
              << "\nRun with --help for more information.\n";
    return 1;
  }
  return std::nullopt;
}

}  // namespace gconvnet::examples
