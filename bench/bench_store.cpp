// Benchmark of wtp-serve's database (not a test): the store operations of an enrolment and
// of a log-in, sequential and from 8 threads, and loading every template (the matcher's
// rebuild), on each database given. bench/run_store.sh runs it on SQLite and on a private
// PostgreSQL 15 server in the same run.
//
//   bench_store URL[,URL...] [USERS]
//     URL    sqlite:PATH or postgresql://... (an empty database each)
//     USERS  enrolled users, 5 templates of 512 floats each (default 200)
//
// Prints a markdown table: backend, ms per enrolment (create_user + add_templates), ms per
// log-in (templates_version, put/take_challenge, record_attendance, audit), log-ins/s from
// 8 threads, ms to load all templates.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serve/store.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The store calls of one log-in of `user_id` (what wtp-serve does besides the faces).
void login(wtp::serve::Store& store, std::int64_t user_id, const std::string& nonce,
           std::int64_t now) {
  store.put_challenge(nonce, R"({"cue_after_ms":1500})", now + 30000);
  store.templates_version();
  if (!store.take_challenge(nonce, now + 1)) throw std::runtime_error("challenge not taken");
  store.record_attendance(user_id, now, "2025-12-06", 0);
  store.audit({0, now, "user:E", "login", "", "ok", "127.0.0.1", nonce});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_store URL[,URL...] [USERS]\n");
    return 2;
  }
  std::vector<std::string> urls;
  std::stringstream list(argv[1]);
  for (std::string url; std::getline(list, url, ',');) urls.push_back(url);
  const int users = argc > 2 ? std::stoi(argv[2]) : 200;
  constexpr int kTemplates = 5, kDim = 512, kThreads = 8, kLogins = 300;
  const std::vector<std::vector<float>> embeddings(kTemplates, std::vector<float>(kDim, 0.01f));

  std::printf(
      "| backend | enrolment ms | log-in ms | log-ins/s (%d threads) | load %d templates ms |\n",
      kThreads, users * kTemplates);
  std::printf("|---|---|---|---|---|\n");
  for (const auto& url : urls) {
    auto store = wtp::serve::open_store(url);
    std::vector<std::int64_t> ids;
    auto start = Clock::now();
    for (int u = 0; u < users; ++u) {
      const auto user = store->create_user("E" + std::to_string(u), "User " + std::to_string(u), 0);
      store->add_templates(user.id, "md5", embeddings, 0);
      ids.push_back(user.id);
    }
    const double enrol_ms = 1000.0 * seconds_since(start) / users;

    start = Clock::now();
    for (int i = 0; i < kLogins; ++i)
      login(*store, ids[i % ids.size()], "seq-" + std::to_string(i), 1000 + i);
    const double login_ms = 1000.0 * seconds_since(start) / kLogins;

    start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kLogins / kThreads; ++i)
          login(*store, ids[(t * 7 + i) % ids.size()],
                "par-" + std::to_string(t) + "-" + std::to_string(i), 100000 + i);
      });
    for (auto& t : threads) t.join();
    const double per_second = (kLogins / kThreads) * kThreads / seconds_since(start);

    start = Clock::now();
    const auto all = store->all_templates();
    const double load_ms = 1000.0 * seconds_since(start);
    if (all.size() != static_cast<std::size_t>(users * kTemplates)) {
      std::fprintf(stderr, "%s: expected %d templates, got %zu\n", url.c_str(), users * kTemplates,
                   all.size());
      return 1;
    }
    const std::string backend = url.rfind("sqlite:", 0) == 0 ? "SQLite" : "PostgreSQL";
    std::printf("| %s | %.2f | %.2f | %.0f | %.1f |\n", backend.c_str(), enrol_ms, login_ms,
                per_second, load_ms);
  }
  return 0;
}
