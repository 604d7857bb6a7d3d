// The serve tests' archives (serve_fixture.h) as a CTest fixture of their own
// (tests/serve/CMakeLists.txt), so the browser test (tests/browser) can require them. Hidden
// from the Catch2 run: the other serve tests make the archives on first use anyway.
#include "catch_torch.h"
#include "serve_fixture.h"
#include "test_support.h"

TEST_CASE("the serve fixture's archives are made", "[.fixture]") {
  std::string why;
  const auto archives = wtp::test::serve_archives(why);
  if (!archives) WTP_SKIP(why);
  CHECK(std::filesystem::is_regular_file(archives->model));
  CHECK(std::filesystem::is_regular_file(archives->liveness));
}
