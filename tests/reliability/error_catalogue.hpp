// tests/reliability/error_catalogue.hpp — docs/errors.md read as data, so that three things stay in
// step mechanically: the error sites of the headers (every detail::check / fail / throw Error /
// throw NumericalError under include/gconvnet/), the catalogue's entries, and the tests.
//
// An entry of docs/errors.md:
//   ### `layers.conv.filters` — a convolution without filters
//   - **Function:** `Conv::Conv`
//   - **Message:** `Conv::Conv: argument 'filters' is <n>, expected >= 1`
//   - **Type:** Error
//   - **Site:** `layers/conv.hpp` `"argument 'filters' is "`
//   - **Cause:** ...
//   - **Fix:** ...
//   - **Test:** none — REASON            (only for an error no test can provoke)
// The message is the what() of the exception; each <placeholder> stands for any text. A site names
// a header (relative to include/gconvnet/) and a fragment of the throwing statement's source text
// (whitespace collapsed); every error site must be matched by exactly one entry.
// A test triggers an entry with expect_error("ID", [&] { ... }): it checks the exception's type and
// that the whole message matches the entry's template; a test of the catalogue scans tests/ for
// expect_error("ID" to check that every entry without "Test: none" has one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <gconvnet/core/error.hpp>

namespace reliability {

namespace fs = std::filesystem;

/// One documented error (one ### section of docs/errors.md).
struct CatalogueEntry {
  std::string id;
  std::string function;
  std::string message;  ///< template: <placeholder> = any text
  std::string type;     ///< "Error" or "NumericalError"
  std::vector<std::pair<std::string, std::string>> sites;  ///< (header under include/gconvnet/, source fragment)
  std::string cause, fix;
  std::string untested;  ///< the reason after "Test: none", empty when a test exists
  int line = 0;          ///< of the heading, for messages
};

/// One place in the headers that throws.
struct ErrorSite {
  std::string file;  ///< relative to include/gconvnet/
  int line = 0;
  std::string text;  ///< the statement from the call to its closing parenthesis, whitespace collapsed
};

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline fs::path source_dir() { return fs::path(GCONVNET_SOURCE_DIR); }
inline fs::path catalogue_path() { return source_dir() / "docs" / "errors.md"; }

/// The code spans of a line of markdown, in order.
inline std::vector<std::string> code_spans(const std::string& line) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (true) {
    const std::size_t a = line.find('`', at);
    if (a == std::string::npos) break;
    const std::size_t b = line.find('`', a + 1);
    if (b == std::string::npos) break;
    out.push_back(line.substr(a + 1, b - a - 1));
    at = b + 1;
  }
  return out;
}

/// Parses the catalogue text. throws: std::runtime_error naming the line of a malformed entry.
inline std::vector<CatalogueEntry> parse_catalogue(const std::string& text) {
  std::vector<CatalogueEntry> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  const std::regex field(R"(^- \*\*([A-Za-z]+):\*\* ?(.*)$)");
  auto bad = [&](const std::string& why) {
    throw std::runtime_error("docs/errors.md:" + std::to_string(n) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("### `", 0) == 0) {
      const auto spans = code_spans(line);
      if (spans.empty() || spans[0].empty()) bad("a heading without an id in backticks");
      out.push_back(CatalogueEntry{});
      out.back().id = spans[0];
      out.back().line = n;
      continue;
    }
    if (line.rfind("## ", 0) == 0 || line.rfind("# ", 0) == 0) {  // a new area: entries end
      if (!out.empty() && out.back().message.empty()) bad("entry " + out.back().id + " has no Message");
      continue;
    }
    std::smatch m;
    if (out.empty() || !std::regex_match(line, m, field)) continue;
    CatalogueEntry& e = out.back();
    const std::string name = m[1], rest = m[2];
    const auto spans = code_spans(rest);
    if (name == "Function") {
      e.function = rest;
    } else if (name == "Message") {
      if (spans.size() != 1) bad("entry " + e.id + ": Message must be one code span");
      e.message = spans[0];
    } else if (name == "Type") {
      e.type = rest;
      if (e.type != "Error" && e.type != "NumericalError") bad("entry " + e.id + ": Type is '" + e.type + "'");
    } else if (name == "Site") {
      if (spans.size() != 2) bad("entry " + e.id + ": Site must be `header` `fragment`");
      e.sites.emplace_back(spans[0], spans[1]);
    } else if (name == "Cause") {
      e.cause = rest;
    } else if (name == "Fix") {
      e.fix = rest;
    } else if (name == "Test") {
      if (rest.rfind("none", 0) != 0) bad("entry " + e.id + ": Test is written only as 'none — REASON'");
      e.untested = rest.size() > 4 ? rest.substr(4) : "(no reason given)";
    }
  }
  return out;
}

/// docs/errors.md, parsed once.
inline const std::vector<CatalogueEntry>& catalogue() {
  static const std::vector<CatalogueEntry> entries = parse_catalogue(read_text(catalogue_path()));
  return entries;
}

/// The entry `id`. throws: std::runtime_error when the catalogue has none.
inline const CatalogueEntry& catalogue_entry(const std::string& id) {
  for (const auto& e : catalogue())
    if (e.id == id) return e;
  throw std::runtime_error("docs/errors.md has no entry `" + id + "`");
}

/// The regular expression of a message template: literal text, each <placeholder> any text.
inline std::regex message_regex(const std::string& tmpl) {
  std::string re;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '<') {
      const std::size_t close = tmpl.find('>', i + 1);
      const std::size_t next_open = tmpl.find('<', i + 1);
      if (close != std::string::npos && (next_open == std::string::npos || close < next_open) && close > i + 1) {
        re += "[\\s\\S]*";
        i = close;
        continue;
      }
    }
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
    re += c;
  }
  return std::regex(re);
}

/// True when `message` is an instance of the template.
inline bool matches_template(const std::string& message, const std::string& tmpl) {
  return std::regex_match(message, message_regex(tmpl));
}

/// Collapses every run of whitespace to one space.
inline std::string collapse(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

/// The error sites of one header's text: calls of check / detail::check / fail / detail::fail /
/// check_argument / X.fail and throw Error( / throw NumericalError(, outside comments, whose
/// arguments hold a string literal, except the helpers that forward their parts (the machinery).
inline std::vector<ErrorSite> error_sites_in(const std::string& file, const std::string& text) {
  static const std::regex call(
      R"((?:\b(?:detail::)?(?:check|fail|check_argument)|\.fail|throw\s+(?:Error|NumericalError))\()");
  std::vector<ErrorSite> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), call); it != std::sregex_iterator(); ++it) {
    const std::size_t at = static_cast<std::size_t>(it->position());
    const std::size_t line_start = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
    if (text.substr(line_start, at - line_start).find("//") != std::string::npos) continue;  // a comment
    std::size_t i = at + static_cast<std::size_t>(it->length());
    int depth = 1;
    char quote = 0;
    bool literal = false;
    while (i < text.size() && depth > 0) {
      const char c = text[i];
      if (quote) {
        if (c == '\\') {
          i += 2;
          continue;
        }
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
        if (c == '"') literal = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      ++i;
    }
    const std::string statement = collapse(text.substr(at, i - at));
    if (!literal || statement.find("std::forward<Parts>(parts)") != std::string::npos) continue;
    const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    out.push_back(ErrorSite{file, line, statement});
  }
  return out;
}

/// Every error site of every header under include/gconvnet/, files in sorted order.
inline std::vector<ErrorSite> error_sites() {
  const fs::path root = source_dir() / "include" / "gconvnet";
  std::vector<fs::path> files;
  for (const auto& f : fs::recursive_directory_iterator(root))
    if (f.is_regular_file() && f.path().extension() == ".hpp") files.push_back(f.path());
  std::sort(files.begin(), files.end());
  std::vector<ErrorSite> out;
  for (const auto& f : files) {
    const auto sites = error_sites_in(fs::relative(f, root).generic_string(), read_text(f));
    out.insert(out.end(), sites.begin(), sites.end());
  }
  return out;
}

/// The ids of the entries whose Site matches `site`.
inline std::vector<std::string> entries_for(const ErrorSite& site, const std::vector<CatalogueEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries)
    for (const auto& [file, key] : e.sites)
      if (file == site.file && site.text.find(collapse(key)) != std::string::npos) {
        out.push_back(e.id);
        break;
      }
  return out;
}

/// Runs `f`, which must throw the error documented as `id`: the exception's type is the entry's Type
/// and its whole message matches the entry's Message template. Returns the message, for checks of
/// the distinguishing parts.
template <class F>
std::string expect_error(const std::string& id, F&& f) {
  const CatalogueEntry& entry = catalogue_entry(id);
  std::string type = "no exception", what;
  try {
    f();
  } catch (const gconvnet::NumericalError& e) {
    type = "NumericalError";
    what = e.what();
  } catch (const gconvnet::Error& e) {
    type = "Error";
    what = e.what();
  } catch (const std::exception& e) {
    type = "another exception";
    what = e.what();
  }
  INFO("error `" << id << "` (docs/errors.md:" << entry.line << "): expected " << entry.type << " with message\n  "
                 << entry.message << "\ngot " << type << " with message\n  " << what);
  CHECK(type == entry.type);
  CHECK(matches_template(what, entry.message));
  return what;
}

}  // namespace reliability
