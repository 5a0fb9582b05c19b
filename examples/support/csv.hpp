// examples/support/csv.hpp — the CSV files of the example programs: rows formatted one way everywhere,
// tables written atomically, and the learning log, which survives a killed run and a --resume.
#pragma once

#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>
#include <gconvnet/io/atomic_file.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace gconvnet::examples {

namespace detail {
template <class T>
void csv_field(std::ostream& os, const T& value) {
  os << value;
}
/// A list of numbers is one field, its entries separated by spaces (e.g. one per layer).
inline void csv_field(std::ostream& os, const std::vector<double>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) os << (i ? " " : "") << values[i];
}
}  // namespace detail

/// One CSV row (no newline): the fields in order, separated by commas, each as an ostream with its
/// default format writes it (6 significant digits); a std::vector<double> field as its entries
/// separated by spaces. requires: no field holds a comma or a newline.
template <class... Fields>
std::string csv_row(const Fields&... fields) {
  std::ostringstream os;
  bool first = true;
  ((os << (first ? "" : ","), detail::csv_field(os, fields), first = false), ...);
  return os.str();
}

/// Writes `text` to `path` atomically: the old file or the whole new one, never a part.
/// throws: Error naming the path.
inline void write_text_file(const std::filesystem::path& path, const std::string& text) {
  io::write_file_atomically(path.string(), text.data(), text.size());
}

/// The learning log: a header, then one row per iteration, whose first field is the iteration.
/// On --resume (resume_from > 0) the rows at or after the checkpoint's iteration — written by the
/// interrupted run after its last checkpoint — are dropped first, and so is a row cut short (a
/// last line without its newline, or with another number of fields than the header: a killed
/// run); a fresh run (resume_from = 0) starts an empty log. Either way the log is rewritten
/// atomically, so a kill during the rewrite leaves the old log, never a truncated one. Each row is
/// flushed as it is written.
class CsvLog {
public:
  /// `header`: the column names separated by commas.  throws: Error when the file cannot be written.
  CsvLog(const std::filesystem::path& path, const std::string& header, Index resume_from) {
    std::string text = header + "\n";
    if (resume_from > 0) {
      std::ifstream in(path, std::ios::binary);
      const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto fields = std::count(header.begin(), header.end(), ',');
      std::size_t start = 0;
      for (std::size_t end; (end = old.find('\n', start)) != std::string::npos; start = end + 1) {
        const std::string line = old.substr(start, end - start);  // (a last line without '\n' is never read)
        if (std::count(line.begin(), line.end(), ',') != fields) continue;
        const std::string first = line.substr(0, line.find(','));
        char* stop = nullptr;
        const long long iteration = std::strtoll(first.c_str(), &stop, 10);
        if (!first.empty() && *stop == '\0' && iteration >= 0 && iteration < resume_from) text += line + "\n";
      }
    }
    write_text_file(path, text);
    out_.open(path, std::ios::app);
    if (!out_) throw Error("cannot write '" + path.string() + "'");
  }

  /// Appends one row (see csv_row) and flushes it.
  void write(const std::string& row) {
    out_ << row << "\n";
    out_.flush();
  }

private:
  std::ofstream out_;
};

}  // namespace gconvnet::examples
