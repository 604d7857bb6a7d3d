#include "eval/evaluate.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/csv.h"
#include "core/log.h"
#include "core/random.h"
#include "eval/clustering_metrics.h"
#include "eval/plot.h"
#include "eval/tensors.h"
#include "io/npy.h"

namespace wtp::eval {

namespace {

torch::Tensor load_npy(const std::string& path, const std::string& flag) {
  require(std::filesystem::is_regular_file(path), flag + ": no such file: " + path);
  try {
    return io::read_npy(path);
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(flag + ": cannot read " + path + " as a NumPy .npy file: " + e.what());
  }
}

}  // namespace

PairScores read_pair_scores(const std::filesystem::path& path) {
  require(std::filesystem::is_regular_file(path), "--pair-scores: no such file: " + path.string());
  const auto table = csv::Table::read(path, {"fold", "same", "distance"});
  const std::size_t fold_column = table.column("fold"), same_column = table.column("same"),
                    distance_column = table.column("distance");
  PairScores pairs;
  for (const auto& row : table.rows()) {
    const std::string& fold_text = row.fields[fold_column];
    const std::string& same = row.fields[same_column];
    const std::string& distance_text = row.fields[distance_column];
    auto fail = [&](const std::string& what) { throw UsageError(table.where(row) + ": " + what); };
    char* end = nullptr;
    errno = 0;
    const long long fold = std::strtoll(fold_text.c_str(), &end, 10);
    if (fold_text.empty() || *end != '\0' || errno == ERANGE)
      fail("fold '" + fold_text + "' is not an integer");
    if (same != "0" && same != "1") fail("same '" + same + "' must be 0 or 1");
    errno = 0;
    const double distance = std::strtod(distance_text.c_str(), &end);
    if (distance_text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(distance))
      fail("distance '" + distance_text + "' is not a finite number");
    pairs.fold.push_back(fold);
    pairs.same.push_back(same == "1");
    pairs.distance.push_back(distance);
  }
  if (pairs.fold.empty()) throw UsageError(path.string() + ": no pairs after the header");
  return pairs;
}

Report evaluate_embeddings(const torch::Tensor& embeddings, const torch::Tensor& labels,
                           const EvalOptions& options) {
  require(embeddings.dim() == 2, "embeddings: expected shape [N, D], got " +
                                     std::to_string(embeddings.dim()) + " dimensions");
  require(embeddings.is_floating_point(), "embeddings: expected float32/float64 values, got " +
                                              std::string(c10::toString(embeddings.scalar_type())));
  require(labels.dim() == 1,
          "labels: expected shape [N], got " + std::to_string(labels.dim()) + " dimensions");
  require(labels.size(0) == embeddings.size(0),
          "labels: " + std::to_string(labels.size(0)) + " labels for " +
              std::to_string(embeddings.size(0)) + " embeddings (one per row is needed)");
  require(embeddings.size(0) >= 2, "embeddings: need at least 2 rows");
  const torch::Tensor e = l2_normalize_rows(embeddings);  // checks NaN / zero rows
  const auto lab = to_int64s(labels, "labels");

  Report report;
  std::int64_t classes = 0;
  dense_labels(lab, &classes);
  report["embeddings"] = static_cast<double>(e.size(0));
  report["embedding_dim"] = static_cast<double>(e.size(1));
  report["identities"] = static_cast<double>(classes);

  log::debug("retrieval: ", e.size(0), " queries in blocks of ", options.retrieval.block_size);
  retrieval_metrics(e, labels, options.retrieval).add_to(report);

  if (options.clustering) {
    KMeansOptions km = options.kmeans;
    if (km.clusters == 0) km.clusters = classes;
    require(km.clusters <= e.size(0), "kmeans.clusters (" + std::to_string(km.clusters) +
                                          ") exceeds the number of embeddings");
    km.seed = mix_seed(options.seed, options.kmeans.seed);
    log::debug("k-means: k = ", km.clusters, ", ", km.restarts, " restart(s)");
    const KMeansResult clusters = kmeans(e, km);
    const auto pred = to_int64s(clusters.assignments, "assignments");
    report["kmeans_clusters"] = static_cast<double>(km.clusters);
    report["kmeans_inertia"] = clusters.inertia;
    report["kmeans_iterations"] = clusters.iterations;
    report["nmi"] = normalized_mutual_info(lab, pred);
    if (options.ami) report["ami"] = adjusted_mutual_info(lab, pred);
  }
  return report;
}

Report evaluate_pair_scores(const PairScores& pairs, const EvalOptions& options,
                            const std::filesystem::path& plot_dir) {
  const VerificationResult v =
      verification_protocol(pairs.distance, pairs.same, pairs.fold, options.verification);
  Report report;
  v.add_to(report);
  if (options.plots && !plot_dir.empty()) write_verification_plots(v, plot_dir);
  return report;
}

std::filesystem::path report_path(const std::string& out) {
  require(!out.empty(), "--out must name the report file or a directory, e.g. report.json");
  std::filesystem::path p(out);
  if (p.extension() == ".json") return p;
  return p / "report.json";
}

void write_report_files(const std::filesystem::path& json_path, const Report& report,
                        const std::string& title) {
  if (json_path.has_parent_path()) std::filesystem::create_directories(json_path.parent_path());
  write_report_json(json_path, report);
  std::filesystem::path md = json_path;
  md.replace_extension(".md");
  if (md == json_path) md += ".md";
  write_report_markdown(md, report, title);
}

void write_verification_plots(const VerificationResult& v, const std::filesystem::path& dir,
                              const std::string& prefix) {
  std::filesystem::create_directories(dir);
  PlotOptions roc;
  roc.title = "ROC over all pairs (AUC " + format_metric(v.roc.auc) + ")";
  roc.x_label = "false accept rate (log scale)";
  roc.y_label = "true accept rate";
  roc.log_x = true;
  roc.y_min = 0.0;
  roc.y_max = 1.0;
  roc.markers = {{1e-3, "FAR 1e-3"}, {1e-2, "FAR 1e-2"}};
  save_plot((dir / (prefix + "roc.png")).string(), {{"ROC", v.roc.far, v.roc.tar}}, roc);

  PlotOptions ta;
  ta.title = "Accuracy vs threshold (same iff distance <= threshold)";
  ta.x_label = "distance threshold";
  ta.y_label = "accuracy";
  ta.markers.push_back({v.threshold_mean, "10-fold mean " + format_metric(v.threshold_mean)});
  if (v.old_sweep) ta.markers.push_back({v.old_sweep->threshold, "old sweep (leaky)"});
  std::vector<double> ft, fa;
  for (const auto& f : v.folds) {
    ft.push_back(f.threshold);
    fa.push_back(f.accuracy);
  }
  PlotSeries folds{"held-out fold accuracy", ft, fa};
  folds.markers = true;
  folds.line = false;
  save_plot((dir / (prefix + "threshold_accuracy.png")).string(),
            {{"all pairs", v.all_pairs_curve.threshold, v.all_pairs_curve.accuracy}, folds}, ta);
}

std::filesystem::path labels_path_for(const std::filesystem::path& embeddings) {
  std::filesystem::path p = embeddings;
  p.replace_extension(".labels.npy");
  return p;
}

void save_embeddings(const std::filesystem::path& path, const torch::Tensor& embeddings,
                     const torch::Tensor& labels) {
  require(path.extension() == ".npy",
          "--save-embeddings must name a .npy file, got '" + path.string() + "'");
  require(embeddings.dim() == 2 && labels.dim() == 1 && labels.size(0) == embeddings.size(0),
          "save_embeddings: expected embeddings [N, D] and labels [N]");
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  io::write_npy(path, embeddings.to(torch::kCPU, torch::kFloat).contiguous());
  io::write_npy(labels_path_for(path), labels.to(torch::kCPU, torch::kLong).contiguous());
}

Report run_eval(const EvalOptions& options) {
  options.validate();
  options.retrieval.validate();
  options.kmeans.validate();
  const std::filesystem::path out = report_path(options.out);
  const std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : ".";
  Report report;
  std::string title;
  if (!options.embeddings.empty()) {
    const torch::Tensor e = load_npy(options.embeddings, "--embeddings");
    const torch::Tensor l = load_npy(options.labels, "--labels");
    require(e.dim() == 2, "--embeddings " + options.embeddings + ": expected shape [N, D], got " +
                              std::to_string(e.dim()) + " dimensions");
    require(l.dim() == 1, "--labels " + options.labels + ": expected shape [N], got " +
                              std::to_string(l.dim()) + " dimensions");
    require(!l.is_floating_point(), "--labels " + options.labels +
                                        ": expected integer labels (int64), got " +
                                        std::string(c10::toString(l.scalar_type())));
    report = evaluate_embeddings(e, l, options);
    title = "wtp-eval: " + options.embeddings;
  } else {
    const PairScores pairs = read_pair_scores(options.pair_scores);
    std::filesystem::create_directories(dir);
    report = evaluate_pair_scores(pairs, options, dir);
    title = "wtp-eval: " + options.pair_scores;
  }
  write_report_files(out, report, title);
  return report;
}

}  // namespace wtp::eval
