#pragma once
/// Reading a run's metrics.csv (`stage,epoch,step,split,metric,value`, one row per value;
/// non-finite values written YAML-style as .nan / .inf / -.inf).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace wtp::train {

/// One row of metrics.csv.
struct MetricRow {
  std::string text;  ///< the row as a line of the six columns above, in that order
  std::string stage, epoch, split, metric;
  std::int64_t step = 0;
  double value = 0;
};

/// The rows of a metrics.csv, in file order (none if the file is missing); columns are read
/// by name (csv::Table: any order, others ignored). Throws UsageError naming the missing
/// column, std::runtime_error naming the file and line for a malformed row.
std::vector<MetricRow> read_metric_rows(const std::filesystem::path& path);

/// A run's curves as curves.png draws them: epochs numbered 1, 2, ... across all stages
/// (by their train epoch_loss rows), the mean training loss of each, and the validation
/// `valid_metric` at the epochs that have one.
struct EpochCurves {
  std::vector<double> loss_x, loss_y;    ///< epoch number, mean training loss
  std::vector<double> valid_x, valid_y;  ///< epoch number, validation metric
};
EpochCurves epoch_curves(const std::vector<MetricRow>& rows, const std::string& valid_metric);

}  // namespace wtp::train
