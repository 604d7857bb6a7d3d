#include "train/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/config.h"
#include "core/log.h"
#include "eval/plot.h"
#include "train/metrics_csv.h"

namespace wtp::train {
namespace fs = std::filesystem;

void CompareOptions::validate() const {
  require(!recipes.empty(), "compare: list at least one recipe under recipes:");
  require(!seeds.empty(), "compare: list at least one seed under seeds:");
  require(std::set<std::int64_t>(seeds.begin(), seeds.end()).size() == seeds.size(),
          "compare: seeds must differ from each other");
  require(!out.empty(), "compare: out must name a folder");
}

std::string mean_and_spread(const std::vector<double>& values) {
  if (values.empty()) return "n/a";
  double mean = 0;
  for (double v : values) mean += v / static_cast<double>(values.size());
  char text[64];
  if (values.size() == 1) {
    std::snprintf(text, sizeof text, "%.3f", mean);
    return text;
  }
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  std::snprintf(text, sizeof text, "%.3f ± %.3f", mean, sd);
  return text;
}

namespace {

std::map<std::string, double> read_eval(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in).get<std::map<std::string, double>>();
}

/// The validation metric of a run (its config.yaml) and its values per epoch, numbered
/// across stages as curves.png numbers them.
void read_valid_curve(const fs::path& run_dir, CompareRun& run) {
  const config::Node cfg = config::load_file((run_dir / "config.yaml").string());
  const config::Node* validation = cfg.find("validation");
  const config::Node* metric = validation ? validation->find("metric") : nullptr;
  run.valid_metric = metric && metric->is_scalar() ? metric->text() : "";
  const EpochCurves c = epoch_curves(read_metric_rows(run_dir / "metrics.csv"), run.valid_metric);
  for (std::size_t i = 0; i < c.valid_x.size(); ++i)
    run.valid_curve.emplace_back(c.valid_x[i], c.valid_y[i]);
}

/// Trains (or resumes) one recipe with one seed, or reads back a finished run.
CompareRun run_one(const fs::path& recipe, std::int64_t seed, const CompareOptions& options,
                   const RunOptions& run, bool& interrupted) {
  CompareRun result{recipe.stem().string(), seed, {}, 0, {}, ""};
  const fs::path dir = run_dir(recipe, seed, options);
  if (!fs::exists(dir / "eval.json")) {
    log::info("compare: " + result.recipe + ", seed " + std::to_string(seed) + " -> " +
              dir.string());
    const config::Node node = run_config(recipe, seed, options);
    RunOptions this_run = run;
    if (fs::exists(dir / "checkpoints" / "last.pt")) this_run.resume = dir.string();
    const auto start = std::chrono::steady_clock::now();
    const RunResult trained = run_train(node, this_run);
    result.minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    if (trained.interrupted || trained.stopped) {
      interrupted = true;
      return result;
    }
    require(fs::exists(dir / "eval.json"),
            "compare: " + recipe.string() + " evaluates no test split (test: true is needed)");
  }
  result.test = read_eval(dir / "eval.json");
  read_valid_curve(dir, result);
  return result;
}

std::vector<std::string> recipe_names(const std::vector<CompareRun>& runs) {
  std::vector<std::string> names;
  for (const auto& r : runs)
    if (std::find(names.begin(), names.end(), r.recipe) == names.end()) names.push_back(r.recipe);
  return names;
}

void write_csv(const fs::path& path, const std::vector<CompareRun>& runs) {
  std::set<std::string> keys;
  for (const auto& r : runs)
    for (const auto& [k, v] : r.test) keys.insert(k);
  std::ofstream out(path);
  out << "recipe,seed,minutes";
  for (const auto& k : keys) out << ',' << k;
  out << '\n';
  for (const auto& r : runs) {
    out << r.recipe << ',' << r.seed << ',' << r.minutes;
    for (const auto& k : keys) {
      out << ',';
      if (r.test.count(k)) out << r.test.at(k);
    }
    out << '\n';
  }
}

std::string markdown_table(const std::vector<CompareRun>& runs, const CompareOptions& options) {
  std::string md = "| recipe | runs |";
  for (const auto& m : options.metrics) md += " " + m + " |";
  md += "\n|---|---|";
  for (std::size_t i = 0; i < options.metrics.size(); ++i) md += "---|";
  md += "\n";
  for (const auto& name : recipe_names(runs)) {
    std::size_t count = 0;
    std::map<std::string, std::vector<double>> values;
    for (const auto& r : runs) {
      if (r.recipe != name) continue;
      ++count;
      for (const auto& m : options.metrics)
        if (r.test.count(m)) values[m].push_back(r.test.at(m));
    }
    md += "| " + name + " | " + std::to_string(count) + " |";
    for (const auto& m : options.metrics) md += " " + mean_and_spread(values[m]) + " |";
    md += "\n";
  }
  std::string seeds;
  for (auto s : options.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  return md + "\nTest metrics, mean ± sample standard deviation over seeds " + seeds + ".\n";
}

/// One line per recipe: its validation metric per epoch, averaged over the seeds (over the
/// epochs every seed reached).
void write_curves(const fs::path& path, const std::vector<CompareRun>& runs) {
  std::vector<eval::PlotSeries> series;
  std::string metric;
  for (const auto& name : recipe_names(runs)) {
    std::vector<const CompareRun*> mine;
    for (const auto& r : runs)
      if (r.recipe == name && !r.valid_curve.empty()) mine.push_back(&r);
    if (mine.empty()) continue;
    std::size_t length = mine.front()->valid_curve.size();
    for (const auto* r : mine) length = std::min(length, r->valid_curve.size());
    eval::PlotSeries line;
    line.name = name;
    for (std::size_t i = 0; i < length; ++i) {
      double sum = 0;
      for (const auto* r : mine) sum += r->valid_curve[i].second;
      line.x.push_back(mine.front()->valid_curve[i].first);
      line.y.push_back(sum / static_cast<double>(mine.size()));
    }
    metric = mine.front()->valid_metric;
    series.push_back(std::move(line));
  }
  if (series.empty()) return;
  eval::PlotOptions plot;
  plot.title = "validation " + metric + " (mean over seeds)";
  plot.x_label = "epoch";
  plot.y_label = metric;
  eval::save_plot(path.string(), series, plot);
}

}  // namespace

fs::path run_dir(const fs::path& recipe, std::int64_t seed, const CompareOptions& options) {
  return fs::path(options.out) / recipe.stem() / ("seed_" + std::to_string(seed));
}

config::Node run_config(const fs::path& recipe, std::int64_t seed, const CompareOptions& options) {
  config::Node node = config::load_file(recipe.string());
  config::apply_override(node, "seed=" + std::to_string(seed));
  config::apply_override(node, "out=" + run_dir(recipe, seed, options).string());
  for (const auto& assignment : options.set) config::apply_override(node, assignment);
  return node;
}

std::vector<fs::path> check_compare(const CompareOptions& options, const fs::path& base) {
  options.validate();
  std::vector<fs::path> recipes;
  std::set<std::string> stems;
  for (const auto& r : options.recipes) {
    const fs::path path = fs::path(r).is_absolute() ? fs::path(r) : base / r;
    require(fs::is_regular_file(path), "compare: recipe " + path.string() + " does not exist");
    require(stems.insert(path.stem().string()).second,
            "compare: two recipes are named " + path.stem().string() +
                " (their runs would share a folder); rename one");
    for (const auto seed : options.seeds) decode_train_config(run_config(path, seed, options));
    recipes.push_back(path);
  }
  return recipes;
}

CompareResult run_compare(const CompareOptions& options, const fs::path& base,
                          const RunOptions& run) {
  const std::vector<fs::path> recipes = check_compare(options, base);
  CompareResult result;
  for (const auto& recipe : recipes) {
    for (const auto seed : options.seeds) {
      CompareRun one = run_one(recipe, seed, options, run, result.interrupted);
      if (result.interrupted) return result;
      result.runs.push_back(std::move(one));
    }
  }
  fs::create_directories(options.out);
  write_csv(fs::path(options.out) / "compare.csv", result.runs);
  result.markdown = markdown_table(result.runs, options);
  std::ofstream(fs::path(options.out) / "compare.md") << result.markdown;
  write_curves(fs::path(options.out) / "curves.png", result.runs);
  return result;
}

}  // namespace wtp::train
