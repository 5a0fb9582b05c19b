// The example programs' progress display (examples/support/progress.hpp): the ETA weighs the
// iterations left by their stage's cost, and the line it prints.
#include "../../examples/support/progress.hpp"

#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

using gconvnet::Index;
using gconvnet::examples::clock_time;
using gconvnet::examples::Progress;

namespace {

/// std::cerr into a string for one scope (the progress display writes there).
class CaptureStderr {
public:
  CaptureStderr() : old_(std::cerr.rdbuf(text_.rdbuf())) {}
  ~CaptureStderr() { std::cerr.rdbuf(old_); }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;
  std::string text() const { return text_.str(); }

private:
  std::ostringstream text_;
  std::streambuf* old_;
};

}  // namespace

TEST_CASE("clock_time writes m:ss, or h:mm:ss from an hour", "[programs][progress]") {
  CHECK(clock_time(0) == "0:00");
  CHECK(clock_time(65) == "1:05");
  CHECK(clock_time(59.6) == "1:00");
  CHECK(clock_time(3725) == "1:02:05");
  CHECK(clock_time(-3) == "0:00");
}

TEST_CASE("Progress: the ETA weighs the iterations left by their stage's cost", "[programs][progress]") {
  CaptureStderr capture;
  // three stages of 10 iterations costing 1, 2 and 4 per iteration; every iteration takes 1.5 s per
  // unit of cost, so the ETA is 1.5 s times the cost left
  Progress progress({1, 2, 4}, {10, 10, 10});
  const Index total = 30;
  auto run = [&](Index from, Index to) {
    for (Index done = from; done <= to; ++done) {
      const Index stage = (done - 1) / 10;
      const double cost = stage == 0 ? 1 : stage == 1 ? 2 : 4;
      progress.update(done, total, stage, 1.5 * cost, "gap 0.1");
    }
  };
  run(1, 5);
  CHECK(progress.eta_seconds(5, total) == Approx(1.5 * (5 * 1 + 10 * 2 + 10 * 4)));
  run(6, 15);
  CHECK(progress.eta_seconds(15, total) == Approx(1.5 * (5 * 2 + 10 * 4)));
  run(16, 29);
  CHECK(progress.eta_seconds(29, total) == Approx(1.5 * 4));
  run(30, 30);
  CHECK(progress.eta_seconds(30, total) == 0);
  // the last line: stage, iteration, seconds per iteration, ETA and the status
  const std::string text = capture.text();
  CHECK(text.find("stage 3/3 iter 30/30  6.00 s/it  ETA 0:00  gap 0.1") != std::string::npos);
}

TEST_CASE("Progress: the last stage length repeats and the last cost holds for later stages", "[programs][progress]") {
  CaptureStderr capture;
  // stages of 4 iterations; costs 1 then 3 (for stages 2, 3, … as well)
  Progress progress({1, 3}, {4});
  progress.update(1, 12, 0, 2.0, "");
  progress.update(2, 12, 0, 2.0, "");
  // 2 s per unit; left: 2 iterations of stage 1 (cost 1), 4 of stage 2 and 4 of stage 3 (cost 3)
  CHECK(progress.eta_seconds(2, 12) == Approx(2.0 * (2 * 1 + 4 * 3 + 4 * 3)));
  // before any update there is no rate: the ETA is 0
  Progress fresh({1}, {});
  CHECK(fresh.eta_seconds(0, 10) == 0);
}
