#pragma once
/// The evaluation report: a flat, sorted map from metric name to value, written as
/// report.json (an object of numbers; NaN becomes null), as a Markdown table (report.md)
/// and as a plain-text table for the terminal.
#include <filesystem>
#include <map>
#include <string>

namespace wtp::eval {

/// Flat metric name -> value, e.g. "accuracy_mean" -> 0.9935. Names are snake_case.
using Report = std::map<std::string, double>;

/// Formats one value: integers without a fraction, others with 6 significant digits.
std::string format_metric(double value);

/// The report as JSON text (an object; keys sorted; NaN/inf written as null).
std::string report_json(const Report& report);
/// A two-column Markdown table "| metric | value |", one row per key, sorted.
std::string report_markdown(const Report& report, const std::string& title = "");
/// An aligned plain-text table for the terminal.
std::string report_table(const Report& report);

/// Writes report_json() to `path` (via a temporary file and a rename). Throws
/// std::runtime_error when the file cannot be written.
void write_report_json(const std::filesystem::path& path, const Report& report);
/// Writes report_markdown() to `path`. Throws std::runtime_error on failure.
void write_report_markdown(const std::filesystem::path& path, const Report& report,
                           const std::string& title = "");

}  // namespace wtp::eval
