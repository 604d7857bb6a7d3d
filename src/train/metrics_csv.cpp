#include "train/metrics_csv.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wtp::train {
namespace fs = std::filesystem;

std::vector<MetricRow> read_metric_rows(const fs::path& path) {
  std::ifstream in(path);
  std::vector<MetricRow> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    MetricRow r;
    r.text = line;
    std::stringstream ss(line);
    std::string step, value;
    std::getline(ss, r.stage, ',');
    std::getline(ss, r.epoch, ',');
    std::getline(ss, step, ',');
    std::getline(ss, r.split, ',');
    std::getline(ss, r.metric, ',');
    std::getline(ss, value, ',');
    try {
      r.step = std::stoll(step);
      // format_double writes YAML-style .nan / .inf / -.inf.
      r.value = value == ".nan"    ? NAN
                : value == ".inf"  ? INFINITY
                : value == "-.inf" ? -INFINITY
                                   : std::stod(value);
    } catch (const std::exception&) {
      throw std::runtime_error(
          path.string() + ":" + std::to_string(rows.size() + 2) +
          ": not a metrics row (stage,epoch,step,split,metric,value): " + line);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace wtp::train
