// pairs: balance, labels, per-epoch reshuffle, determinism, sharding, restore, fixed lists.
#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "sampler_test_support.h"
#include "samplers/pairs.h"

#include <catch2/catch.hpp>

using namespace wtp::samplers;
using Catch::Matchers::Contains;
using wtp::samplers::test::drain;
using wtp::samplers::test::random_labels;

TEST_CASE("pairs (random): balanced, correctly labelled, reshuffled, over 200 seeds",
          "[samplers][pairs]") {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    wtp::Rng rng(wtp::mix_seed(seed, 999));
    const auto labels = random_labels(rng, rng.integer(2, 30), 12);
    std::map<int64_t, int64_t> sizes;
    for (int64_t l : labels) ++sizes[l];
    int64_t pairable = 0;
    for (int64_t l : labels) pairable += sizes[l] >= 2;
    PairsOptions o;
    o.batch_size = 2 * rng.integer(1, 8);
    const int64_t world = rng.integer(1, 3);
    INFO("seed " << seed << " items " << labels.size() << " classes " << sizes.size() << " batch "
                 << o.batch_size << " R " << world);
    if (pairable == 0 || sizes.size() < 2) {
      CHECK_THROWS_AS(PairsSampler(o, SamplerInput{labels, seed, {0, world}, {}}), wtp::UsageError);
      continue;
    }
    PairsSampler s(o, SamplerInput{labels, seed, {0, world}, {}});
    // G = ceil(2 * pairable / batch) rounded up to a multiple of R
    const int64_t G =
        ((2 * pairable + o.batch_size - 1) / o.batch_size + world - 1) / world * world;
    REQUIRE(s.global_batches() == G);
    REQUIRE(s.batches_per_epoch() == G / world);
    const auto epoch0 = s.global_plan(0);
    std::set<int64_t> same_anchors;
    for (const auto& b : epoch0) {
      REQUIRE(b.is_pairs());
      REQUIRE(static_cast<int64_t>(b.indices.size()) == o.batch_size);
      REQUIRE(b.partners.size() == b.indices.size());
      int64_t different = 0;
      for (size_t i = 0; i < b.indices.size(); ++i) {
        const int64_t a = b.indices[i], p = b.partners[i];
        REQUIRE(b.pair_labels[i] == (labels[a] != labels[p] ? 1 : 0));
        REQUIRE(a != p);
        different += b.pair_labels[i];
        if (b.pair_labels[i] == 0) same_anchors.insert(a);
      }
      REQUIRE(different * 2 == o.batch_size);  // exactly balanced in every batch
    }
    // every item of a class with >= 2 items anchors a same pair each epoch
    REQUIRE(static_cast<int64_t>(same_anchors.size()) == pairable);
    // reshuffled every epoch, deterministic per (seed, epoch)
    CHECK(s.global_plan(1) != epoch0);
    CHECK(PairsSampler(o, SamplerInput{labels, seed, {0, world}, {}}).global_plan(1) ==
          s.global_plan(1));
    // sharding: every rank gets its round-robin slots of the same global plan
    for (int64_t r = 0; r < world; ++r) {
      PairsSampler rank(o, SamplerInput{labels, seed, {r, world}, {}});
      rank.set_epoch(4);
      const auto global = s.global_plan(4);
      const auto mine = drain(rank);
      REQUIRE(static_cast<int64_t>(mine.size()) == G / world);
      for (size_t i = 0; i < mine.size(); ++i) REQUIRE(mine[i] == global[i * world + r]);
    }
    // restore mid-epoch
    s.set_epoch(2);
    const int64_t k = rng.integer(0, s.batches_per_epoch());
    for (int64_t i = 0; i < k; ++i) s.next();
    const auto saved = s.state().to_vector();
    const auto rest = drain(s);
    PairsSampler t(o, SamplerInput{labels, seed, {0, world}, {}});
    t.restore(SamplerState::from_vector(saved));
    REQUIRE(drain(t) == rest);
  }
}

TEST_CASE("pairs (random): different partners spread over the other classes", "[samplers][pairs]") {
  // 4 classes of 5 items; item 0's different partners over many epochs hit all 15 others.
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 4; ++c) labels.insert(labels.end(), 5, c);
  PairsOptions o;
  o.batch_size = 8;
  o.pairs_per_epoch = 40;
  PairsSampler s(o, SamplerInput{labels, 3, {}, {}});
  CHECK(s.batches_per_epoch() == 5);
  std::map<int64_t, int64_t> partners;
  for (int64_t epoch = 0; epoch < 200; ++epoch)
    for (const auto& b : s.global_plan(epoch))
      for (size_t i = 0; i < b.indices.size(); ++i)
        if (b.pair_labels[i] == 1 && b.indices[i] == 0) ++partners[b.partners[i]];
  CHECK(partners.size() == 15);
  for (const auto& [item, count] : partners) CHECK(labels[item] != 0);
  // each of the 15 expected 200 epochs * 20 different pairs / 20 items / 15 = 13.3 times
  for (const auto& [item, count] : partners) CHECK(count >= 3);
}

TEST_CASE("pairs (fixed): protocol list, stratified shuffle, order kept without shuffle",
          "[samplers][pairs]") {
  // An LFW-View-1-like list: 110 same pairs, then 110 different pairs (the old loaders
  // served them in this order).
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 40; ++c) labels.insert(labels.end(), 4, c);
  std::vector<IndexPair> list;
  for (int64_t i = 0; i < 110; ++i) list.push_back({(i % 40) * 4, (i % 40) * 4 + 1 + i % 3});
  for (int64_t i = 0; i < 110; ++i) list.push_back({(i % 40) * 4 + 2, ((i + 7) % 40) * 4 + 3});
  PairsOptions o;
  o.source = PairSource::kFixed;
  o.batch_size = 32;
  PairsSampler s(o, SamplerInput{labels, 11, {}, list});
  CHECK(s.batches_per_epoch() == 7);  // ceil(220 / 32)
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    s.set_epoch(epoch);
    const auto batches = drain(s);
    std::multiset<std::pair<int64_t, int64_t>> got, want;
    for (const auto& p : list) want.insert({p.first, p.second});
    for (size_t b = 0; b < batches.size(); ++b) {
      int64_t different = 0;
      for (size_t i = 0; i < batches[b].indices.size(); ++i) {
        got.insert({batches[b].indices[i], batches[b].partners[i]});
        different += batches[b].pair_labels[i];
        CHECK(batches[b].pair_labels[i] ==
              (labels[batches[b].indices[i]] != labels[batches[b].partners[i]] ? 1 : 0));
      }
      // half of each batch (the last, 28 pairs, too) are "different"
      CHECK(2 * different == static_cast<int64_t>(batches[b].indices.size()));
    }
    CHECK(got == want);  // exactly the list, once
  }
  CHECK(s.global_plan(0) != s.global_plan(1));
  // shuffle off: protocol order
  o.shuffle = false;
  PairsSampler ordered(o, SamplerInput{labels, 11, {}, list});
  const auto batches = drain(ordered);
  CHECK(batches[0].indices[0] == list[0].first);
  CHECK(batches[0].partners[31] == list[31].second);
  CHECK(batches[6].indices.size() == 28);
  CHECK(batches[6].indices[27] == list[219].first);
  CHECK(ordered.global_plan(0) == ordered.global_plan(5));
  // drop_last
  o.drop_last = true;
  CHECK(PairsSampler(o, SamplerInput{labels, 11, {}, list}).batches_per_epoch() == 6);
  // two ranks: 4 batches each; the 8th slot repeats the first batch of the epoch
  o.drop_last = false;
  PairsSampler r0(o, SamplerInput{labels, 11, {0, 2}, list});
  PairsSampler r1(o, SamplerInput{labels, 11, {1, 2}, list});
  const auto b0 = drain(r0), b1 = drain(r1);
  CHECK(b0.size() == 4);
  CHECK(b1.size() == 4);
  CHECK(b1[3] == b0[0]);
  CHECK(b1[2] == batches[5]);
}

TEST_CASE("pairs: validation", "[samplers][pairs][validation]") {
  const std::vector<int64_t> labels = {0, 0, 1, 1};
  PairsOptions o;
  o.batch_size = 3;
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{labels, 0, {}, {}}), Contains("must be even"));
  o.batch_size = 4;
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{{0, 0, 0}, 0, {}, {}}),
                    Contains("at least 2 classes"));
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{{0, 1, 2}, 0, {}, {}}),
                    Contains("at least 2 items"));
  o.source = PairSource::kFixed;
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{labels, 0, {}, {}}),
                    Contains("needs a pair list"));
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{labels, 0, {}, {{0, 4}}}),
                    Contains("outside [0, 4)"));
  o.pairs_per_epoch = 10;
  CHECK_THROWS_WITH(PairsSampler(o, SamplerInput{labels, 0, {}, {{0, 1}}}),
                    Contains("pairs_per_epoch applies to source: random only"));
  o.pairs_per_epoch = 0;
  PairsOptions r;
  r.shuffle = false;
  CHECK_THROWS_WITH(PairsSampler(r, SamplerInput{labels, 0, {}, {}}),
                    Contains("apply to source: fixed only"));
  o.batch_size = 3;  // odd batches are fine for a fixed list
  CHECK(PairsSampler(o, SamplerInput{labels, 0, {}, {{0, 1}, {1, 2}}}).batches_per_epoch() == 1);
}
