#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace wtp::eval {

std::string format_metric(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  else
    std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

std::string report_json(const Report& report) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [key, value] : report) {
    if (std::isfinite(value))
      json[key] = value;
    else
      json[key] = nullptr;
  }
  return json.dump(2) + "\n";
}

std::string report_markdown(const Report& report, const std::string& title) {
  std::ostringstream out;
  if (!title.empty()) out << "# " << title << "\n\n";
  out << "| metric | value |\n|---|---:|\n";
  for (const auto& [key, value] : report)
    out << "| " << key << " | " << format_metric(value) << " |\n";
  return out.str();
}

std::string report_table(const Report& report) {
  std::size_t width = 6;
  for (const auto& kv : report) width = std::max(width, kv.first.size());
  std::ostringstream out;
  out << "metric" << std::string(width - 6 + 2, ' ') << "value\n";
  out << std::string(width, '-') << "  " << std::string(12, '-') << "\n";
  for (const auto& [key, value] : report)
    out << key << std::string(width - key.size() + 2, ' ') << format_metric(value) << "\n";
  return out.str();
}

namespace {
void write_text(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out << text;
    if (!out.flush()) throw std::runtime_error("error while writing " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw std::runtime_error("cannot rename " + tmp.string() + " to " + path.string() + ": " +
                             ec.message());
}
}  // namespace

void write_report_json(const std::filesystem::path& path, const Report& report) {
  write_text(path, report_json(report));
}

void write_report_markdown(const std::filesystem::path& path, const Report& report,
                           const std::string& title) {
  write_text(path, report_markdown(report, title));
}

}  // namespace wtp::eval
