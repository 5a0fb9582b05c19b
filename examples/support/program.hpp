// examples/support/program.hpp — the skeleton every example program uses, so that each program's file
// reads like its algorithm. Not part of the library (it prints, parses command lines and owns
// process-wide signal handlers). What it does for a program:
//   - the command line (cli.hpp): --out, --seed, --threads, --snapshot-every, --stop-after, --resume,
//     validators whose errors read as sentences, exit status 1 on a bad option;
//   - the run (Run): threads set, --out created with its folders, temporary files of a killed run
//     removed; --resume; the learning loop (Run::learn): log.csv (csv.hpp; rows after the checkpoint
//     dropped on --resume), the progress display (progress.hpp), pictures and a checkpoint every
//     --snapshot-every iterations and at the end of every stage, Ctrl-C / SIGTERM / --stop-after
//     answered with a checkpoint and the command that continues; the checkpoint and weights at the
//     end; the list of files written;
//   - errors (process.hpp): one line, exit 1, or 3 for a diverged run naming the last good checkpoint;
//   - images (images.hpp): image lists, centre squares, batches, numbered PNGs.
//
// A learning program, in full:
//
//   int main(int argc, char** argv) try {
//     CLI::App app{"Learn a model of one texture and synthesize from it"};
//     RunOptions run_options;
//     Index iterations = 100;
//     add_run_options(app, run_options);
//     app.add_option("--iterations", iterations, "learning iterations")->check(positive_integer());
//     if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
//     Run run("my_texture", run_options, argc, argv);
//
//     Batch<float> observed = ...;                               // the data, the model, the learner
//     MleLearner<Model> learner(model, observed, options, run_options.seed);
//     run.resume(learner);                                       // with --resume: its checkpoint
//
//     Learning learning = learning_of(learner, iterations);      // Algorithm 1, driven by the skeleton
//     learning.snapshot = [&](Index done) { io::save_png(picture(learner), run.snapshot_file(done)); };
//     if (const auto stopped = run.learn(learning)) return *stopped;  // Ctrl-C: checkpoint written
//
//     io::save_png(picture(learner), run.output("contact_sheet.png"));
//     run.save_results(learning, model);                         // checkpoint.safetensors, weights.safetensors
//     return run.finish();                                       // prints "wrote:" and the files
//   } catch (...) {
//     return report_exception("my_texture");                     // one line; exit 1, or 3 if it diverged
//   }
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/learning/statistics.hpp>

#include "cli.hpp"
#include "csv.hpp"
#include "process.hpp"
#include "progress.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace gconvnet::examples {

// ---------------------------------------------------------------------------------------------------
// What the learning loop needs from a program.

/// The columns of log.csv and how an iteration's statistics fill a row (see csv_row).
struct LogFormat {
  std::string header;
  std::function<std::string(const IterationStats&)> row;
};

/// The log of a learner's own statistics: iteration, stage, both scores and their difference,
/// η, seconds, then per layer the fractions of units on (observed, synthesized) and ‖H_obs − H_syn‖,
/// then the root mean square of the observed images and of the chains (their contrast).
inline LogFormat stats_log() {
  return {"iteration,stage,score_observed,score_synthesized,difference,learning_rate,seconds,active_observed,"
          "active_synthesized,gradient_norm,contrast_observed,contrast_synthesized",
          [](const IterationStats& s) {
            return csv_row(s.iteration, s.stage, s.score_observed, s.score_synthesized,
                           s.score_observed - s.score_synthesized, s.learning_rate, s.seconds, s.active_observed,
                           s.active_synthesized, s.gradient_norm, s.contrast_observed, s.contrast_synthesized);
          }};
}

/// (f(obs) − f(syn)) / |f(obs)|: how far the chains lag behind the observed statistics (0 at a fixed
/// point of learning; 0 when f(obs) is 0).
inline double relative_gap(const IterationStats& s) {
  return s.score_observed != 0 ? (s.score_observed - s.score_synthesized) / std::abs(s.score_observed) : 0.0;
}

/// "f(obs) 12.5  f(syn) 11.0  gap 12.0%": the progress figures of maximum likelihood learning.
inline std::string score_status(const IterationStats& s) {
  std::ostringstream os;
  os << std::setprecision(4) << "f(obs) " << s.score_observed << "  f(syn) " << s.score_synthesized << std::fixed
     << std::setprecision(1) << "  gap " << 100 * relative_gap(s) << "%";
  return os.str();
}

/// A learning run as Run::learn drives it: the learner behind three functions, and what the program
/// adds to each iteration. learning_of fills the first four for a library learner.
struct Learning {
  Index total = 0;                                          ///< the run ends when iteration() reaches it
  std::function<Index()> iteration;                         ///< iterations done so far, across stages
  std::function<IterationStats()> step;                     ///< one iteration; its stats.iteration is global
  std::function<void(const std::string&)> save_checkpoint;  ///< all that --resume needs, to that path
  // Optional:
  std::function<bool()> stage_finished;                     ///< after a stage's last iteration: snapshot too
  std::function<void(Index)> snapshot;                      ///< pictures after iteration N (the checkpoint follows)
  std::function<std::string(const IterationStats&)> status = score_status;  ///< progress figures
  LogFormat log = stats_log();                              ///< log.csv
  std::vector<double> stage_cost{1.0};                      ///< cost of an iteration in each stage (ETA)
  std::vector<Index> stage_lengths;                         ///< iterations of each stage for the ETA, the last
                                                            ///< repeating (empty: one stage of `total`)
  Index print_every = 20;                                   ///< a progress line every N iterations off a terminal
};

/// The learning of `learner` — an MleLearner or CdLearner, or anything with iteration(), step() and
/// save_checkpoint(path) — until iteration `total`; `learner` must outlive the result.
template <class Learner>
Learning learning_of(Learner& learner, Index total) {
  Learning l;
  l.total = total;
  l.iteration = [&learner] { return learner.iteration(); };
  l.step = [&learner] { return learner.step(); };
  l.save_checkpoint = [&learner](const std::string& path) { learner.save_checkpoint(path); };
  return l;
}

// ---------------------------------------------------------------------------------------------------
// The run.

/// What this object represents: one run of a program in its --out directory, from the set-up to the
/// list of files written.
class Run {
public:
  /// Sets OpenMP's and Eigen's threads, creates --out and `folders` in it (listed at the end), and
  /// removes the temporary files a killed run left there (saying how many on stderr).
  /// requires: argv outlives the Run.  throws: std::filesystem errors when --out cannot be created.
  Run(std::string program, const RunOptions& options, int argc, char** argv,
      std::vector<std::string> folders = {"snapshots"})
      : program_(std::move(program)), options_(options), argc_(argc), argv_(argv), out_(options.out),
        folders_(std::move(folders)), start_(std::chrono::steady_clock::now()) {
    use_threads(options_.threads);
    std::filesystem::create_directories(out_);
    for (const auto& f : folders_) std::filesystem::create_directories(out_ / f);
    const int stale = remove_stale_temp_files_below(out_);
    if (stale > 0) std::cerr << program_ << ": removed " << stale << " temporary file(s) of a killed run\n";
  }

  const RunOptions& options() const { return options_; }
  /// The --out directory.
  const fs::path& out() const { return out_; }
  /// DIR/name in the --out directory (not listed at the end; see output).
  fs::path file(const std::string& name) const { return out_ / name; }
  /// DIR/checkpoint.safetensors.
  std::string checkpoint_file() const { return file("checkpoint.safetensors").string(); }
  /// DIR/snapshots/iter_NNNN.png for iteration `iteration`.
  std::string snapshot_file(Index iteration) const {
    std::ostringstream name;
    name << "iter_" << std::setw(4) << std::setfill('0') << iteration << ".png";
    return (out_ / "snapshots" / name.str()).string();
  }
  /// DIR/name, listed by finish() among the files written.
  std::string output(const std::string& name) {
    list(file(name).string());
    return written_.back();
  }
  /// Lists `path` (or `paths`) among the files written.
  void list(const std::string& path) { written_.push_back(path); }
  void list(const std::vector<std::string>& paths) { written_.insert(written_.end(), paths.begin(), paths.end()); }

  /// With --resume: loads that checkpoint into `learner` (load_checkpoint(path)), remembers it as the
  /// last good one and says so; returns whether it did.  throws: Error from load_checkpoint.
  template <class Learner>
  bool resume(Learner& learner) {
    if (options_.resume.empty()) return false;
    learner.load_checkpoint(options_.resume);
    remember_good_checkpoint(options_.resume);
    std::cout << "resumed from " << options_.resume << " at iteration " << learner.iteration() << "\n";
    return true;
  }

  /// Writes the checkpoint (DIR/checkpoint.safetensors) and remembers it as the last good one.
  void save_checkpoint(const Learning& l) {
    l.save_checkpoint(checkpoint_file());
    remember_good_checkpoint(checkpoint_file());
  }

  /// Learns until l.iteration() reaches l.total: after each step a row of log.csv (opened here: the
  /// rows from l.iteration() on are dropped), the progress display, and every --snapshot-every
  /// iterations, at the end of a stage and at the end, l.snapshot and the checkpoint. Returns the
  /// exit status when it stopped early — Ctrl-C or SIGTERM (128 + signal) or --stop-after (0) — after
  /// writing the checkpoint and the command that continues; nothing when learning is done.
  /// throws: what l.step throws (NumericalError for a diverged run; the checkpoint on disk stays the
  /// last good one), Error when a file cannot be written.
  std::optional<int> learn(const Learning& l) {
    CsvLog log(file("log.csv"), l.log.header, l.iteration());
    Progress progress(l.stage_cost, l.stage_lengths.empty() ? std::vector<Index>{l.total} : l.stage_lengths,
                      l.print_every);
    catch_stop_signals();
    while (l.iteration() < l.total) {
      const IterationStats stats = l.step();
      log.write(l.log.row(stats));
      const Index done = l.iteration();
      progress.update(done, l.total, stats.stage, stats.seconds, l.status ? l.status(stats) : std::string());
      if (done % options_.snapshot_every == 0 || done == l.total || (l.stage_finished && l.stage_finished())) {
        if (l.snapshot) l.snapshot(done);
        save_checkpoint(l);
      }
      const bool signalled = stop_requested();
      if (signalled || done == options_.stop_after) {
        progress.interrupt_line();
        save_checkpoint(l);
        std::cerr << program_ << ": " << (signalled ? "interrupted (" : "stopped (")
                  << (signalled ? stop_signal_name() : "--stop-after") << ") after iteration " << done << " of "
                  << l.total << "; checkpoint written to " << checkpoint_file()
                  << "\ncontinue with: " << resume_command(argc_, argv_, checkpoint_file()) << "\n";
        return signalled ? stop_exit_code() : 0;
      }
    }
    return std::nullopt;
  }

  /// The results every learning program ends with: the checkpoint, the weights of `model`
  /// (DIR/weights.safetensors) and the log, listed.  throws: Error when a file cannot be written.
  template <class Model>
  void save_results(const Learning& l, Model& model) {
    save_checkpoint(l);
    list(checkpoint_file());
    io::save_weights(model, output("weights.safetensors"));
    list(file("log.csv").string());
  }

  /// Prints the wall time and "wrote:" with every file listed and the folders; returns 0.
  int finish() const {
    std::cout << "wall time "
              << clock_time(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count())
              << "\nwrote:\n";
    for (const auto& p : written_) std::cout << "  " << p << "\n";
    for (const auto& f : folders_) std::cout << "  " << (out_ / f).string() << "/\n";
    return 0;
  }

private:
  std::string program_;
  RunOptions options_;
  int argc_;
  char** argv_;
  fs::path out_;
  std::vector<std::string> folders_;
  std::vector<std::string> written_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace gconvnet::examples
