// c10d collectives and the gradient reducer, with the ranks as threads of this process.
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <torch/torch.h>

#include "catch_torch.h"
#include "core/error.h"
#include "dist/gradient_reducer.h"
#include "dist/group.h"
#include "dist_helpers.h"
#include "train/dist_context.h"

using wtp::dist::Group;
using wtp::test::run_ranks;

namespace {

/// The parameters of a tiny network, the same values on every rank (no RNG).
struct Tiny {
  torch::Tensor w1, b1, w2, w3, w4;
  Tiny() {
    w1 = (torch::arange(12, torch::kFloat).reshape({3, 4}) * 0.1 - 0.5).requires_grad_();
    b1 = torch::tensor({0.1f, -0.2f, 0.3f}).requires_grad_();
    w2 = (torch::arange(6, torch::kFloat).reshape({2, 3}) * -0.2 + 0.4).requires_grad_();
    w3 = torch::ones({2, 2}).requires_grad_();
    w4 = torch::ones({5}).requires_grad_();  // never used: keeps no gradient
  }
  std::vector<torch::Tensor> params() const { return {w1, b1, w2, w3, w4}; }
  /// The loss of rank r on its own data; w3 is used on rank 0 only.
  torch::Tensor loss(int r) const {
    auto x = torch::arange(4, torch::kFloat).reshape({4, 1}) * (r + 1) * 0.3 - 0.2 * r;
    auto h = torch::tanh(torch::matmul(w1, x).squeeze(1) + b1);
    auto y = torch::matmul(w2, h);
    auto l = (y * y).sum();
    if (r == 0) l = l + (w3 * torch::tensor({{1.f, 2.f}, {3.f, 4.f}})).sum();
    return l;
  }
};

}  // namespace

TEST_CASE("shard_range splits n items into contiguous near-equal parts", "[dist]") {
  using wtp::dist::shard_range;
  CHECK(shard_range(10, 0, 3) == std::make_pair<std::int64_t, std::int64_t>(0, 4));
  CHECK(shard_range(10, 1, 3) == std::make_pair<std::int64_t, std::int64_t>(4, 7));
  CHECK(shard_range(10, 2, 3) == std::make_pair<std::int64_t, std::int64_t>(7, 10));
  CHECK(shard_range(1, 1, 2) == std::make_pair<std::int64_t, std::int64_t>(1, 1));
}

TEST_CASE("the launch environment is read as torchrun sets it", "[dist]") {
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                        "MASTER_PORT", "WTP_DIST_TIMEOUT"})
    unsetenv(v);
  CHECK_FALSE(wtp::dist::LaunchEnv::from_environment());
  setenv("WORLD_SIZE", "4", 1);
  CHECK_THROWS_AS(wtp::dist::LaunchEnv::from_environment(), wtp::UsageError);  // no RANK
  setenv("RANK", "3", 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1);
  setenv("MASTER_ADDR", "10.0.0.1", 1);
  setenv("MASTER_PORT", "29512", 1);
  setenv("WTP_DIST_TIMEOUT", "2.5", 1);
  auto env = wtp::dist::LaunchEnv::from_environment();
  REQUIRE(env);
  CHECK(env->rank == 3);
  CHECK(env->world_size == 4);
  CHECK(env->local_rank == 1);  // RANK % LOCAL_WORLD_SIZE without LOCAL_RANK
  CHECK(env->master_addr == "10.0.0.1");
  CHECK(env->master_port == 29512);
  CHECK(env->timeout == std::chrono::milliseconds(2500));
  setenv("RANK", "4", 1);
  CHECK_THROWS_WITH(wtp::dist::LaunchEnv::from_environment(),
                    Catch::Contains("RANK='4'") && Catch::Contains("[0, 3]"));
  setenv("RANK", "0", 1);
  setenv("WTP_DIST_TIMEOUT", "-1", 1);
  CHECK_THROWS_AS(wtp::dist::LaunchEnv::from_environment(), wtp::UsageError);
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                        "MASTER_PORT", "WTP_DIST_TIMEOUT"})
    unsetenv(v);
}

TEST_CASE("broadcast_module gives every rank rank 0's parameters and buffers", "[dist]") {
  std::mutex m;
  std::map<int, std::uint64_t> sums;
  run_ranks(3, [&](Group& g) {
    torch::nn::Sequential net(torch::nn::Linear(5, 4), torch::nn::BatchNorm1d(4));
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.fill_(static_cast<float>(g.rank() + 1));
    for (auto& b : net->buffers()) b.fill_(g.rank() + 7);
    const auto before = wtp::dist::module_checksum(*net);
    g.broadcast_module(*net, false, "test broadcast");
    for (auto& p : net->parameters()) CHECK(torch::all(p == 1.0f).item<bool>());
    for (auto& b : net->buffers()) CHECK(torch::all(b == 7).item<bool>());  // int64 counter too
    std::lock_guard<std::mutex> lock(m);
    sums[g.rank()] = wtp::dist::module_checksum(*net);
    if (g.rank() > 0) CHECK(before != sums[g.rank()]);
  });
  CHECK(sums[0] == sums[1]);
  CHECK(sums[1] == sums[2]);
}

TEST_CASE("all_gather_rows concatenates unequal shards in rank order", "[dist]") {
  run_ranks(3, [&](Group& g) {
    // rank r contributes r rows of value r (rank 0: none).
    auto local = torch::full({g.rank(), 2}, static_cast<float>(g.rank()));
    auto all = g.all_gather_rows(local, "test gather");
    auto expected = torch::tensor({{1.f, 1.f}, {2.f, 2.f}, {2.f, 2.f}});
    CHECK(torch::equal(all, expected));
  });
}

TEST_CASE("the gradient reducer averages gradients over the ranks", "[dist]") {
  const int world = 2;
  // Expected: the mean over ranks of each rank's own gradients, computed without c10d.
  std::vector<torch::Tensor> expected;
  {
    std::vector<std::vector<torch::Tensor>> grads;
    for (int r = 0; r < world; ++r) {
      Tiny t;
      t.loss(r).backward();
      std::vector<torch::Tensor> g;
      for (auto& p : t.params())
        g.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
      grads.push_back(g);
    }
    for (std::size_t k = 0; k < grads[0].size(); ++k) {
      torch::Tensor sum;
      for (int r = 0; r < world; ++r) {
        auto g = grads[static_cast<std::size_t>(r)][k];
        if (!g.defined()) continue;
        sum = sum.defined() ? sum + g : g.clone();
      }
      expected.push_back(sum.defined() ? sum / world : torch::Tensor());
    }
  }
  REQUIRE(expected[3].defined());        // w3: rank 0's gradient / 2
  REQUIRE_FALSE(expected[4].defined());  // w4: no gradient anywhere

  for (bool overlap : {true, false})
    for (double bucket_mb : {25.0, 1e-6}) {  // one bucket, or one bucket per parameter
      DYNAMIC_SECTION("overlap " << overlap << ", bucket " << bucket_mb << " MB") {
        std::mutex m;
        std::map<int, std::vector<torch::Tensor>> results;
        std::map<int, std::int64_t> in_backward;
        run_ranks(world, [&](Group& g) {
          Tiny t;
          wtp::dist::ReducerOptions options;
          options.overlap = overlap;
          options.bucket_mb = bucket_mb;
          wtp::dist::GradientReducer reducer(g, t.params(), options);
          CHECK(reducer.buckets() == (bucket_mb > 1 ? 1u : 5u));
          for (int step = 0; step < 2; ++step) {  // twice: the reducer resets between steps
            for (auto& p : t.params()) p.mutable_grad() = torch::Tensor();
            reducer.prepare();
            t.loss(g.rank()).backward();
            reducer.finish();
          }
          std::lock_guard<std::mutex> lock(m);
          for (auto& p : t.params()) results[g.rank()].push_back(p.grad());
          in_backward[g.rank()] = reducer.launched_in_backward();
        });
        for (int r = 0; r < world; ++r) {
          const auto& got = results[r];
          for (std::size_t k = 0; k < expected.size(); ++k) {
            INFO("rank " << r << " parameter " << k);
            REQUIRE(got[k].defined() == expected[k].defined());
            if (!expected[k].defined()) continue;
            CHECK(torch::allclose(got[k], expected[k], 1e-6, 1e-7));
            // Every rank holds the very same bits.
            CHECK(torch::equal(got[k], results[0][k]));
          }
        }
        // w4 is first in launch order (reverse registration) and never gets a gradient, so
        // here every bucket waits for finish(); see the next test for launches in backward.
        CHECK(in_backward[0] == 0);
      }
    }
}

TEST_CASE("with overlap, full buckets are all-reduced during the backward pass", "[dist]") {
  std::mutex m;
  std::map<int, std::int64_t> in_backward;
  std::map<int, torch::Tensor> w1_grad;
  run_ranks(2, [&](Group& g) {
    Tiny t;
    wtp::dist::ReducerOptions options;
    options.bucket_mb = 1e-6;  // one bucket per parameter
    wtp::dist::GradientReducer reducer(g, {t.w1, t.b1, t.w2}, options);
    reducer.prepare();
    (t.loss(g.rank()) - (t.w3 * 0).sum()).backward();
    reducer.finish();
    std::lock_guard<std::mutex> lock(m);
    in_backward[g.rank()] = reducer.launched_in_backward();
    w1_grad[g.rank()] = t.w1.grad();
  });
  CHECK(in_backward[0] == 3);  // w2, b1, w1: each launched from its gradient hook
  CHECK(in_backward[1] == 3);
  CHECK(torch::equal(w1_grad[0], w1_grad[1]));
}

TEST_CASE("a rank that hangs makes the others fail after the timeout, naming it", "[dist]") {
  const auto started = std::chrono::steady_clock::now();
  try {
    run_ranks(
        2,
        [&](Group& g) {
          if (g.rank() == 1) {  // joins, then never calls the collective
            std::this_thread::sleep_for(std::chrono::milliseconds(8000));
            return;
          }
          auto t = torch::ones({3});
          g.all_reduce(t, Group::ReduceOp::kSum, "the test all-reduce");
        },
        // Gloo's timeout also bounds joining, which can take over a second on a loaded
        // machine: 3 s keeps joining safe and the hang well past it.
        3.0);
    FAIL("the all-reduce should have failed");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK_THAT(message, Catch::Contains("rank 0 of 2: the test all-reduce failed after") &&
                            Catch::Contains("collective timeout 3 s") &&
                            Catch::Contains("WTP_DIST_TIMEOUT"));
  }
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
}

TEST_CASE("a rank that leaves makes the others fail at once", "[dist]") {
  const auto started = std::chrono::steady_clock::now();
  try {
    run_ranks(
        2,
        [&](Group& g) {
          if (g.rank() == 1) return;  // its process group closes its connections
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          auto t = torch::ones({3});
          g.all_reduce(t, Group::ReduceOp::kSum, "the test all-reduce");
        },
        30.0);
    FAIL("the all-reduce should have failed");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("rank 0 of 2: the test all-reduce failed"));
  }
  // Well before the 30 s timeout: the closed connection is noticed.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}

TEST_CASE("the distributed context averages step losses, agrees on stopping, gathers rows",
          "[dist]") {
  std::mutex mutex;
  std::map<int, std::pair<double, double>> seen;  // rank -> (loss, part)
  std::map<int, std::vector<bool>> stops;
  std::map<int, torch::Tensor> gathered;
  std::map<int, double> values;
  run_ranks(2, [&](Group& g) {
    wtp::train::DistContext dist(std::shared_ptr<Group>(&g, [](Group*) {}));
    CHECK(dist.distributed());
    double loss = g.rank() == 0 ? 1.0 : 3.0;
    std::map<std::string, double> parts{{"p", g.rank() == 0 ? 0.5 : 1.5}};
    const bool stop = dist.agree_on_step(loss, parts, g.rank() == 1);
    const auto any = dist.any({g.rank() == 0, false}, "test flags");
    // Rank r contributes r + 1 rows of value r; rank 0's value reaches every rank.
    const auto rows = dist.gather_rows(torch::full({g.rank() + 1, 2}, g.rank()), "test rows");
    const double value = dist.broadcast_value(g.rank() == 0 ? 7.0 : -1.0, "test value");
    std::lock_guard<std::mutex> lock(mutex);
    seen[g.rank()] = {loss, parts.at("p")};
    stops[g.rank()] = {stop, any[0], any[1]};
    gathered[g.rank()] = rows;
    values[g.rank()] = value;
  });
  const auto expected_rows = torch::tensor({0.0, 0.0, 1.0, 1.0, 1.0, 1.0}).reshape({3, 2});
  for (int r : {0, 1}) {
    CHECK(seen.at(r) == std::make_pair(2.0, 1.0));
    CHECK(stops.at(r) == std::vector<bool>{true, true, false});
    CHECK(torch::equal(gathered.at(r).to(torch::kDouble), expected_rows));
    CHECK(values.at(r) == 7.0);
  }
}
