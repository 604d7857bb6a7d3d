#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "eval/retrieval.h"

// Last: Catch's CHECK must replace the one glog (via LibTorch) defines.
#include <catch2/catch.hpp>

using namespace wtp::eval;
using Catch::Matchers::Contains;

namespace {

torch::Tensor on_circle(const std::vector<double>& degrees, const std::vector<double>& scale) {
  std::vector<float> v;
  for (std::size_t i = 0; i < degrees.size(); ++i) {
    const double a = degrees[i] * M_PI / 180.0;
    v.push_back(static_cast<float>(scale[i] * std::cos(a)));
    v.push_back(static_cast<float>(scale[i] * std::sin(a)));
  }
  return torch::tensor(v).view({static_cast<long>(degrees.size()), 2});
}

/// Reference: the full N x N similarity matrix, each row fully sorted by (similarity desc,
/// index asc); the definitions applied literally.
RetrievalResult all_pairs_reference(const torch::Tensor& embeddings,
                                    const std::vector<std::int64_t>& labels,
                                    const std::vector<std::int64_t>& ks) {
  auto e = l2_normalize_rows(embeddings);
  const auto n = e.size(0);
  auto sims = torch::mm(e, e.t()).contiguous();
  const float* s = sims.data_ptr<float>();
  RetrievalResult r;
  std::vector<double> hits(ks.size(), 0.0);
  double ap = 0, rp = 0;
  for (std::int64_t q = 0; q < n; ++q) {
    std::int64_t rel = -1;
    for (auto l : labels) rel += l == labels[q];
    if (rel == 0) {
      r.excluded_queries++;
      continue;
    }
    r.queries++;
    std::vector<std::int64_t> order;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != q) order.push_back(j);
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      const float sa = s[q * n + a], sb = s[q * n + b];
      return sa > sb || (sa == sb && a < b);
    });
    for (std::size_t k = 0; k < ks.size(); ++k) {
      bool hit = false;
      for (std::int64_t i = 0; i < std::min<std::int64_t>(ks[k], n - 1); ++i)
        hit |= labels[order[i]] == labels[q];
      hits[k] += hit;
    }
    double h = 0, a = 0;
    for (std::int64_t i = 0; i < rel; ++i)
      if (labels[order[i]] == labels[q]) a += ++h / (i + 1);
    ap += a / rel;
    rp += h / rel;
  }
  for (std::size_t k = 0; k < ks.size(); ++k) r.recall_at_k[ks[k]] = hits[k] / r.queries;
  r.map_at_r = ap / r.queries;
  r.r_precision = rp / r.queries;
  return r;
}

void check_equal(const RetrievalResult& a, const RetrievalResult& b) {
  CHECK(a.queries == b.queries);
  CHECK(a.excluded_queries == b.excluded_queries);
  CHECK(a.recall_at_k == b.recall_at_k);
  CHECK(a.map_at_r == Approx(b.map_at_r).epsilon(1e-12));
  CHECK(a.r_precision == Approx(b.r_precision).epsilon(1e-12));
}

}  // namespace

TEST_CASE("retrieval: MAP@R and R-precision on a case computed by hand", "[eval][retrieval]") {
  // Points on the unit circle (angles in degrees, rows scaled to check normalisation):
  //   0: A at 0, 1: A at 10, 2: B at 24, 3: A at 33, 4: B at 63, 5: C at 180 (lone).
  // Ranked neighbours (angular distance) and relevance:
  //   q0 (A, R=2): 1(10) +, 2(24) -, 3(33) +  -> top-2 [+ -]: RP 1/2, AP@R (1/1)/2 = 1/2
  //   q1 (A, R=2): 0(10) +, 2(14) -, 3(23) +  -> RP 1/2, AP 1/2
  //   q2 (B, R=1): 3(9) -, 1(14) -, 0(24) -, 4(39) +  -> RP 0, AP 0, first hit at rank 4
  //   q3 (A, R=2): 2(9) -, 1(23) +, 4(30) -, 0(33) +  -> top-2 [- +]: RP 1/2, AP (1/2)/2 = 1/4
  //   q4 (B, R=1): 3(30) -, 2(39) +           -> RP 0, AP 0, first hit at rank 2
  //   q5 lone: excluded.
  // MAP@R = (1/2 + 1/2 + 0 + 1/4 + 0) / 5 = 0.25; R-precision = (3 * 1/2) / 5 = 0.3;
  // Recall@1 = 2/5 (q0, q1); Recall@2 = 4/5 (+q3, q4); Recall@4 = 5/5.
  auto e = on_circle({0, 10, 24, 33, 63, 180}, {1.0, 2.0, 0.5, 3.0, 1.0, 7.0});
  auto labels = torch::tensor(std::vector<std::int64_t>{0, 0, 1, 0, 1, 2});
  RetrievalOptions o;
  o.ks = {1, 2, 3, 4};
  for (std::int64_t block : {1, 2, 4, 6}) {
    o.block_size = block;
    auto r = retrieval_metrics(e, labels, o);
    CHECK(r.queries == 5);
    CHECK(r.excluded_queries == 1);
    CHECK(r.map_at_r == Approx(0.25));
    CHECK(r.r_precision == Approx(0.3));
    CHECK(r.recall_at_k.at(1) == Approx(0.4));
    CHECK(r.recall_at_k.at(2) == Approx(0.8));
    CHECK(r.recall_at_k.at(3) == Approx(0.8));
    CHECK(r.recall_at_k.at(4) == Approx(1.0));
  }
}

TEST_CASE("retrieval: exact ties are broken by index", "[eval][retrieval]") {
  // Five identical embeddings: every neighbour list is the other indices in order.
  //   q0 (0, R=1): 1 2 3 4 -> labels 1 0 1 1: first hit rank 2; RP 0, AP 0
  //   q1 (1, R=2): 0 2 3 4 -> 0 0 1 1: first hit rank 3; RP 0, AP 0
  //   q2 (0, R=1): 0 1 3 4 -> 0 ...: first hit rank 1; RP 1, AP 1
  //   q3 (1, R=2): 0 1 2 4 -> 0 1 0 1: first hit rank 2; top-2 [- +]: RP 1/2, AP 1/4
  //   q4 (1, R=2): 0 1 2 3 -> 0 1 0 1: same as q3
  // Recall@1 = 1/5, Recall@2 = 4/5, Recall@3 = 1; MAP@R = 1.5/5 = 0.3; RP = 2/5 = 0.4.
  auto e = torch::ones({5, 3});
  auto labels = torch::tensor(std::vector<std::int64_t>{0, 1, 0, 1, 1});
  RetrievalOptions o;
  o.ks = {1, 2, 3};
  for (std::int64_t block : {1, 2, 3, 5}) {
    o.block_size = block;
    auto r = retrieval_metrics(e, labels, o);
    CHECK(r.recall_at_k.at(1) == Approx(0.2));
    CHECK(r.recall_at_k.at(2) == Approx(0.8));
    CHECK(r.recall_at_k.at(3) == Approx(1.0));
    CHECK(r.map_at_r == Approx(0.3));
    CHECK(r.r_precision == Approx(0.4));
  }
}

TEST_CASE("retrieval: perfect and adversarial embeddings", "[eval][retrieval]") {
  // Perfect: each class at its own orthogonal direction.
  std::vector<std::int64_t> lab;
  std::vector<float> v;
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 3; ++i) {
      lab.push_back(c);
      for (int d = 0; d < 4; ++d) v.push_back(d == c ? 1.0f + 0.01f * i : 0.0f);
    }
  auto perfect = retrieval_metrics(torch::tensor(v).view({12, 4}), torch::tensor(lab));
  CHECK(perfect.recall_at_k.at(1) == 1.0);
  CHECK(perfect.map_at_r == 1.0);
  CHECK(perfect.r_precision == 1.0);
  // Adversarial: pairs of a class on opposite sides, every nearest neighbour of another
  // class: labels alternate around a circle whose opposite points share a label.
  // 8 points at 45-degree steps, label = index mod 4: the partner is 180 degrees away,
  // the last of 7 neighbours.
  std::vector<double> deg;
  std::vector<std::int64_t> adv_lab;
  for (int i = 0; i < 8; ++i) {
    deg.push_back(45.0 * i + 0.5 * i);  // small offsets avoid exact ties
    adv_lab.push_back(i % 4);
  }
  auto adv = retrieval_metrics(on_circle(deg, std::vector<double>(8, 1.0)), torch::tensor(adv_lab));
  CHECK(adv.recall_at_k.at(1) == 0.0);
  CHECK(adv.recall_at_k.at(4) == 0.0);
  CHECK(adv.recall_at_k.at(8) == 1.0);  // K > N - 1 = 7 sees everything
  CHECK(adv.map_at_r == 0.0);
}

TEST_CASE("retrieval: singleton labels are excluded and counted", "[eval][retrieval]") {
  auto e = torch::randn({6, 4}, torch::Generator(at::make_generator<at::CPUGeneratorImpl>(3)));
  auto all_lone = retrieval_metrics(e, torch::arange(6));
  CHECK(all_lone.queries == 0);
  CHECK(all_lone.excluded_queries == 6);
  CHECK(all_lone.recall_at_k.at(1) == 0.0);
  auto some = retrieval_metrics(e, torch::tensor(std::vector<std::int64_t>{5, 5, 9, 9, 1, 2}));
  CHECK(some.queries == 4);
  CHECK(some.excluded_queries == 2);
  Report rep;
  some.add_to(rep);
  CHECK(rep.at("retrieval_excluded_queries") == 2);
  CHECK(rep.count("recall_at_20") == 1);
  CHECK(rep.count("map_at_r") == 1);
  // The selectable names are what the report holds, for the options it was made with.
  for (const auto& name : RetrievalResult::metric_names(RetrievalOptions{}))
    CHECK(rep.count(name) == 1);
  RetrievalOptions few;
  few.ks = {3};
  few.map_at_r = false;
  CHECK(RetrievalResult::metric_names(few) == std::vector<std::string>{"recall_at_3"});
  Report rep_few;
  retrieval_metrics(e, torch::tensor(std::vector<std::int64_t>{5, 5, 9, 9, 1, 2}), few)
      .add_to(rep_few);
  CHECK(rep_few.count("recall_at_3") == 1);
  CHECK(rep_few.count("map_at_r") == 0);
}

TEST_CASE("retrieval: blockwise equals the all-pairs computation", "[eval][retrieval]") {
  // (a) Exactly representable similarities with many ties: rows of +-0.25 in D = 16 are
  // unit vectors, so every dot product is an exact multiple of 1/16.
  wtp::Rng rng(5);
  const int n = 90;
  std::vector<float> v;
  std::vector<std::int64_t> lab;
  for (int i = 0; i < n; ++i) {
    lab.push_back(rng.integer(0, 14));
    for (int d = 0; d < 16; ++d) v.push_back(rng.bernoulli(0.5) ? 0.25f : -0.25f);
  }
  auto tied = torch::tensor(v).view({n, 16});
  // (b) Gaussian embeddings with LFW-like unequal class sizes and singletons.
  auto gauss = torch::randn({n, 8}, torch::Generator(at::make_generator<at::CPUGeneratorImpl>(9)));
  std::vector<std::int64_t> lab2;
  for (int i = 0; i < n; ++i) lab2.push_back(i < 40 ? i / 20 : i < 70 ? 2 + i / 3 : 100 + i);
  std::vector<std::int64_t> ks = {1, 2, 4, 8, 10, 20, 200};
  for (auto [e, l] : {std::pair{tied, lab}, std::pair{gauss, lab2}}) {
    const auto ref = all_pairs_reference(e, l, ks);
    for (std::int64_t block : {1, 7, 32, 89, 90, 1000}) {
      RetrievalOptions o;
      o.ks = ks;
      o.block_size = block;
      check_equal(retrieval_metrics(e, torch::tensor(l), o), ref);
    }
  }
}

TEST_CASE("retrieval: r_cap limits R as faiss-based pytorch-metric-learning does",
          "[eval][retrieval]") {
  // Label 0 at 0, 12 and 90 degrees, label 1 (lone, excluded) at 20 degrees.
  //   q0 (R=2): 1(12) +, 3(20) -, 2(90) +  -> R=2: AP 1/2, RP 1/2; R capped at 1: AP 1, RP 1
  //   q1 (R=2): 3(8) -, 0(12) +, 2(78) +   -> R=2: AP 1/4, RP 1/2; capped: 0, 0
  //   q2 (R=2): 3(70) -, 1(78) +, 0(90) +  -> R=2: AP 1/4, RP 1/2; capped: 0, 0
  auto e = on_circle({0, 12, 90, 20}, {1, 1, 1, 1});
  auto lab = torch::tensor(std::vector<std::int64_t>{0, 0, 0, 1});
  auto full = retrieval_metrics(e, lab);
  CHECK(full.map_at_r == Approx(1.0 / 3.0));
  CHECK(full.r_precision == Approx(0.5));
  RetrievalOptions o;
  o.r_cap = 1;
  auto capped = retrieval_metrics(e, lab, o);
  CHECK(capped.map_at_r == Approx(1.0 / 3.0));
  CHECK(capped.r_precision == Approx(1.0 / 3.0));
}

TEST_CASE("retrieval: the old per-batch Recall@K", "[eval][retrieval]") {
  // Batch 1 = rows 0-1 (both label 0): every query hits. Batch 2 = rows 2-3 (labels 1, 2):
  // no query has a partner in its batch: both miss. Mean over batches = 0.5, although the
  // global Recall@1 over all four rows is undefined for the lone labels 1 and 2.
  auto e = torch::tensor(std::vector<float>{1, 0, 0.9f, 0.1f, 0, 1, 0.1f, 0.9f}).view({4, 2});
  auto lab = torch::tensor(std::vector<std::int64_t>{0, 0, 1, 2});
  auto old = old_per_batch_recall(e, lab, {1}, 2);
  CHECK(old.at(1) == 0.5);
  RetrievalOptions o;
  o.old_batch_size = 2;
  o.ks = {1};
  auto r = retrieval_metrics(e, lab, o);
  CHECK(r.old_per_batch_recall_at_k.at(1) == 0.5);
  CHECK(r.recall_at_k.at(1) == 1.0);  // the two label-0 rows find each other
}

TEST_CASE("retrieval: bad input is a usage error", "[eval][retrieval]") {
  auto e = torch::randn({4, 3});
  auto lab = torch::tensor(std::vector<std::int64_t>{0, 0, 1, 1});
  auto nan_row = e.clone();
  nan_row[2][1] = std::nanf("");
  CHECK_THROWS_WITH(retrieval_metrics(nan_row, lab), Contains("row 2"));
  auto zero_row = e.clone();
  zero_row[3].zero_();
  CHECK_THROWS_WITH(retrieval_metrics(zero_row, lab), Contains("all zeros"));
  CHECK_THROWS_WITH(retrieval_metrics(e, torch::tensor(std::vector<std::int64_t>{0, 1})),
                    Contains("2 labels for 4 embeddings"));
  CHECK_THROWS_AS(retrieval_metrics(e.view({12}), lab), wtp::UsageError);
  CHECK_THROWS_AS(retrieval_metrics(e, lab.to(torch::kFloat)), wtp::UsageError);
  RetrievalOptions o;
  o.ks = {0};
  CHECK_THROWS_AS(retrieval_metrics(e, lab, o), wtp::UsageError);
}
