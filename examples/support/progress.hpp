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
