// examples/support/progress.hpp — the progress display of the example programs: a bar with an ETA on
// a terminal, a plain line now and then otherwise (stderr).
#pragma once

#include <gconvnet/core/tensor.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace gconvnet::examples {

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
/// `stage_lengths` are the iterations of each stage, the last repeating for later stages.
class Progress {
public:
  Progress(std::vector<double> stage_cost, std::vector<Index> stage_lengths, Index plain_every = 20)
      : cost_(std::move(stage_cost)), lengths_(std::move(stage_lengths)),
        plain_every_(std::max<Index>(plain_every, 1)), tty_(::isatty(::fileno(stderr)) != 0) {
    if (cost_.empty()) cost_.push_back(1.0);
    if (lengths_.empty()) lengths_.push_back(1);
    for (Index& n : lengths_) n = std::max<Index>(n, 1);
  }

  /// Reports iteration `done` of `total` (1-based, just finished, in stage `stage`, which took
  /// `seconds`); `status` is shown after the ETA (e.g. "f(obs)-f(syn) 12.5").
  void update(Index done, Index total, Index stage, double seconds, const std::string& status) {
    cost_done_ += stage_cost(stage);
    seconds_ += seconds;
    const double eta = eta_seconds(done, total);
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
  /// Seconds left after iteration `done` of `total`: the seconds per unit of stage cost so far (over
  /// every update) times the cost of the iterations left, each at its stage's cost.
  double eta_seconds(Index done, Index total) const {
    double cost_left = 0;
    for (Index i = done, s = stage_of(done), end = stage_end(s); i < total; ++i) {
      if (i >= end) end += length(++s);
      cost_left += stage_cost(s);
    }
    return cost_done_ > 0 ? seconds_ / cost_done_ * cost_left : 0;
  }
  /// Ends a terminal's progress line before other output.
  void interrupt_line() const {
    if (tty_) std::cerr << "\n";
  }

private:
  Index length(Index s) const {
    return lengths_[static_cast<std::size_t>(std::min<Index>(s, static_cast<Index>(lengths_.size()) - 1))];
  }
  /// One past the last iteration (0-based) of stage s.
  Index stage_end(Index s) const {
    Index end = 0;
    for (Index k = 0; k <= s; ++k) end += length(k);
    return end;
  }
  /// The stage of iteration i (0-based).
  Index stage_of(Index i) const {
    Index s = 0;
    for (Index end = length(0); i >= end; end += length(++s)) {}
    return s;
  }
  double stage_cost(Index s) const {
    return cost_[static_cast<std::size_t>(std::clamp<Index>(s, 0, static_cast<Index>(cost_.size()) - 1))];
  }
  std::vector<double> cost_;
  std::vector<Index> lengths_;
  Index plain_every_;
  bool tty_;
  double cost_done_ = 0, seconds_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace gconvnet::examples
