// The Loss interface and the registry of built-in losses.
#include <cmath>

#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"
#include "loss_test_support.h"
#include "losses/contrastive.h"
#include "losses/group_loss.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/triplet.h"

using namespace wtp::losses;
using Catch::Matchers::Contains;
using wtp::losses::test::randn;

namespace {
std::shared_ptr<Loss> make(const std::string& yaml) {
  const auto& registry = loss_registry();
  return registry.create(
      wtp::config::decode_component(wtp::config::parse(yaml, "test.yaml"), "loss"));
}
}  // namespace

TEST_CASE("loss registry: names, creation from config, requirements", "[losses][registry]") {
  const auto& registry = loss_registry();
  CHECK(registry.names() == std::vector<std::string>{"arcface", "bce", "bce_pair", "contrastive",
                                                     "cosface", "cross_entropy", "group_loss",
                                                     "multi_similarity", "proxy_anchor",
                                                     "triplet"});
  for (const auto* name : {"arcface", "cosface", "proxy_anchor"}) {
    const auto r = make(name)->requirements();
    CHECK((r.logits && !r.pairs));
    CHECK(make(name)->name() == name);
  }
  for (const auto* name : {"triplet", "multi_similarity"}) {
    const auto r = make(name)->requirements();
    CHECK((!r.logits && !r.pairs));
  }
  CHECK(make("contrastive")->requirements().pairs);
  CHECK_FALSE(make("contrastive")->requirements().logits);
  CHECK(make("bce_pair")->requirements().logits);
  CHECK(make("bce_pair")->requirements().pairs);
  CHECK_FALSE(make("bce")->requirements().pairs);
  CHECK(make("bce")->name() == "bce");
  CHECK_FALSE(make("cross_entropy")->requirements().pairs);
  const auto g = make("{name: group_loss, temperature: 30, labelled_per_class: 1}")->requirements();
  CHECK((g.logits && !g.pairs));
  CHECK(make("group_loss")->name() == "group_loss");
  // resolved options list every default
  const auto resolved = registry.resolve(wtp::config::decode_component(
      wtp::config::parse("{name: group_loss, iterations: 5}", "t"), "loss"));
  const auto options = wtp::config::decode<GroupLossOptions>(resolved.options);
  CHECK(options.iterations == 5);
  CHECK(options.temperature == 12);
  CHECK(options.labelled_per_class == 2);
}

TEST_CASE("loss registry: configured losses compute the same as the functions",
          "[losses][registry]") {
  const auto a = randn({4, 3}, 1), b = randn({4, 3}, 2);
  const auto pair_y = torch::tensor({0, 1, 1, 0});
  LossInputs pairs;
  pairs.embeddings = a;
  pairs.embeddings2 = b;
  pairs.labels = pair_y;
  ContrastiveOptions co;
  co.margin = 5;
  const auto out = make("{name: contrastive, margin: 5}")->forward(pairs);
  CHECK(out.total.item<double>() == Approx(contrastive(a, b, pair_y, co).item<double>()));
  CHECK(out.parts.empty());

  const auto x = randn({6, 4}, 3), z = randn({6, 3}, 4);
  const auto y = torch::tensor({0, 1, 2, 0, 1, 2});
  LossInputs batch;
  batch.embeddings = x;
  batch.logits = z;
  batch.labels = y;
  const auto g = make("{name: group_loss, labelled_per_class: 1, scaling: 0.5}")->forward(batch);
  GroupLossOptions go;
  go.labelled_per_class = 1;
  go.scaling = 0.5;
  const auto terms = group_loss_terms(x, z, y, go);
  CHECK(g.total.item<double>() == Approx(terms.loss.item<double>()));
  REQUIRE(g.parts.size() == 2);
  CHECK(g.parts[0].first == "group");
  CHECK(g.parts[1].first == "ce");
  CHECK(g.parts[0].second.item<double>() == Approx(terms.group.item<double>()));
  CHECK(g.total.item<double>() ==
        Approx(0.5 * g.parts[0].second.item<double>() + g.parts[1].second.item<double>()));
  CHECK_FALSE(g.parts[0].second.requires_grad());

  const auto ce = make("{name: cross_entropy, label_smoothing: 0.1}")->forward(batch);
  CHECK(std::isfinite(ce.total.item<double>()));
  LossInputs pair_logits;
  pair_logits.logits = randn({4, 1}, 5);
  pair_logits.labels = pair_y;
  CHECK(make("bce_pair")->forward(pair_logits).total.dim() == 0);

  // The new losses pass the configured options to their functions.
  LossInputs cosine_batch;
  cosine_batch.logits = torch::tanh(z);
  cosine_batch.labels = y;
  ArcFaceOptions ao;
  ao.scale = 10;
  ao.margin = 0.2;
  CHECK(
      make("{name: arcface, scale: 10, margin: 0.2}")->forward(cosine_batch).total.item<double>() ==
      Approx(arcface(cosine_batch.logits, y, ao).item<double>()));
  TripletOptions to;
  to.margin = 0.7;
  to.mining = TripletMining::kAll;
  CHECK(make("{name: triplet, margin: 0.7, mining: all}")->forward(batch).total.item<double>() ==
        Approx(triplet_loss(x, y, to).item<double>()));
}

TEST_CASE("loss registry: errors name what to fix", "[losses][registry][validation]") {
  CHECK_THROWS_WITH(make("triplett"), Contains("known: arcface, bce, bce_pair, contrastive"));
  CHECK_THROWS_WITH(make("{name: arcface, reduction: none}"), Contains("use mean or sum"));
  CHECK_THROWS_WITH(make("{name: triplet, mining: hardest}"),
                    Contains("batch_hard, semihard, all"));
  CHECK_THROWS_WITH(make("{name: group_loss, temprature: 3}"), Contains("temprature"));
  CHECK_THROWS_WITH(make("{name: group_loss, reduction: none}"), Contains("use mean or sum"));
  CHECK_THROWS_WITH(make("{name: group_loss, reduction: average}"), Contains("mean, sum, none"));
  CHECK_THROWS_AS(make("{name: contrastive, margin: -1}"), wtp::UsageError);
  LossInputs missing;
  missing.logits = randn({4, 3}, 1);
  missing.labels = torch::tensor({0, 1, 2, 0});
  CHECK_THROWS_WITH(make("group_loss")->forward(missing), Contains("'embeddings' is missing"));
  CHECK_THROWS_WITH(make("contrastive")->forward(missing), Contains("'embeddings' is missing"));
}
