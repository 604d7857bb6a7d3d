// Benchmark of the log-in service's matcher (not a test). bench/run_serve.sh runs it.
//
//   bench_serve_match search T D THREADS REPEATS OUT_DIR
//       T random unit templates of dimension D (one per user) and 15 queries near 15 of
//       them; times the service's search (serve::user_distances + best_match: one matrix
//       product, per-user best, best two users) for one query and for a 15-frame log-in,
//       median of REPEATS, and the gallery rebuild; writes OUT_DIR/{templates,queries}.npy
//       for the faiss peer (bench/serve_match_faiss.py) and prints one JSON line.
#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/npy.h"
#include "serve/matcher.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

template <class F>
double median_ms(F&& f, int repeats) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    times.push_back(ms_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int run_search(std::int64_t t, std::int64_t d, int threads, int repeats, const std::string& out) {
  namespace serve = wtp::serve;
  torch::set_num_threads(threads);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  torch::Tensor templates = torch::randn({t, d}, gen);
  templates = templates / templates.norm(2, 1, true);
  const std::int64_t batch = 15;
  const torch::Tensor picks = torch::randint(0, t, {batch}, gen, torch::kLong);
  torch::Tensor queries = templates.index_select(0, picks) + 0.05 * torch::randn({batch, d}, gen);
  queries = (queries / queries.norm(2, 1, true)).contiguous();
  std::filesystem::create_directories(out);
  wtp::io::write_npy(std::filesystem::path(out) / "templates.npy", templates);
  wtp::io::write_npy(std::filesystem::path(out) / "queries.npy", queries);

  std::vector<serve::Template> rows(static_cast<std::size_t>(t));
  const float* p = templates.data_ptr<float>();
  for (std::int64_t i = 0; i < t; ++i) {
    rows[static_cast<std::size_t>(i)].user_id = i;
    rows[static_cast<std::size_t>(i)].model_md5 = "m";
    rows[static_cast<std::size_t>(i)].embedding.assign(p + i * d, p + (i + 1) * d);
  }
  auto t0 = Clock::now();
  const serve::Gallery gallery = serve::build_gallery(rows, "m", d);
  const double build_ms = ms_since(t0);
  rows.clear();

  auto run = [&gallery](const torch::Tensor& q) {
    const torch::Tensor dist = serve::user_distances(gallery, q);
    std::vector<std::int64_t> best;
    for (std::int64_t r = 0; r < q.size(0); ++r)
      best.push_back(serve::best_match(gallery, dist, r, 1.0, 0.0).best_user);
    return best;
  };
  const torch::Tensor one = queries.slice(0, 0, 1).contiguous();
  run(queries);  // warm-up
  const double one_ms = median_ms([&] { run(one); }, repeats);
  const double batch_ms = median_ms([&] { run(queries); }, repeats);
  nlohmann::json line = {{"tool", "wtp matcher"}, {"templates", t},       {"dim", d},
                         {"threads", threads},    {"build_ms", build_ms}, {"one_query_ms", one_ms},
                         {"batch_ms", batch_ms},  {"batch", batch},       {"top1", run(queries)}};
  std::cout << line.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 6 && args[0] == "search")
      return run_search(std::stoll(args[1]), std::stoll(args[2]), std::stoi(args[3]),
                        std::stoi(args[4]), args[5]);
    std::cerr << "usage: bench_serve_match search T D THREADS REPEATS OUT_DIR\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_serve_match: " << e.what() << "\n";
    return 1;
  }
}
