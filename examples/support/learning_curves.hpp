// examples/support/learning_curves.hpp — learning_curves.png: how maximum likelihood learning went,
// drawn from the program's log.csv (the columns of stats_log()), so a resumed run draws its whole
// history. Three panels, stage boundaries marked:
//   1. the relative gap (f(obs) − f(syn)) / |f(obs)|: the chains lag behind the observed statistics
//      by this much; learning that works makes it oscillate around 0 (eq. 7.2 at its fixed point);
//   2. per gated layer, |fraction of units on in the observed images − in the chains| (eq. 7.4);
//   3. the chains' contrast (root mean square) over the observed images', 1 when they match.
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>

#include "chart.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gconvnet::examples {

namespace detail {
inline std::vector<std::string> split_fields(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}
inline std::vector<double> numbers(const std::string& field) {
  std::vector<double> out;
  for (const std::string& s : split_fields(field, ' '))
    if (!s.empty()) out.push_back(std::strtod(s.c_str(), nullptr));
  return out;
}
}  // namespace detail

/// The chart of a log.csv written with stats_log(); rows that do not parse are skipped.
/// throws: Error when the file cannot be read or lacks one of the columns used.
inline Image<float> learning_curves(const std::filesystem::path& log_csv) {
  std::ifstream in(log_csv);
  std::string line;
  if (!in || !std::getline(in, line)) throw Error("cannot read the learning log '" + log_csv.string() + "'");
  const std::vector<std::string> header = detail::split_fields(line, ',');
  auto column = [&](const char* name) {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw Error("the learning log '" + log_csv.string() + "' has no column '" + name + "'");
  };
  const std::size_t c_it = column("iteration"), c_stage = column("stage"), c_fo = column("score_observed"),
                    c_fs = column("score_synthesized"), c_ao = column("active_observed"),
                    c_as = column("active_synthesized"), c_co = column("contrast_observed"),
                    c_cs = column("contrast_synthesized");
  const Rgb palette[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}, {255, 127, 14}, {23, 190, 207}};
  ChartPanel gap{"(f(obs) - f(syn)) / |f(obs)|", {{"gap", {}, {}, palette[1]}}, {}, true, 0.0};
  ChartPanel active{"|units on, observed - synthesized|, per layer", {}, {}, true, 0.0};
  ChartPanel contrast{"contrast: RMS of the chains / RMS of the observed image", {{"ratio", {}, {}, palette[0]}}, {},
                      true, 1.0};
  double last_stage = -1;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = detail::split_fields(line, ',');
    if (f.size() != header.size()) continue;
    const double it = std::strtod(f[c_it].c_str(), nullptr), stage = std::strtod(f[c_stage].c_str(), nullptr);
    const double fo = std::strtod(f[c_fo].c_str(), nullptr), fs = std::strtod(f[c_fs].c_str(), nullptr);
    const double co = std::strtod(f[c_co].c_str(), nullptr), cs = std::strtod(f[c_cs].c_str(), nullptr);
    if (last_stage >= 0 && stage != last_stage)
      for (ChartPanel* p : {&gap, &active, &contrast}) p->markers.push_back(it);
    last_stage = stage;
    gap.series[0].x.push_back(it);
    gap.series[0].y.push_back(fo != 0 ? (fo - fs) / std::abs(fo) : NAN);
    contrast.series[0].x.push_back(it);
    contrast.series[0].y.push_back(co > 0 ? cs / co : NAN);
    const std::vector<double> ao = detail::numbers(f[c_ao]), as = detail::numbers(f[c_as]);
    for (std::size_t l = 0; l < ao.size() && l < as.size(); ++l) {
      if (active.series.size() <= l)
        active.series.push_back({"layer " + std::to_string(l + 1), {}, {}, palette[l % std::size(palette)]});
      active.series[l].x.push_back(it);
      active.series[l].y.push_back(std::abs(ao[l] - as[l]));
    }
  }
  return draw_chart({gap, active, contrast});
}

}  // namespace gconvnet::examples
