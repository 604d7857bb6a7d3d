// Benchmark of the evaluation metrics (not a test): wall time and peak memory of
// Recall@{1,2,4,8} + MAP@R (blockwise retrieval) and k-means + NMI, on synthetic embeddings
// with LFW-like identity sizes. bench/run_eval.sh runs it side by side with the
// peers bench/eval_faiss.py (faiss) and bench/eval_sklearn.py (scikit-learn / NumPy) on the
// same .npy files.
//
//   bench_eval make-data OUT_DIR N D SEED [PER]   writes OUT_DIR/embeddings.npy, labels.npy
//       identity sizes LFW-like (default) or, with PER, N / PER identities of PER images
//   bench_eval retrieval E.npy L.npy [QUERY_TILE [ITEM_TILE]]
//   bench_eval knn E.npy Q K [QUERY_TILE [ITEM_TILE]]
//       the first Q rows searched against all rows for their K best (eval/knn.h), the 1:N
//       shape of a face matcher
//   bench_eval kmeans E.npy L.npy RESTARTS [SEED [CANDIDATES]]
//       greedy k-means++ with CANDIDATES per step (default 0 = 2 + ln k; 1 = classic)
//
// Each measuring mode prints one JSON line: the phase, wall seconds (excluding loading),
// peak resident memory of the process and its baseline after loading the data, and the
// metric values (so the peer's numbers can be compared).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/resource.h>
#include <vector>

#include "core/random.h"
#include "core/threads.h"
#include "eval/clustering_metrics.h"
#include "eval/kmeans.h"
#include "eval/knn.h"
#include "eval/retrieval.h"
#include "io/npy.h"

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB on Linux
}

/// User + system CPU seconds of the process so far (on a loaded machine, wall time alone
/// hides how much CPU a run got).
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

/// LFW-like identity sizes for N images: the LFW ratios (5,749 identities for 13,233
/// images, 4,069 of them with one image) scaled to N; the multi-image identities follow a
/// Zipf-like tail (largest ~ 4% of N, like George W Bush's 530), at least 2 each.
std::vector<std::int64_t> identity_sizes(std::int64_t n) {
  const auto singles = static_cast<std::int64_t>(std::llround(n * 4069.0 / 13233.0));
  const auto multi = static_cast<std::int64_t>(std::llround(n * 1680.0 / 13233.0));
  const std::int64_t rest = n - singles;
  const double largest = n * 530.0 / 13233.0;
  // Find the exponent a so that sum_i max(2, largest / i^a) ~= rest, by bisection.
  auto sizes_for = [&](double a) {
    std::vector<std::int64_t> s;
    for (std::int64_t i = 1; i <= multi; ++i)
      s.push_back(std::max<std::int64_t>(2, std::llround(largest / std::pow(double(i), a))));
    return s;
  };
  double lo = 0.1, hi = 3.0;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    std::int64_t sum = 0;
    for (auto v : sizes_for(mid)) sum += v;
    (sum > rest ? lo : hi) = mid;
  }
  auto s = sizes_for(hi);
  std::int64_t sum = 0;
  for (auto v : s) sum += v;
  for (std::size_t i = 0; sum < rest; i = (i + 1) % s.size(), ++sum) s[i]++;  // top up
  for (std::size_t i = s.size(); sum > rest && i-- > 0;)
    if (s[i] > 2) s[i]--, --sum;
  for (std::int64_t i = 0; i < singles; ++i) s.push_back(1);
  return s;
}

int make_data(const std::string& out, std::int64_t n, std::int64_t d, std::uint64_t seed,
              std::int64_t per) {
  std::vector<std::int64_t> sizes;
  if (per > 0) {
    for (std::int64_t left = n; left > 0; left -= per) sizes.push_back(std::min(per, left));
  } else {
    sizes = identity_sizes(n);
  }
  std::vector<float> e(static_cast<std::size_t>(n * d));
  std::vector<std::int64_t> labels;
  // Identity centre: random unit direction; sample = centre + noise of norm ~ 2.5, then
  // a random order of the rows (datasets are not sorted by identity).
  const double sigma = 2.5 / std::sqrt(static_cast<double>(d));
  std::vector<double> centre(static_cast<std::size_t>(d));
  std::int64_t row = 0;
  for (std::size_t id = 0; id < sizes.size(); ++id) {
    wtp::Rng rng(wtp::mix_seed(seed, id));
    double norm = 0;
    for (auto& c : centre) {
      c = rng.normal();
      norm += c * c;
    }
    norm = std::sqrt(norm);
    for (std::int64_t k = 0; k < sizes[id]; ++k, ++row) {
      labels.push_back(static_cast<std::int64_t>(id));
      for (std::int64_t j = 0; j < d; ++j)
        e[row * d + j] = static_cast<float>(centre[j] / norm + sigma * rng.normal());
    }
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  wtp::Rng shuffle(wtp::mix_seed(seed, 0xabcdef));
  shuffle.shuffle(order);
  auto et = torch::from_blob(e.data(), {n, d}, torch::kFloat).index_select(0, torch::tensor(order));
  auto lt = torch::tensor(labels).index_select(0, torch::tensor(order));
  wtp::io::write_npy(out + "/embeddings.npy", et);
  wtp::io::write_npy(out + "/labels.npy", lt);
  std::int64_t singles = 0, largest = 0;
  for (auto s : sizes) singles += s == 1, largest = std::max(largest, s);
  std::printf(
      "{\"phase\": \"make-data\", \"n\": %lld, \"d\": %lld, \"identities\": %zu, "
      "\"singletons\": %lld, \"largest\": %lld}\n",
      static_cast<long long>(n), static_cast<long long>(d), sizes.size(),
      static_cast<long long>(singles), static_cast<long long>(largest));
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    wtp::set_threads(0);
    if ((args.size() == 5 || args.size() == 6) && args[0] == "make-data")
      return make_data(args[1], std::stoll(args[2]), std::stoll(args[3]), std::stoull(args[4]),
                       args.size() == 6 ? std::stoll(args[5]) : 0);
    if ((args.size() >= 3 && (args[0] == "retrieval" || args[0] == "kmeans")) ||
        (args.size() >= 4 && args[0] == "knn")) {
      auto e = wtp::io::read_npy(args[1]).to(torch::kFloat).contiguous();
      auto l = args[0] == "knn" ? torch::Tensor() : wtp::io::read_npy(args[2]).to(torch::kLong);
      const double baseline = current_rss_mib();
      nlohmann::json out;
      out["phase"] = args[0];
      out["n"] = e.size(0);
      out["d"] = e.size(1);
      out["threads"] = at::get_num_threads();
      const auto t0 = std::chrono::steady_clock::now();
      const double cpu0 = cpu_seconds();
      if (args[0] == "retrieval") {
        wtp::eval::RetrievalOptions o;
        o.ks = {1, 2, 4, 8};
        if (args.size() >= 4) o.block_size = std::stoll(args[3]);
        if (args.size() >= 5) o.item_block_size = std::stoll(args[4]);
        out["query_tile"] = o.block_size;
        out["item_tile"] = o.item_block_size;
        auto r = wtp::eval::retrieval_metrics(e, l, o);
        out["seconds"] = seconds_since(t0);
        for (auto [k, v] : r.recall_at_k) out["recall_at_" + std::to_string(k)] = v;
        out["map_at_r"] = r.map_at_r;
        out["r_precision"] = r.r_precision;
        out["queries"] = r.queries;
      } else if (args[0] == "knn") {
        const std::int64_t q = std::stoll(args[2]), k = std::stoll(args[3]);
        wtp::eval::KnnOptions o;
        if (args.size() >= 5) o.query_tile = std::stoll(args[4]);
        if (args.size() >= 6) o.item_tile = std::stoll(args[5]);
        auto en = wtp::eval::l2_normalize_rows(e);
        auto r = wtp::eval::knn_search(en.narrow(0, 0, q), en, k, o);
        out["seconds"] = seconds_since(t0);
        out["queries"] = q;
        out["k"] = k;
        out["query_tile"] = o.query_tile;
        out["item_tile"] = o.item_tile;
        out["top1_mean"] = r.scores.select(1, 0).mean().item<double>();
        out["checksum"] =
            r.indices.narrow(1, 0, std::min<std::int64_t>(k, 10)).sum().item<std::int64_t>();
      } else {
        wtp::eval::KMeansOptions o;
        o.clusters = std::get<0>(at::_unique(l)).numel();
        o.restarts = args.size() >= 4 ? std::stoi(args[3]) : 1;
        o.seed = args.size() >= 5 ? std::stoull(args[4]) : 0;
        o.candidates = args.size() >= 6 ? std::stoi(args[5]) : 0;
        auto en = wtp::eval::l2_normalize_rows(e);
        auto r = wtp::eval::kmeans(en, o);
        const double nmi = wtp::eval::normalized_mutual_info(l, r.assignments);
        out["seconds"] = seconds_since(t0);
        out["clusters"] = o.clusters;
        out["restarts"] = o.restarts;
        out["candidates"] = wtp::eval::kmeans_candidates(o.clusters, o.candidates);
        out["iterations"] = r.iterations;
        out["inertia"] = r.inertia;
        out["nmi"] = nmi;
      }
      out["cpu_seconds"] = cpu_seconds() - cpu0;
      out["peak_rss_mib"] = peak_rss_mib();
      out["baseline_rss_mib"] = baseline;
      std::cout << out.dump() << std::endl;
      return 0;
    }
    std::cerr
        << "usage: bench_eval make-data OUT_DIR N D SEED [PER] | retrieval E.npy L.npy "
           "[QUERY_TILE [ITEM_TILE]] | knn E.npy Q K [QUERY_TILE [ITEM_TILE]] | kmeans E.npy L.npy "
           "RESTARTS [SEED [CANDIDATES]]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_eval: " << e.what() << "\n";
    return 1;
  }
}
