// random and sequential samplers, and the sampler registry.
#include <algorithm>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "sampler_test_support.h"
#include "samplers/class_balanced.h"
#include "samplers/random_sampler.h"
#include "samplers/sequential_sampler.h"

#include <catch2/catch.hpp>

using namespace wtp::samplers;
using Catch::Matchers::Contains;
using wtp::samplers::test::drain;

TEST_CASE("random: a seeded permutation per epoch, over 200 seeds", "[samplers][random]") {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    wtp::Rng rng(seed);
    const int64_t n = rng.integer(1, 200);
    RandomOptions o;
    o.batch_size = rng.integer(1, 40);
    o.drop_last = rng.bernoulli(0.3);
    const int64_t world = rng.integer(1, 4);
    const std::vector<int64_t> labels(n, 0);
    INFO("seed " << seed << " n " << n << " batch " << o.batch_size << " R " << world);
    const int64_t G = o.drop_last ? n / o.batch_size : (n + o.batch_size - 1) / o.batch_size;
    std::vector<int64_t> all;
    int64_t per_rank = -1;
    for (int64_t r = 0; r < world; ++r) {
      RandomSampler s(o, SamplerInput{labels, seed, {r, world}, {}});
      REQUIRE(s.global_batches() == G);
      s.set_epoch(1);
      const auto mine = drain(s);
      REQUIRE(static_cast<int64_t>(mine.size()) == s.batches_per_epoch());
      if (per_rank >= 0) REQUIRE(static_cast<int64_t>(mine.size()) == per_rank);
      per_rank = static_cast<int64_t>(mine.size());
      const auto global = s.global_plan(1);
      for (size_t i = 0; i < mine.size(); ++i) {
        REQUIRE(mine[i] == global[(i * world + r) % G]);
        if (static_cast<int64_t>(i * world + r) < G)  // not a padding slot
          all.insert(all.end(), mine[i].indices.begin(), mine[i].indices.end());
      }
    }
    REQUIRE(per_rank == (G + world - 1) / world);
    // the ranks' non-padding batches are disjoint and cover the epoch
    std::sort(all.begin(), all.end());
    REQUIRE(std::adjacent_find(all.begin(), all.end()) == all.end());
    REQUIRE(static_cast<int64_t>(all.size()) == (o.drop_last ? G * o.batch_size : n));
    RandomSampler s(o, SamplerInput{labels, seed, {}, {}});
    CHECK(RandomSampler(o, SamplerInput{labels, seed, {}, {}}).global_plan(3) == s.global_plan(3));
    if (n >= 10 && G > 0) CHECK(s.global_plan(3) != s.global_plan(4));
    // restore
    s.set_epoch(5);
    const int64_t k = rng.integer(0, s.batches_per_epoch());
    for (int64_t i = 0; i < k; ++i) s.next();
    const auto state = s.state();
    const auto rest = drain(s);
    RandomSampler t(o, SamplerInput{labels, seed, {}, {}});
    t.restore(state);
    REQUIRE(drain(t) == rest);
  }
}

TEST_CASE("sequential: index order, sharded round robin", "[samplers][sequential]") {
  SequentialOptions o;
  o.batch_size = 4;
  const std::vector<int64_t> labels(10, 3);
  SequentialSampler s(o, SamplerInput{labels, 1, {}, {}});
  const auto batches = drain(s);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].indices == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(batches[2].indices == std::vector<int64_t>{8, 9});
  s.set_epoch(9);
  CHECK(drain(s) == batches);  // every epoch the same
  o.drop_last = true;
  CHECK(SequentialSampler(o, SamplerInput{labels, 1, {}, {}}).batches_per_epoch() == 2);
  o.drop_last = false;
  // 2 ranks: rank 0 gets batches 0, 2; rank 1 gets 1 and (padding) 0 again
  SequentialSampler r0(o, SamplerInput{labels, 1, {0, 2}, {}});
  SequentialSampler r1(o, SamplerInput{labels, 1, {1, 2}, {}});
  const auto b0 = drain(r0), b1 = drain(r1);
  REQUIRE(b0.size() == 2);
  REQUIRE(b1.size() == 2);
  CHECK(b0[0] == batches[0]);
  CHECK(b0[1] == batches[2]);
  CHECK(b1[0] == batches[1]);
  CHECK(b1[1] == batches[0]);
  // empty dataset: no batches
  SequentialSampler empty(o, SamplerInput{{}, 1, {}, {}});
  CHECK(empty.batches_per_epoch() == 0);
  CHECK_FALSE(empty.next());
  o.batch_size = 0;
  CHECK_THROWS_WITH(SequentialSampler(o, SamplerInput{labels, 1, {}, {}}), Contains("batch_size"));
}

TEST_CASE("sampler registry: names, options from config, errors", "[samplers][registry]") {
  const auto& registry = sampler_registry();
  CHECK(registry.names() ==
        std::vector<std::string>{"class_balanced", "pairs", "random", "sequential"});
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 6; ++c) labels.insert(labels.end(), 5, c);
  const SamplerInput input{labels, 4, {}, {}};
  auto make = [&](const std::string& yaml) {
    return registry.create(
        wtp::config::decode_component(wtp::config::parse(yaml, "test.yaml"), "sampler"), input);
  };
  auto cb = make("{name: class_balanced, classes_per_batch: 3, images_per_class: 2}");
  CHECK(cb->name() == "class_balanced");
  auto first = cb->next();
  REQUIRE(first);
  CHECK(first->indices.size() == 6);
  // same configuration through the registry and directly: same batches
  ClassBalancedOptions o;
  o.classes_per_batch = 3;
  o.images_per_class = 2;
  ClassBalancedSampler direct(o, input);
  CHECK(*direct.next() == *first);
  CHECK(make("{name: pairs, batch_size: 6}")->next()->is_pairs());
  CHECK(make("random")->batches_per_epoch() == 1);
  CHECK(make("{name: sequential, batch_size: 7}")->batches_per_epoch() == 5);
  CHECK_THROWS_WITH(make("stratified"),
                    Contains("known: class_balanced, pairs, random, sequential"));
  CHECK_THROWS_WITH(make("{name: class_balanced, images_per_clas: 2}"),
                    Contains("images_per_clas"));
  CHECK_THROWS_WITH(make("{name: class_balanced, small_class: drop}"), Contains("skip, repeat"));
  CHECK_THROWS_WITH(make("{name: pairs, source: list}"), Contains("random, fixed"));
  CHECK_THROWS_AS(make("{name: random, batch_size: 0}"), wtp::UsageError);
}
