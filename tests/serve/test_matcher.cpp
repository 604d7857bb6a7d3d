// The matcher on hand-made templates: per-user best template, threshold, margin, other
// models' templates never compared, one matrix product for many queries.
#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

#include "catch_torch.h"
#include "serve/matcher.h"
#include "test_support.h"

using namespace wtp::serve;

namespace {

Template make(std::int64_t user, std::vector<float> v, std::string md5 = "m1") {
  Template t;
  t.user_id = user;
  t.model_md5 = std::move(md5);
  t.embedding = std::move(v);
  return t;
}

torch::Tensor unit(std::vector<float> v) {
  auto t = torch::tensor(v).reshape({1, -1});
  return t / t.norm();
}

}  // namespace

TEST_CASE("gallery groups templates by user and drops other models", "[serve][matcher]") {
  const std::vector<Template> templates{make(7, {1, 0, 0}), make(3, {0, 2, 0}), make(7, {0, 0, 1}),
                                        make(5, {1, 1, 0}, "old"),
                                        make(3, {0, 0, 1, 0})};  // wrong dimension
  const Gallery g = build_gallery(templates, "m1", 3, 42);
  CHECK(g.users == std::vector<std::int64_t>{3, 7});
  CHECK(g.starts == std::vector<std::int64_t>{0, 1, 3});
  CHECK(g.version == 42);
  CHECK(g.stale_users.count(5) == 1);
  CHECK(g.stale_users.count(3) == 0);  // user 3 has a current template too
  // Rows are L2-normalised: {0, 2, 0} -> {0, 1, 0}.
  CHECK(g.templates[0][1].item<float>() == Approx(1.0));
}

TEST_CASE("a user's distance is the best of their templates", "[serve][matcher]") {
  const Gallery g =
      build_gallery({make(1, {1, 0, 0}), make(1, {0, 1, 0}), make(2, {0, 0, 1})}, "m1", 3);
  const auto d = user_distances(g, torch::cat({unit({0, 1, 0}), unit({1, 1, 0})}));
  REQUIRE(d.sizes() == torch::IntArrayRef({2, 2}));
  CHECK(d[0][0].item<float>() == Approx(0.0).margin(1e-6));             // same as template 2
  CHECK(d[0][1].item<float>() == Approx(std::sqrt(2.0)).margin(1e-6));  // orthogonal
  // Query at 45 degrees: Euclidean distance 2 sin(22.5 deg) to user 1's nearer template.
  CHECK(d[1][0].item<float>() == Approx(2 * std::sin(M_PI / 8)).margin(1e-6));
}

TEST_CASE("accepted only under the threshold and with the margin", "[serve][matcher]") {
  const Gallery g = build_gallery({make(1, {1, 0}), make(2, {0, 1})}, "m1", 2);
  // Close to user 1 (angle 10 deg): distance 0.174, user 2 at 1.286.
  const float a = static_cast<float>(10 * M_PI / 180);
  auto d = user_distances(g, unit({std::cos(a), std::sin(a)}));
  Match m = best_match(g, d, 0, 0.5, 0.05);
  REQUIRE(m.user);
  CHECK(*m.user == 1);
  CHECK(m.distance == Approx(2 * std::sin(a / 2)).margin(1e-6));
  CHECK_FALSE(best_match(g, d, 0, 0.1, 0.05).user);     // over the threshold
  CHECK_FALSE(best_match(g, d, 0, 0.5, 1.2).user);      // margin not reached
  CHECK(best_match(g, d, 0, 0.5, 1.2).best_user == 1);  // still reported as nearest
  // Halfway between both users: no margin.
  d = user_distances(g, unit({1, 1}));
  CHECK_FALSE(best_match(g, d, 0, 1.0, 0.05).user);
  // A single enrolled user: the second distance is infinite, the margin always holds.
  const Gallery one = build_gallery({make(9, {1, 0})}, "m1", 2);
  m = best_match(one, user_distances(one, unit({1, 0})), 0, 0.5, 0.05);
  REQUIRE(m.user);
  CHECK(std::isinf(m.second_distance));
  // Empty gallery: nobody.
  const Gallery empty = build_gallery({}, "m1", 2);
  m = best_match(empty, user_distances(empty, unit({1, 0})), 0, 0.5, 0.05);
  CHECK_FALSE(m.user);
  CHECK(m.best_user == -1);
}

TEST_CASE("matches many queries against many users exactly", "[serve][matcher]") {
  // Random gallery: the per-user distance equals the brute-force minimum.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  std::vector<Template> templates;
  const auto raw = torch::randn({50, 8}, gen);
  for (int i = 0; i < 50; ++i) {
    const float* p = raw[i].data_ptr<float>();
    templates.push_back(make(i % 7, std::vector<float>(p, p + 8)));
  }
  const Gallery g = build_gallery(templates, "m1", 8);
  auto queries = torch::randn({4, 8}, gen);
  queries = queries / queries.norm(2, 1, true);
  const auto d = user_distances(g, queries);
  for (int q = 0; q < 4; ++q)
    for (int u = 0; u < 7; ++u) {
      double best = 1e9;
      for (int i = u; i < 50; i += 7)
        best = std::min(best, (queries[q] - raw[i] / raw[i].norm()).norm().item<double>());
      CHECK(d[q][u].item<double>() == Approx(best).margin(1e-5));
    }
}
