#include <fstream>

#include "catch_torch.h"
#include "core/csv.h"
#include "core/error.h"
#include "test_support.h"

namespace csv = wtp::csv;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Fields = std::vector<std::string>;

namespace {
void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}
}  // namespace

TEST_CASE("csv::split follows RFC 4180 quoting and trims unquoted fields", "[core][csv]") {
  CHECK(csv::split("a,b,c") == Fields{"a", "b", "c"});
  CHECK(csv::split("") == Fields{""});
  CHECK(csv::split("a,,") == Fields{"a", "", ""});
  CHECK(csv::split(R"(a,"b,""c""",d)") == Fields{"a", "b,\"c\"", "d"});
  CHECK(csv::split(R"( 1 , " x " ,	y	)") == Fields{"1", " x ", "y"});
  CHECK(csv::split(R"(a"b,c)") == Fields{"a\"b", "c"});  // a quote inside a field is text
  CHECK_FALSE(csv::split(R"(a,"b,c)").has_value());      // left open: half-written line
}

TEST_CASE("csv::join quotes what needs it and round-trips through split", "[core][csv]") {
  CHECK(csv::quote("plain") == "plain");
  CHECK(csv::quote("a,b") == "\"a,b\"");
  CHECK(csv::quote("say \"hi\"") == R"("say ""hi""")");
  CHECK(csv::quote(" padded") == "\" padded\"");
  const Fields fields{"x", "", "a,b", "\"q\"", " s ", "line\rbreak"};
  CHECK(csv::join(fields) == R"(x,,"a,b","""q"""," s ","line)"
                             "\rbreak\"");
  CHECK(csv::split(csv::join(fields)) == fields);
}

TEST_CASE("csv::Table finds columns by name in any order and ignores the others", "[core][csv]") {
  wtp::test::TempDir dir;
  write(dir / "t.csv", "j, distance ,fold,same\r\n7,0.5,2,0\r\n\r\n8,\"0.25\",3,1\r\n");
  const auto t = csv::Table::read(dir / "t.csv", {"fold", "same", "distance"});
  CHECK(t.header() == Fields{"j", "distance", "fold", "same"});
  REQUIRE(t.rows().size() == 2);
  CHECK(t.column("fold") == 2);
  CHECK(t.has("j"));
  CHECK_FALSE(t.has("i"));
  const auto& row = t.rows()[1];
  CHECK(row.line == 4);  // the blank line counts
  CHECK(row.fields[t.column("distance")] == "0.25");
  CHECK(t.where(row) == (dir / "t.csv").string() + ":4");
  CHECK_THROWS_AS(t.column("i"), wtp::UsageError);
}

TEST_CASE("csv::Table names the missing column, the file and bad lines", "[core][csv]") {
  wtp::test::TempDir dir;
  write(dir / "m.csv", "fold,same,score,i,j\n1,1,0.3,0,1\n");
  CHECK_THROWS_WITH(csv::Table::read(dir / "m.csv", {"fold", "same", "distance"}),
                    Contains("m.csv: no column 'distance' in the header 'fold,same,score,i,j'") &&
                        Contains("required columns: fold, same, distance"));
  write(dir / "empty.csv", "\n\n");
  CHECK_THROWS_WITH(csv::Table::read(dir / "empty.csv", {"a"}),
                    Contains("empty.csv: empty file") && Contains("the columns a"));
  CHECK_THROWS_WITH(csv::Table::read(dir / "none.csv", {"a"}), Contains("none.csv: no such file"));
  write(dir / "twice.csv", "a,b,a\n");
  CHECK_THROWS_WITH(csv::Table::read(dir / "twice.csv", {"a"}),
                    Contains("the column 'a' appears twice"));
  write(dir / "short.csv", "a,b\n1,2\n3\n\"4,5\n");
  CHECK_THROWS_WITH(
      csv::Table::read(dir / "short.csv", {"a"}),
      Contains("short.csv:3: expected 2 comma-separated fields") && Contains("got 1"));
  // Skipping bad rows keeps the good ones (a resumed writer's half-written last line).
  const auto t = csv::Table::read(dir / "short.csv", {"b"}, csv::BadRows::kSkip);
  REQUIRE(t.rows().size() == 1);
  CHECK(t.rows()[0].fields == Fields{"1", "2"});
}
