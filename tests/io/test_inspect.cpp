// The listing behind wtp-inspect, in-process and through the tool's command line.
#include <sstream>

#include "io/inspect.h"
#include "io/npy.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

namespace {
std::filesystem::path checkpoints() { return *wtp::test::shared_dir() / "fixtures/checkpoints"; }

bool has_line(const std::string& text, const std::string& line) {
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l))
    if (l == line) return true;
  return false;
}
}  // namespace

TEST_CASE("tensor_line formats like expected.tsv", "[io][inspect]") {
  CHECK(wtp::io::tensor_line("w", torch::tensor({{1.0f, -2.5f}, {0.5f, 3.0f}}), 3) ==
        "tensor\tw\tfloat32\t2x2\t4\t2.000000\t1 -2.5 0.5");
  CHECK(wtp::io::tensor_line("s", torch::tensor(int64_t{7}), 4) ==
        "tensor\ts\tint64\tscalar\t1\t7.000000\t7");
  CHECK(wtp::io::tensor_line("e", torch::empty({0, 3}), 4) ==
        "tensor\te\tfloat32\t0x3\t0\t0.000000\t");
  CHECK(wtp::io::tensor_line("b", torch::tensor({true, false, true}), 0) ==
        "tensor\tb\tbool\t3\t3\t2.000000\t");
}

TEST_CASE("inspect lists tensors and hyper-parameters of a Lightning checkpoint", "[io][inspect]") {
  WTP_REQUIRE_SHARED();
  std::ostringstream out;
  wtp::io::inspect_file(checkpoints() / "lightning_like.ckpt", 4, out);
  auto text = out.str();
  INFO(text);
  CHECK(text.rfind("# ", 0) == 0);
  CHECK(text.find("torch.save zip format") != std::string::npos);
  CHECK(has_line(text, "value\tepoch = 17"));
  CHECK(has_line(text, "value\tpytorch-lightning_version = '1.1.6'"));
  CHECK(has_line(text,
                 "tensor\tstate_dict.model.model.conv1.weight\tfloat32\t4x3x3x3\t108\t"
                 "1.454377\t-1.12584 -1.15236 -0.250579 -0.433879"));
  CHECK(has_line(text, "tensor\tstate_dict.model.model.mask.bool\tbool\t3\t3\t2.000000\t1 0 1"));
  CHECK(has_line(text,
                 "tensor\tstate_dict.model.model.emb.half\tfloat16\t3\t3\t1.750000\t0.5 -2 3.25"));
  CHECK(has_line(text,
                 "object\thyper_parameters\tpytorch_lightning.utilities.parsing.AttributeDict"));
  CHECK(has_line(text, "value\thyper_parameters.lr = 0.0001602403"));
  CHECK(has_line(text, "value\thyper_parameters.temperature = 12"));
  CHECK(has_line(text, "tensor\toptimizer_states.0.state.0.exp_avg\tfloat32\t2\t2\t0.000000\t0 0"));
  CHECK(has_line(text, "value\toptimizer_states.0.param_groups.0.lr = 0.0001"));
  CHECK(has_line(text, "# 13 tensors, 160 elements"));
}

TEST_CASE("the tensors listed by inspect match expected.tsv line by line", "[io][inspect]") {
  WTP_REQUIRE_SHARED();
  for (const char* name : {"state_dict_zip.pt", "state_dict_legacy.pt"}) {
    INFO(name);
    std::ostringstream out;
    wtp::io::inspect_file(checkpoints() / name, 4, out);
    auto expected = wtp::io::test::read_expected(checkpoints() / "expected.tsv");
    for (const auto& e : expected) {
      // expected.tsv prints the first values of the non-scalar tensors exactly as %g does.
      std::string prefix = "tensor\t" + e.key + "\t" + e.dtype + "\t" + e.shape + "\t";
      CHECK(out.str().find(prefix) != std::string::npos);
    }
  }
}

TEST_CASE("wtp-inspect command line", "[io][inspect][tool]") {
  WTP_REQUIRE_SHARED();
  auto tool = wtp::test::bin_dir() / "wtp-inspect";
  if (!std::filesystem::exists(tool)) {
    WTP_SKIP(tool << " is not built");
  }
  auto r = wtp::test::run_command(
      tool.string() + " " + (checkpoints() / "state_dict_legacy.pt").string() + " --values 2");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("torch.save legacy format") != std::string::npos);
  CHECK(has_line(r.output, "tensor\tfc.bias_view\tfloat32\t2\t2\t22.000000\t8 14"));
  CHECK(has_line(r.output,
                 "tensor\tconv1.weight\tfloat32\t4x3x3x3\t108\t1.454377\t-1.12584 -1.15236"));

  wtp::test::TempDir dir;
  wtp::io::write_npy(dir / "e.npy", torch::tensor({1.0f, 2.0f}));
  r = wtp::test::run_command(tool.string() + " " + (dir / "e.npy").string());
  CHECK(r.status == 0);
  CHECK(has_line(r.output, "tensor\tarray\tfloat32\t2\t2\t3.000000\t1 2"));

  r = wtp::test::run_command(tool.string() + " " + (dir / "missing.pt").string());
  CHECK(r.status == 2);
  CHECK(r.output.find("missing.pt") != std::string::npos);
  {
    std::ofstream out(dir / "garbage.pt");
    out << "not a checkpoint";
  }
  r = wtp::test::run_command(tool.string() + " " + (dir / "garbage.pt").string());
  CHECK(r.status == 1);
  CHECK(r.output.find("garbage.pt: not a torch.save file") != std::string::npos);
}
