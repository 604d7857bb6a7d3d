#pragma once
/// Helpers shared by the io tests.
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "catch_torch.h"
#include "test_support.h"

namespace wtp::io::test {

/// A python3 interpreter that can import `modules` (e.g. "numpy" or "torch, numpy"), or
/// nullopt. Tries $WTP_PYTHON, then `python3` on PATH, then the system /usr/bin/python3
/// (a PATH python from pyenv/venv may lack the Debian packages).
inline std::optional<std::string> find_python(const std::string& modules) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("WTP_PYTHON")) candidates.emplace_back(env);
  candidates.emplace_back("python3");
  candidates.emplace_back("/usr/bin/python3");
  for (const auto& py : candidates) {
    std::string import = modules.empty() ? "pass" : "import " + modules;
    auto r = ::wtp::test::run_command(py + " -c '" + import + "'");
    if (r.status == 0) return py;
  }
  return std::nullopt;
}

/// Runs `script` with `python` inside `dir` (written there as script.py); REQUIREs success
/// and returns the output.
inline std::string run_python(const std::string& python, const std::filesystem::path& dir,
                              const std::string& script) {
  auto file = dir / "script.py";
  {
    std::ofstream out(file);
    out << script;
  }
  auto r = ::wtp::test::run_command("cd '" + dir.string() + "' && " + python + " script.py");
  INFO(r.output);
  REQUIRE(r.status == 0);
  return r.output;
}

/// One row of ../shared/fixtures/checkpoints/expected.tsv.
struct ExpectedTensor {
  std::string key, dtype, shape;
  double sum = 0;
  std::vector<double> first;
};

/// Parses expected.tsv (header: key, dtype, shape, sum, first values).
inline std::vector<ExpectedTensor> read_expected(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<ExpectedTensor> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    REQUIRE(cols.size() == 5);
    ExpectedTensor row{cols[0], cols[1], cols[2], std::stod(cols[3]), {}};
    std::stringstream vs(cols[4]);
    double v;
    while (vs >> v) row.first.push_back(v);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace wtp::io::test
