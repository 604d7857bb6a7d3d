#include "train/metrics_csv.h"

#include <cmath>
#include <map>
#include <stdexcept>

#include "core/csv.h"

namespace wtp::train {
namespace fs = std::filesystem;

std::vector<MetricRow> read_metric_rows(const fs::path& path) {
  std::vector<MetricRow> rows;
  if (!fs::exists(path)) return rows;
  const std::vector<std::string> names{"stage", "epoch", "step", "split", "metric", "value"};
  const auto table = csv::Table::read(path, names);
  std::vector<std::size_t> columns;
  for (const auto& name : names) columns.push_back(table.column(name));
  for (const auto& row : table.rows()) {
    std::vector<std::string> fields;
    for (std::size_t c : columns) fields.push_back(row.fields[c]);
    MetricRow r;
    r.text = csv::join(fields);
    r.stage = fields[0];
    r.epoch = fields[1];
    r.split = fields[3];
    r.metric = fields[4];
    const std::string& value = fields[5];
    try {
      r.step = std::stoll(fields[2]);
      // format_double writes YAML-style .nan / .inf / -.inf.
      r.value = value == ".nan"    ? NAN
                : value == ".inf"  ? INFINITY
                : value == "-.inf" ? -INFINITY
                                   : std::stod(value);
    } catch (const std::exception&) {
      throw std::runtime_error(
          table.where(row) +
          ": not a metrics row (stage,epoch,step,split,metric,value): " + r.text);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

EpochCurves epoch_curves(const std::vector<MetricRow>& rows, const std::string& valid_metric) {
  EpochCurves c;
  std::map<std::string, double> epoch_x;  // "stage,epoch" -> x
  for (const auto& r : rows) {
    const std::string key = r.stage + "," + r.epoch;
    if (r.split == "train" && r.metric == "epoch_loss") {
      const double x = static_cast<double>(epoch_x.size() + 1);
      epoch_x[key] = x;
      c.loss_x.push_back(x);
      c.loss_y.push_back(r.value);
    } else if (r.split == "valid" && r.metric == valid_metric && epoch_x.count(key)) {
      c.valid_x.push_back(epoch_x[key]);
      c.valid_y.push_back(r.value);
    }
  }
  return c;
}

}  // namespace wtp::train
