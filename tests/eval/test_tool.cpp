// End-to-end runs of build/bin/wtp-eval on inputs written to a temporary directory.
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/evaluate.h"
#include "io/npy.h"
#include "test_support.h"

// Last: Catch's CHECK must replace the one glog (via LibTorch) defines.
#include <catch2/catch.hpp>

using namespace wtp::eval;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

wtp::test::CommandResult eval_tool(const std::string& args) {
  return wtp::test::run_command((wtp::test::bin_dir() / "wtp-eval").string() +
                                " --log-level warn " + args);
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

nlohmann::json read_json(const fs::path& path) {
  return nlohmann::json::parse(wtp::test::read_file(path));
}

}  // namespace

TEST_CASE("wtp-eval --pair-scores: protocol, report files and plots", "[eval][tool]") {
  wtp::test::TempDir dir;
  // The leak example of test_verification.cpp: fold accuracies 0 and 1.
  write(dir / "s.csv", "fold,same,distance\n1,1,0.35\n1,0,0.2\n2,1,0.1\r\n2,0,0.5\n\n");
  auto r = eval_tool("--pair-scores " + (dir / "s.csv").string() + " --out " +
                     (dir / "out" / "report.json").string() + " --old-sweep");
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto json = read_json(dir / "out" / "report.json");
  CHECK(json["accuracy_mean"].get<double>() == 0.5);
  CHECK(json["accuracy_se"].get<double>() == Approx(0.5));
  CHECK(json["verification_folds"].get<double>() == 2);
  CHECK(json.contains("leaky_old_sweep_accuracy"));
  CHECK(json.contains("tar_at_far_1e-3"));
  CHECK(fs::exists(dir / "out" / "report.md"));
  CHECK(fs::file_size(dir / "out" / "roc.png") > 1000);
  CHECK(fs::file_size(dir / "out" / "threshold_accuracy.png") > 1000);
  CHECK_THAT(r.output, Contains("accuracy_mean"));  // printed table
}

TEST_CASE("wtp-eval --pair-scores: bad input gives a clear usage error", "[eval][tool]") {
  wtp::test::TempDir dir;
  const std::string out = " --out " + (dir / "r.json").string();
  write(dir / "bad_line.csv", "fold,same,distance\n1,1,0.3\n1,0\n2,0,0.5\n");
  auto r = eval_tool("--pair-scores " + (dir / "bad_line.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("bad_line.csv:3:") && Contains("3 comma-separated fields"));
  write(dir / "bad_value.csv", "fold,same,distance\n1,1,0.3\n2,0,abc\n");
  r = eval_tool("--pair-scores " + (dir / "bad_value.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("bad_value.csv:3:") && Contains("distance 'abc'"));
  write(dir / "bad_same.csv", "fold,same,distance\n1,2,0.3\n");
  r = eval_tool("--pair-scores " + (dir / "bad_same.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains(":2:") && Contains("must be 0 or 1"));
  write(dir / "header.csv", "a,b,c\n1,1,0.3\n");
  r = eval_tool("--pair-scores " + (dir / "header.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output,
             Contains("no column 'fold'") && Contains("required columns: fold, same, distance"));
  write(dir / "one_fold.csv", "fold,same,distance\n1,1,0.3\n1,0,0.5\n");
  r = eval_tool("--pair-scores " + (dir / "one_fold.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("at least 2 folds"));
  r = eval_tool("--pair-scores " + (dir / "missing.csv").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("no such file"));
  r = eval_tool(out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("exactly one input"));
  r = eval_tool("--checkpoint x.pt" + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("x.pt' does not exist"));
}

TEST_CASE("wtp-eval --embeddings: retrieval and clustering end to end", "[eval][tool]") {
  wtp::test::TempDir dir;
  // Four identities along orthogonal directions with small offsets, plus one lone label.
  std::vector<float> v;
  std::vector<std::int64_t> lab;
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 5; ++i) {
      lab.push_back(10 + c);
      for (int d = 0; d < 6; ++d) v.push_back(d == c ? 1.0f : 0.02f * static_cast<float>(i + d));
    }
  lab.push_back(99);
  for (int d = 0; d < 6; ++d) v.push_back(d == 5 ? 1.0f : 0.0f);
  wtp::io::write_npy(dir / "e.npy", torch::tensor(v).view({21, 6}));
  wtp::io::write_npy(dir / "l.npy", torch::tensor(lab));
  auto r = eval_tool("--embeddings " + (dir / "e.npy").string() + " --labels " +
                     (dir / "l.npy").string() + " --out " + (dir / "report.json").string() +
                     " --k 1,3 --restarts 2 --seed 3");
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto json = read_json(dir / "report.json");
  CHECK(json["recall_at_1"].get<double>() == 1.0);
  CHECK(json["recall_at_3"].get<double>() == 1.0);
  CHECK(!json.contains("recall_at_2"));
  CHECK(json["map_at_r"].get<double>() == 1.0);
  CHECK(json["retrieval_excluded_queries"].get<double>() == 1);
  CHECK(json["identities"].get<double>() == 5);
  CHECK(json["nmi"].get<double>() == Approx(1.0));
  CHECK(json["ami"].get<double>() == Approx(1.0));
  CHECK(fs::exists(dir / "report.md"));

  // Bad inputs.
  const std::string out = " --out " + (dir / "bad.json").string();
  wtp::io::write_npy(dir / "short.npy", torch::tensor(std::vector<std::int64_t>{1, 2, 3}));
  r = eval_tool("--embeddings " + (dir / "e.npy").string() + " --labels " +
                (dir / "short.npy").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("3 labels for 21 embeddings"));
  auto with_nan = torch::tensor(v).view({21, 6}).clone();
  with_nan[7][2] = std::nanf("");
  wtp::io::write_npy(dir / "nan.npy", with_nan);
  r = eval_tool("--embeddings " + (dir / "nan.npy").string() + " --labels " +
                (dir / "l.npy").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("row 7"));
  wtp::io::write_npy(dir / "flat.npy", torch::tensor(v));
  r = eval_tool("--embeddings " + (dir / "flat.npy").string() + " --labels " +
                (dir / "l.npy").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("expected shape [N, D]"));
  wtp::io::write_npy(dir / "flabels.npy", torch::zeros({21}));
  r = eval_tool("--embeddings " + (dir / "e.npy").string() + " --labels " +
                (dir / "flabels.npy").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("integer labels"));
  r = eval_tool("--embeddings " + (dir / "e.npy").string() + out);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("needs --labels"));
}

TEST_CASE("read_pair_scores parses the CSV in-process", "[eval][tool]") {
  wtp::test::TempDir dir;
  write(dir / "s.csv", " fold , same , distance \n0,1,1e-1\n-3,0,2.5\n");
  auto p = read_pair_scores(dir / "s.csv");
  CHECK(p.fold == std::vector<std::int64_t>{0, -3});
  CHECK(p.same == std::vector<std::int64_t>{1, 0});
  CHECK(p.distance == std::vector<double>{0.1, 2.5});
  write(dir / "nan.csv", "fold,same,distance\n0,1,nan\n");
  CHECK_THROWS_WITH(read_pair_scores(dir / "nan.csv"), Contains("nan.csv:2:"));
  write(dir / "empty.csv", "fold,same,distance\n");
  CHECK_THROWS_WITH(read_pair_scores(dir / "empty.csv"), Contains("no pairs"));
}

TEST_CASE("wtp-eval --pair-scores: columns by name, extra columns ignored", "[eval][tool]") {
  wtp::test::TempDir dir;
  // The header a new user had: fold,same,distance,i,j (and the same data reordered).
  write(dir / "extra.csv",
        "fold,same,distance,i,j\n1,1,0.35,0,1\n1,0,0.2,2,3\n2,1,0.1,4,5\n"
        "2,0,0.5,6,7\n");
  write(dir / "reordered.csv",
        "j,distance,note,same,fold\n1,0.35,x,1,1\n3,0.2,,0,1\n"
        "5,0.1,\"a,b\",1,2\n7,0.5,y,0,2\n");
  for (const char* name : {"extra.csv", "reordered.csv"}) {
    INFO(name);
    const auto p = read_pair_scores(dir / name);
    CHECK(p.fold == std::vector<std::int64_t>{1, 1, 2, 2});
    CHECK(p.same == std::vector<std::int64_t>{1, 0, 1, 0});
    CHECK(p.distance == std::vector<double>{0.35, 0.2, 0.1, 0.5});
    auto r = eval_tool("--pair-scores " + (dir / name).string() + " --out " +
                       (dir / name).replace_extension("json").string());
    INFO(r.output);
    CHECK(r.status == 0);
  }
  write(dir / "no_distance.csv", "fold,same,score,i,j\n1,1,0.3,0,1\n");
  auto r = eval_tool("--pair-scores " + (dir / "no_distance.csv").string() + " --out " +
                     (dir / "r.json").string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("no column 'distance'") && Contains("fold,same,score,i,j"));
}
