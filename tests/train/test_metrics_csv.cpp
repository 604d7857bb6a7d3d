#include <cmath>
#include <filesystem>
#include <fstream>

#include "catch_torch.h"
#include "core/error.h"
#include "test_support.h"
#include "train/metrics_csv.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

TEST_CASE("metrics.csv is read by column name; rows keep the canonical order", "[train][csv]") {
  wtp::test::TempDir dir;
  const fs::path path = dir / "metrics.csv";
  std::ofstream(path) << "value,metric,split,step,epoch,stage,note\n"
                         "0.5,recall_at_1,valid,12,1,group_loss,edited by hand\n"
                         ".nan,epoch_loss,train,12,1,group_loss,\n";
  const auto rows = wtp::train::read_metric_rows(path);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].stage == "group_loss");
  CHECK(rows[0].epoch == "1");
  CHECK(rows[0].step == 12);
  CHECK(rows[0].split == "valid");
  CHECK(rows[0].metric == "recall_at_1");
  CHECK(rows[0].value == 0.5);
  CHECK(rows[0].text == "group_loss,1,12,valid,recall_at_1,0.5");
  CHECK(std::isnan(rows[1].value));
  CHECK(wtp::train::read_metric_rows(dir / "none.csv").empty());
  std::ofstream(path, std::ios::trunc) << "stage,epoch,split,metric,value\n";
  CHECK_THROWS_WITH(wtp::train::read_metric_rows(path), Contains("no column 'step'"));
  std::ofstream(path, std::ios::trunc) << "stage,epoch,step,split,metric,value\nx,1,two,v,m,1\n";
  CHECK_THROWS_WITH(wtp::train::read_metric_rows(path),
                    Contains("metrics.csv:2: not a metrics row"));
}
