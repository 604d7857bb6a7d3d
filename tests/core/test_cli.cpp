#include <fstream>

#include "catch_torch.h"
#include "common/cli.h"
#include "test_support.h"

namespace {

struct ToolOptions {
  std::uint64_t seed = 0;
  int count = 1;
  std::string out;
  bool force = false;
  template <class V>
  void visit(V& v) {
    v("seed", seed, "seed");
    v("count", count, "count");
    v("out", out, "output");
    v("force", force, "force");
  }
};

int run(std::vector<std::string> args, ToolOptions& result) {
  wtp::cli::Tool tool("wtp-test", "test tool");
  tool.bind("--count", "count", "how many");
  tool.bind("--out", "out", "where");
  tool.bind_flag("--force", "force", "redo");
  args.insert(args.begin(), "wtp-test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return tool.run(static_cast<int>(argv.size()), argv.data(),
                  [&] { result = wtp::config::decode<ToolOptions>(tool.config()); });
}

}  // namespace

TEST_CASE("cli precedence: defaults < config file < --set < bound flags", "[cli]") {
  wtp::test::TempDir dir;
  std::ofstream(dir / "c.yaml") << "count: 4\nout: from-file\nseed: 9\n";
  const std::string cfg = (dir / "c.yaml").string();
  ToolOptions o;
  REQUIRE(run({"--config", cfg}, o) == 0);
  CHECK(o.count == 4);
  CHECK(o.out == "from-file");
  CHECK(o.seed == 9);
  REQUIRE(run({"--config", cfg, "--set", "count=5", "--seed", "11"}, o) == 0);
  CHECK(o.count == 5);
  CHECK(o.seed == 11);
  REQUIRE(run({"--config", cfg, "--set", "count=5", "--count", "6", "--force"}, o) == 0);
  CHECK(o.count == 6);
  CHECK(o.force);
}

TEST_CASE("cli maps config and usage errors to exit code 2", "[cli]") {
  wtp::test::TempDir dir;
  std::ofstream(dir / "bad.yaml") << "count: 4\ncuont: 5\n";
  ToolOptions o;
  CHECK(run({"--config", (dir / "bad.yaml").string()}, o) == 2);
  CHECK(run({"--count", "many"}, o) == 2);
  CHECK(run({"--set", "nonsense"}, o) == 2);
  CHECK(run({"--config", (dir / "missing.yaml").string()}, o) == 2);
  CHECK(run({"--log-level", "loud"}, o) == 2);
  CHECK(run({"--unknown"}, o) == 2);
}
