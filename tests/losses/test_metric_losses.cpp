// The losses on embeddings with in-batch mining (triplet, multi_similarity) and their
// miners: hand-computed cases, double-precision gradient checks, and the values and
// gradients of pytorch-metric-learning's own code (tests/losses/reference/).
#include <cmath>

#include "catch_torch.h"
#include "core/error.h"
#include "loss_test_support.h"
#include "losses/mining.h"
#include "losses/multi_similarity.h"
#include "losses/triplet.h"

using namespace wtp::losses;
using Catch::Matchers::Contains;
using wtp::losses::test::gradient_error;
using wtp::losses::test::randn;
using wtp::losses::test::upstream_cases;

namespace {

// Four points on a line, classes {0, 0, 1, 1}: distances d01 = 1, d02 = 3, d03 = 4.5,
// d12 = 2, d13 = 3.5, d23 = 1.5.
torch::Tensor line_points() {
  return torch::tensor({0.0, 1.0, 3.0, 4.5}, torch::kDouble).unsqueeze(1);
}
torch::Tensor line_labels() { return torch::tensor({0, 0, 1, 1}); }

std::vector<std::array<int64_t, 3>> as_list(const Triplets& t) {
  std::vector<std::array<int64_t, 3>> out;
  for (int64_t i = 0; i < t.size(); ++i)
    out.push_back({t.anchor[i].item<int64_t>(), t.positive[i].item<int64_t>(),
                   t.negative[i].item<int64_t>()});
  std::sort(out.begin(), out.end());
  return out;
}

TripletOptions unnormalised(TripletMining mining, double margin) {
  TripletOptions o;
  o.mining = mining;
  o.margin = margin;
  o.normalize = false;
  return o;
}

}  // namespace

TEST_CASE("pairwise distances: values, zero diagonal, finite gradient at coinciding rows",
          "[losses][mining]") {
  const auto d = pairwise_distances(line_points());
  CHECK(d[0][3].item<double>() == Approx(4.5));
  CHECK(d[2][1].item<double>() == Approx(2));
  CHECK(d.diagonal().abs().max().item<double>() == 0);
  const auto x = torch::tensor({1.0, 2.0, 1.0, 2.0}, torch::kDouble).reshape({2, 2});
  const auto leaf = x.clone().requires_grad_(true);
  pairwise_distances(leaf).sum().backward();
  CHECK(torch::isfinite(leaf.grad()).all().item<bool>());
}

TEST_CASE("triplet mining: hand-computed triplets of each strategy", "[losses][mining]") {
  const auto d = pairwise_distances(line_points());
  using T = std::vector<std::array<int64_t, 3>>;
  // batch_hard: each anchor's farthest positive and nearest negative.
  CHECK(as_list(mine_triplets(d, line_labels(), TripletMining::kBatchHard, 0.6)) ==
        T{{0, 1, 2}, {1, 0, 2}, {2, 3, 1}, {3, 2, 1}});
  // semihard, margin 0.6: d(a,p) < d(a,n) <= d(a,p) + 0.6 holds only for (2, 3, 1): 1.5 < 2.
  CHECK(as_list(mine_triplets(d, line_labels(), TripletMining::kSemiHard, 0.6)) == T{{2, 3, 1}});
  // all, margin 1.6: d(a,n) <= d(a,p) + 1.6: (1,0,2) 2 <= 2.6; (2,3,1) 2 <= 3.1; (2,3,0) 3 <= 3.1.
  CHECK(as_list(mine_triplets(d, line_labels(), TripletMining::kAll, 1.6)) ==
        T{{1, 0, 2}, {2, 3, 0}, {2, 3, 1}});
  // A class with one image has no positive: it is never an anchor.
  CHECK(as_list(mine_triplets(d, torch::tensor({0, 0, 1, 2}), TripletMining::kBatchHard, 0.6)) ==
        T{{0, 1, 2}, {1, 0, 2}});
}

TEST_CASE("triplet: hand-computed losses, averaged over the violating triplets",
          "[losses][triplet]") {
  // batch_hard, margin 0.6: only anchor 2 violates, 1.5 - 2 + 0.6 = 0.1 -> mean over it.
  CHECK(triplet_loss(line_points(), line_labels(), unnormalised(TripletMining::kBatchHard, 0.6))
            .item<double>() == Approx(0.1));
  CHECK(triplet_loss(line_points(), line_labels(), unnormalised(TripletMining::kSemiHard, 0.6))
            .item<double>() == Approx(0.1));
  // all, margin 1.6: (1 - 2 + 1.6, 1.5 - 3 + 1.6, 1.5 - 2 + 1.6) = (0.6, 0.1, 1.1) -> 0.6.
  CHECK(triplet_loss(line_points(), line_labels(), unnormalised(TripletMining::kAll, 1.6))
            .item<double>() == Approx(0.6));
  // Nothing violates a margin of 0.1 under batch_hard: 0, with a gradient of zeros.
  const auto leaf = line_points().requires_grad_(true);
  const auto zero = triplet_loss(leaf, line_labels(), unnormalised(TripletMining::kBatchHard, 0.1));
  CHECK(zero.item<double>() == 0);
  zero.backward();
  CHECK(leaf.grad().abs().max().item<double>() == 0);
}

TEST_CASE("multi_similarity: hand-computed mining and loss", "[losses][multi_similarity]") {
  // Unit vectors at 0, 60 degrees (class 0) and 90, 180 degrees (class 1): cosines
  // s01 = 0.5, s02 = 0, s03 = -1, s12 = cos 30 = 0.866, s13 = -0.5, s23 = 0.
  auto at = [](double degrees) {
    return std::vector<double>{std::cos(degrees * M_PI / 180), std::sin(degrees * M_PI / 180)};
  };
  std::vector<double> flat;
  for (double a : {0.0, 60.0, 90.0, 180.0})
    for (double v : at(a)) flat.push_back(v);
  const auto x = torch::tensor(flat, torch::kDouble).reshape({4, 2});
  const auto y = line_labels();
  // Mining (epsilon 0.1): anchor 0 keeps nothing (its positive 0.5 is not below its hardest
  // negative 0 + 0.1, no negative exceeds 0.5 - 0.1); anchor 1 keeps (1,0) and (1,2);
  // anchor 2 keeps (2,3), (2,0), (2,1); anchor 3 keeps nothing.
  const auto pairs = mine_multi_similarity_pairs(x.matmul(x.t()), y, 0.1);
  CHECK(pairs.positive.nonzero().equal(torch::tensor({1, 0, 2, 3}).reshape({2, 2})));
  CHECK(pairs.negative.nonzero().equal(torch::tensor({1, 2, 2, 0, 2, 1}).reshape({3, 2})));
  // Loss (alpha 2, beta 50, base 0.5), per anchor:
  //   1: 0.5 log(1 + e^0) + 0.02 log(1 + e^(50 (0.866 - 0.5)))                 = 0.71259899
  //   2: 0.5 log(1 + e^1) + 0.02 log(1 + e^(50 (0 - 0.5)) + e^(50 (0.866 - 0.5))) = 1.02265625
  //   mean over the 4 anchors = 0.43381381
  CHECK(multi_similarity_loss(x, y).item<double>() == Approx(0.4338138105146736).epsilon(1e-12));
  // Normalisation is inside: scaling an embedding changes nothing.
  CHECK(multi_similarity_loss(3 * x, y).item<double>() ==
        Approx(0.4338138105146736).epsilon(1e-12));
}

TEST_CASE("triplet and multi_similarity: numerical gradients", "[losses][gradcheck]") {
  const auto e = randn({12, 5}, 7);
  const auto y = torch::tensor({0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3});
  for (auto mining : {TripletMining::kBatchHard, TripletMining::kSemiHard, TripletMining::kAll}) {
    TripletOptions o;
    o.mining = mining;
    o.margin = 0.5;
    INFO(wtp::config::enum_name(mining));
    CHECK(triplet_loss(e, y, o).item<double>() > 0);
    CHECK(gradient_error([&](const auto& in) { return triplet_loss(in[0], y, o); }, {e}) < 1e-6);
  }
  for (bool mining : {true, false}) {
    MultiSimilarityOptions o;
    o.mining = mining;
    o.beta = 10;
    CHECK(gradient_error([&](const auto& in) { return multi_similarity_loss(in[0], y, o); }, {e}) <
          1e-6);
  }
}

TEST_CASE("triplet and multi_similarity match pytorch-metric-learning", "[losses][upstream]") {
  auto check = [](const wtp::losses::test::UpstreamCase& c, auto loss) {
    const auto e = c.embeddings.clone().requires_grad_(true);
    const torch::Tensor value = loss(e, c.labels);
    value.backward();
    INFO(c.name << " " << c.options.dump());
    CHECK(value.item<double>() == Approx(c.loss).epsilon(1e-10));
    CHECK(((e.grad() - c.grad_embeddings).abs() / (1 + c.grad_embeddings.abs()))
              .max()
              .item<double>() < 1e-9);
  };
  for (const auto& c : upstream_cases("triplet")) {
    TripletOptions o;
    o.margin = c.options.at("margin");
    o.mining =
        wtp::config::parse_enum<TripletMining>(c.options.at("mining").get<std::string>(), "mining");
    check(c, [&](const auto& e, const auto& y) { return triplet_loss(e, y, o); });
  }
  for (const auto& c : upstream_cases("multi_similarity")) {
    MultiSimilarityOptions o;
    o.alpha = c.options.at("alpha");
    o.beta = c.options.at("beta");
    o.base = c.options.at("base");
    o.mining = c.options.at("mining");
    if (o.mining) o.epsilon = c.options.at("epsilon");
    check(c, [&](const auto& e, const auto& y) { return multi_similarity_loss(e, y, o); });
  }
}

TEST_CASE("triplet and multi_similarity reject bad input with the loss's name",
          "[losses][triplet]") {
  CHECK_THROWS_WITH(triplet_loss(torch::zeros({4}), line_labels()),
                    Contains("triplet: the embeddings"));
  CHECK_THROWS_WITH(triplet_loss(line_points(), torch::tensor({0, 1})),
                    Contains("class labels must have shape [4]"));
  TripletOptions o;
  o.margin = 0;
  CHECK_THROWS_WITH(triplet_loss(line_points(), line_labels(), o), Contains("margin must be > 0"));
  MultiSimilarityOptions m;
  m.alpha = -1;
  CHECK_THROWS_WITH(multi_similarity_loss(line_points(), line_labels(), m),
                    Contains("multi_similarity: alpha and beta"));
}
