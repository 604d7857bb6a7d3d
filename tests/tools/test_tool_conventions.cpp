#include <sstream>

#include "catch_torch.h"
#include "test_support.h"

namespace {
std::vector<std::string> tools() {
  std::vector<std::string> out;
  std::stringstream ss(WTP_TOOLS);
  for (std::string t; std::getline(ss, t, ',');)
    if (!t.empty()) out.push_back(t);
  return out;
}
}  // namespace

TEST_CASE("every tool answers --help and --version and rejects unknown flags with exit 2",
          "[tools]") {
  const auto list = tools();
  REQUIRE(!list.empty());
  for (const auto& tool : list) {
    INFO(tool);
    const auto exe = (wtp::test::bin_dir() / tool).string();
    auto help = wtp::test::run_command(exe + " --help");
    CHECK(help.status == 0);
    CHECK_THAT(help.output, Catch::Contains("--threads"));
    CHECK_THAT(help.output, Catch::Contains("--log-level"));
    auto version = wtp::test::run_command(exe + " --version");
    CHECK(version.status == 0);
    CHECK_THAT(version.output, Catch::Contains(tool));
    auto bad = wtp::test::run_command(exe + " --no-such-flag");
    CHECK(bad.status == 2);
  }
}
