// The error catalogue (docs/errors.md) against the headers and the tests: every error site of
// include/gconvnet/ is documented by exactly one entry, every entry's site still exists, and every
// entry is triggered by a test (expect_error) unless it says why none can be written.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "reliability/error_catalogue.hpp"

using namespace reliability;

TEST_CASE("docs/errors.md is well formed", "[reliability][catalogue]") {
  const auto& entries = catalogue();
  REQUIRE(entries.size() > 50);
  std::set<std::string> ids;
  for (const auto& e : entries) {
    INFO("entry `" << e.id << "` at docs/errors.md:" << e.line);
    CHECK(ids.insert(e.id).second);  // ids are unique
    CHECK(std::regex_match(e.id, std::regex("[a-z0-9_]+(\\.[a-z0-9_]+)+")));
    CHECK(!e.function.empty());
    CHECK(!e.message.empty());
    CHECK((e.type == "Error" || e.type == "NumericalError"));
    CHECK(!e.sites.empty());
    CHECK(!e.cause.empty());
    CHECK(!e.fix.empty());
    CHECK_NOTHROW(message_regex(e.message));
  }
}

TEST_CASE("every error site of the headers is documented by exactly one entry, every entry's site exists",
          "[reliability][catalogue]") {
  const auto sites = error_sites();
  const auto& entries = catalogue();
  REQUIRE(sites.size() > 100);
  for (const auto& site : sites) {
    const auto ids = entries_for(site, entries);
    INFO("include/gconvnet/" << site.file << ":" << site.line << ": " << site.text);
    INFO("documented by " << ids.size() << " entries" << (ids.empty() ? "" : ", first `" + ids.front() + "`"));
    CHECK(ids.size() == 1);
  }
  for (const auto& e : entries)
    for (const auto& [file, key] : e.sites) {
      bool found = false;
      for (const auto& site : sites) found = found || (site.file == file && site.text.find(collapse(key)) != std::string::npos);
      INFO("entry `" << e.id << "` (docs/errors.md:" << e.line << ") names a site that no longer exists: " << file
                     << " `" << key << "`");
      CHECK(found);
    }
}

TEST_CASE("every documented error has a test that triggers it", "[reliability][catalogue]") {
  // every expect_error("ID" under tests/
  std::set<std::string> tested;
  const std::regex use(R"(expect_error\(\s*"([a-z0-9_]+(?:\.[a-z0-9_]+)+)\")");
  for (const auto& f : fs::recursive_directory_iterator(source_dir() / "tests")) {
    const auto ext = f.path().extension();
    if (!f.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    const std::string text = read_text(f.path());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), use); it != std::sregex_iterator(); ++it)
      tested.insert((*it)[1]);
  }
  std::size_t untested = 0;
  for (const auto& e : catalogue()) {
    INFO("entry `" << e.id << "` (docs/errors.md:" << e.line << ")");
    if (!e.untested.empty()) {
      ++untested;
      CHECK(tested.count(e.id) == 0);  // "Test: none" would be stale
      continue;
    }
    CHECK(tested.count(e.id) == 1);
  }
  for (const auto& id : tested) {
    INFO("a test names `" << id << "`, which docs/errors.md does not list");
    CHECK_NOTHROW(catalogue_entry(id));
  }
  WARN(catalogue().size() << " documented errors, " << catalogue().size() - untested
                          << " triggered by tests, " << untested << " that no test can provoke");
}

TEST_CASE("the catalogue checks can fail", "[reliability][catalogue]") {
  // a site no entry documents, and a site two entries claim
  const std::string header = "void f(int x) {\n  detail::check(x > 0, \"f\", \"argument 'x' is \", x,\n"
                             "      \", expected > 0\");\n  // detail::fail(\"in a comment\");\n"
                             "  throw NumericalError(detail::concat(\"g: \", x));\n}\n";
  const auto sites = error_sites_in("fake.hpp", header);
  REQUIRE(sites.size() == 2);
  CHECK(sites[0].line == 2);
  CHECK(sites[0].text == "detail::check(x > 0, \"f\", \"argument 'x' is \", x, \", expected > 0\")");
  const auto entries = parse_catalogue(
      "# Errors\n## fake\n### `fake.one` — one\n- **Function:** `f`\n- **Message:** `f: argument 'x' is <x>, expected > 0`\n"
      "- **Type:** Error\n- **Site:** `fake.hpp` `\"argument 'x' is \"`\n"
      "### `fake.two` — two\n- **Function:** `f`\n- **Message:** `f: <anything>`\n"
      "- **Type:** Error\n- **Site:** `fake.hpp` `\"f\"`\n- **Test:** none — a reason\n");
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].untested == " — a reason");
  CHECK(entries_for(sites[0], entries).size() == 2);  // ambiguous: the first test above would fail
  CHECK(entries_for(sites[1], entries).empty());      // undocumented: likewise
  // templates: the whole message must match, placeholders stand for any text
  CHECK(matches_template("f: argument 'x' is -1, expected > 0", entries[0].message));
  CHECK_FALSE(matches_template("f: argument 'x' is -1, expected >= 0", entries[0].message));
  CHECK_FALSE(matches_template("g: f: argument 'x' is -1, expected > 0", entries[0].message));
  CHECK(matches_template("a (b) [c] $d.", "a (<x>) [<y>] $d."));
  CHECK_FALSE(matches_template("a (b) [c] $dx", "a (<x>) [<y>] $d."));
  CHECK_THROWS_WITH(parse_catalogue("### `x.y`\n- **Type:** Warning\n"), Catch::Contains("Type is 'Warning'"));
}
