// class_balanced: invariants over many seeds and configurations, exact epoch length,
// determinism, sharding, restore mid-epoch, small-class policies.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "sampler_test_support.h"
#include "samplers/class_balanced.h"

#include <catch2/catch.hpp>

using namespace wtp::samplers;
using Catch::Matchers::Contains;
using wtp::samplers::test::drain;
using wtp::samplers::test::random_labels;

namespace {

std::map<int64_t, int64_t> class_sizes(const std::vector<int64_t>& labels) {
  std::map<int64_t, int64_t> sizes;
  for (int64_t l : labels) ++sizes[l];
  return sizes;
}

// B = max(ceil(Q / n), q_max) rounded up to a multiple of R, computed independently.
int64_t expected_batches(const std::vector<int64_t>& labels, const ClassBalancedOptions& o,
                         int64_t world) {
  int64_t Q = 0, qmax = 0;
  for (const auto& [label, s] : class_sizes(labels)) {
    int64_t q = 0;
    if (s >= o.images_per_class)
      q = (s + o.images_per_class - 1) / o.images_per_class;
    else if (o.small_class == SmallClassPolicy::kRepeat)
      q = 1;
    Q += q;
    qmax = std::max(qmax, q);
  }
  const int64_t B = std::max((Q + o.classes_per_batch - 1) / o.classes_per_batch, qmax);
  return (B + world - 1) / world * world;
}

// Checks one batch's structure; returns its items.
void check_batch(const Batch& batch, const std::vector<int64_t>& labels,
                 const ClassBalancedOptions& o, const std::map<int64_t, int64_t>& sizes) {
  const int64_t n = o.classes_per_batch, m = o.images_per_class;
  REQUIRE(static_cast<int64_t>(batch.indices.size()) == n * m);
  REQUIRE(batch.partners.empty());
  std::set<int64_t> classes;
  for (int64_t block = 0; block < n; ++block) {
    const int64_t label = labels[batch.indices[block * m]];
    REQUIRE(classes.insert(label).second);  // n distinct classes
    std::set<int64_t> images;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t item = batch.indices[block * m + j];
      REQUIRE(labels[item] == label);  // blocks of m consecutive items of one class
      images.insert(item);
    }
    const int64_t size = sizes.at(label);
    if (size >= m) {
      REQUIRE(static_cast<int64_t>(images.size()) == m);  // no image twice
    } else {
      REQUIRE(o.small_class == SmallClassPolicy::kRepeat);   // skip never uses small classes
      REQUIRE(static_cast<int64_t>(images.size()) == size);  // all of the class, repeated
    }
  }
}

}  // namespace

TEST_CASE("class_balanced: invariants over 200 seeds", "[samplers][class_balanced]") {
  int64_t checked_batches = 0, fill_heavy = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    wtp::Rng rng(wtp::mix_seed(seed, 12345));
    ClassBalancedOptions o;
    o.classes_per_batch = rng.integer(1, 8);
    o.images_per_class = rng.integer(1, 5);
    o.small_class = rng.bernoulli(0.5) ? SmallClassPolicy::kRepeat : SmallClassPolicy::kSkip;
    const int64_t world = rng.integer(1, 3);
    const auto labels = random_labels(rng, rng.integer(12, 40), 30);
    const auto sizes = class_sizes(labels);
    int64_t usable_classes = 0;
    std::set<int64_t> usable_images;
    for (size_t i = 0; i < labels.size(); ++i)
      if (sizes.at(labels[i]) >= o.images_per_class || o.small_class == SmallClassPolicy::kRepeat)
        usable_images.insert(static_cast<int64_t>(i));
    for (const auto& [label, s] : sizes)
      usable_classes += (s >= o.images_per_class || o.small_class == SmallClassPolicy::kRepeat);
    INFO("seed " << seed << " n " << o.classes_per_batch << " m " << o.images_per_class << " "
                 << wtp::config::enum_name(o.small_class) << " R " << world << " items "
                 << labels.size() << " usable classes " << usable_classes);
    if (usable_classes < o.classes_per_batch) {
      SamplerInput in{labels, seed, {0, world}, {}};
      CHECK_THROWS_AS(ClassBalancedSampler(o, in), wtp::UsageError);
      continue;
    }
    std::vector<std::unique_ptr<ClassBalancedSampler>> ranks;
    for (int64_t r = 0; r < world; ++r)
      ranks.push_back(
          std::make_unique<ClassBalancedSampler>(o, SamplerInput{labels, seed, {r, world}, {}}));
    const int64_t B = expected_batches(labels, o, world);
    REQUIRE(ranks[0]->global_batches() == B);
    REQUIRE(ranks[0]->usable_images() == static_cast<int64_t>(usable_images.size()));
    for (int64_t epoch : {0, 3}) {
      const auto global = ranks[0]->global_plan(epoch);
      REQUIRE(static_cast<int64_t>(global.size()) == B);
      std::set<int64_t> seen;
      for (const auto& batch : global) {
        check_batch(batch, labels, o, sizes);
        seen.insert(batch.indices.begin(), batch.indices.end());
      }
      REQUIRE(seen == usable_images);  // every usable image, nothing else
      // sharding: rank r gets global batches r, r + R, ...; same count on every rank
      for (int64_t r = 0; r < world; ++r) {
        ranks[r]->set_epoch(epoch);
        const auto mine = drain(*ranks[r]);
        REQUIRE(static_cast<int64_t>(mine.size()) == ranks[r]->batches_per_epoch());
        REQUIRE(static_cast<int64_t>(mine.size()) == B / world);
        for (size_t i = 0; i < mine.size(); ++i) REQUIRE(mine[i] == global[i * world + r]);
        REQUIRE_FALSE(ranks[r]->next());
      }
      checked_batches += B;
      if (B * o.classes_per_batch >
          2 * static_cast<int64_t>(usable_images.size()) / o.images_per_class)
        ++fill_heavy;
    }
    // deterministic per (seed, epoch), different across epochs and seeds
    ClassBalancedSampler again(o, SamplerInput{labels, seed, {0, world}, {}});
    CHECK(again.global_plan(3) == ranks[0]->global_plan(3));
    if (usable_images.size() > 20) {
      CHECK(ranks[0]->global_plan(0) != ranks[0]->global_plan(1));
      ClassBalancedSampler other(o, SamplerInput{labels, seed + 1000, {0, world}, {}});
      CHECK(other.global_plan(0) != ranks[0]->global_plan(0));
    }
  }
  CHECK(checked_batches > 2000);
  CHECK(fill_heavy > 0);  // some configurations needed many fill chunks
}

TEST_CASE("class_balanced: restore mid-epoch gives the same remaining batches",
          "[samplers][class_balanced][state]") {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    wtp::Rng rng(wtp::mix_seed(seed, 777));
    ClassBalancedOptions o;
    o.classes_per_batch = rng.integer(2, 5);
    o.images_per_class = rng.integer(2, 4);
    o.small_class = SmallClassPolicy::kRepeat;
    const int64_t world = rng.integer(1, 2);
    const int64_t rank = world - 1;
    const auto labels = random_labels(rng, 15, 25);
    ClassBalancedSampler a(o, SamplerInput{labels, seed, {rank, world}, {}});
    const int64_t epoch = rng.integer(0, 5);
    a.set_epoch(epoch);
    const int64_t k = rng.integer(0, a.batches_per_epoch());
    for (int64_t i = 0; i < k; ++i) REQUIRE(a.next());
    const std::vector<int64_t> saved = a.state().to_vector();
    const auto rest = drain(a);
    REQUIRE(static_cast<int64_t>(rest.size()) == a.batches_per_epoch() - k);
    // a fresh sampler (as after a restart), currently elsewhere, restores from the vector
    ClassBalancedSampler b(o, SamplerInput{labels, seed, {rank, world}, {}});
    b.set_epoch(epoch + 1);
    b.next();
    b.restore(SamplerState::from_vector(saved));
    CHECK(b.state().epoch == epoch);
    CHECK(b.state().position == k);
    REQUIRE(drain(b) == rest);
    // and the next epoch continues identically
    a.set_epoch(epoch + 1);
    b.set_epoch(epoch + 1);
    REQUIRE(drain(a) == drain(b));
  }
}

TEST_CASE("class_balanced: the seed comes from the restored state",
          "[samplers][class_balanced][state]") {
  const std::vector<int64_t> labels = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4};
  ClassBalancedOptions o;
  o.classes_per_batch = 2;
  o.images_per_class = 2;
  ClassBalancedSampler a(o, SamplerInput{labels, 5, {}, {}});
  a.set_epoch(2);
  a.next();
  ClassBalancedSampler b(o, SamplerInput{labels, 6, {}, {}});  // config seed changed
  b.restore(a.state());
  CHECK(b.state().seed == 5);
  CHECK(drain(b) == drain(a));
}

TEST_CASE("class_balanced: restore refuses a different configuration",
          "[samplers][class_balanced][state]") {
  const std::vector<int64_t> labels = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};
  ClassBalancedOptions o;
  o.classes_per_batch = 2;
  o.images_per_class = 2;
  ClassBalancedSampler a(o, SamplerInput{labels, 1, {}, {}});
  const SamplerState state = a.state();
  auto other_labels = labels;
  other_labels.back() = 2;
  CHECK_THROWS_WITH(ClassBalancedSampler(o, SamplerInput{other_labels, 1, {}, {}}).restore(state),
                    Contains("different configuration"));
  ClassBalancedOptions o2 = o;
  o2.images_per_class = 3;
  CHECK_THROWS_AS(ClassBalancedSampler(o2, SamplerInput{labels, 1, {}, {}}).restore(state),
                  wtp::UsageError);
  CHECK_THROWS_AS(ClassBalancedSampler(o, SamplerInput{labels, 1, {1, 2}, {}}).restore(state),
                  wtp::UsageError);
  SamplerState far = state;
  far.position = 1000;
  CHECK_THROWS_WITH(ClassBalancedSampler(o, SamplerInput{labels, 1, {}, {}}).restore(far),
                    Contains("out of range"));
  CHECK_THROWS_WITH(SamplerState::from_vector({1, 2, 3}), Contains("5 values"));
  CHECK_THROWS_AS(SamplerState::from_vector({2, 0, 0, 0, 0}), wtp::UsageError);
  SamplerState s;
  s.epoch = 7;
  s.position = 3;
  s.seed = 0xfedcba9876543210ULL;  // does not fit int64: bit-cast round trip
  s.fingerprint = 42;
  const auto back = SamplerState::from_vector(s.to_vector());
  CHECK(back.seed == s.seed);
  CHECK(back.epoch == 7);
  CHECK(back.position == 3);
  CHECK(back.fingerprint == 42);
}

TEST_CASE("class_balanced: small-class policies on a hand-made case",
          "[samplers][class_balanced]") {
  // class sizes: A = 1, B = 2, C = 5, D = 7; m = 3, n = 2
  std::vector<int64_t> labels;
  for (auto [label, size] :
       std::vector<std::pair<int64_t, int64_t>>{{10, 1}, {20, 2}, {30, 5}, {40, 7}})
    for (int64_t j = 0; j < size; ++j) labels.push_back(label);
  ClassBalancedOptions o;
  o.classes_per_batch = 2;
  o.images_per_class = 3;
  // skip: C -> 2 chunks, D -> 3 chunks: Q = 5, B = max(ceil(5 / 2), 3) = 3
  {
    ClassBalancedSampler s(o, SamplerInput{labels, 9, {}, {}});
    CHECK(s.batches_per_epoch() == 3);
    CHECK(s.usable_classes() == 2);
    CHECK(s.usable_images() == 12);
    for (const auto& b : drain(s))
      for (int64_t i : b.indices) CHECK(labels[i] >= 30);
  }
  // repeat: A -> 1, B -> 1, C -> 2, D -> 3: Q = 7, B = max(ceil(7 / 2), 3) = 4
  {
    o.small_class = SmallClassPolicy::kRepeat;
    ClassBalancedSampler s(o, SamplerInput{labels, 9, {}, {}});
    CHECK(s.batches_per_epoch() == 4);
    CHECK(s.usable_images() == 15);
    std::set<int64_t> seen;
    for (const auto& b : drain(s)) {
      seen.insert(b.indices.begin(), b.indices.end());
      for (int64_t block = 0; block < 2; ++block) {
        const int64_t first = b.indices[block * 3];
        if (labels[first] == 10)  // the single image three times
          CHECK(std::count(b.indices.begin(), b.indices.end(), first) == 3);
        if (labels[first] == 20) {  // both images, one of them twice
          std::set<int64_t> two(b.indices.begin() + block * 3, b.indices.begin() + block * 3 + 3);
          CHECK(two == std::set<int64_t>{1, 2});
        }
      }
    }
    CHECK(seen.size() == 15);
  }
  // too few usable classes: the message says what to change
  o.small_class = SmallClassPolicy::kSkip;
  o.classes_per_batch = 3;
  CHECK_THROWS_WITH(ClassBalancedSampler(o, SamplerInput{labels, 9, {}, {}}),
                    Contains("2 classes are usable") && Contains("small_class: repeat"));
  o.images_per_class = 0;
  CHECK_THROWS_WITH(ClassBalancedSampler(o, SamplerInput{labels, 9, {}, {}}),
                    Contains("images_per_class must be >= 1"));
  ClassBalancedOptions ok;
  ok.classes_per_batch = 2;
  ok.images_per_class = 2;
  CHECK_THROWS_WITH(ClassBalancedSampler(ok, SamplerInput{labels, 9, {2, 2}, {}}),
                    Contains("rank must be in [0, 2)"));
}

TEST_CASE("class_balanced: LFW-like sizes, 24 x 2", "[samplers][class_balanced]") {
  // 5,749 identities, 4,069 with one image, one with 530 (as LFW); m = 2, skip.
  wtp::Rng rng(3);
  std::vector<int64_t> labels;
  int64_t id = 0;
  for (; id < 4069; ++id) labels.push_back(id);
  labels.insert(labels.end(), 530, id++);
  for (; id < 5749; ++id) {
    const int64_t size = 2 + static_cast<int64_t>(std::pow(rng.uniform(), 4) * 60);
    labels.insert(labels.end(), size, id);
  }
  ClassBalancedOptions o;
  o.classes_per_batch = 24;
  o.images_per_class = 2;
  ClassBalancedSampler s(o, SamplerInput{labels, 1, {}, {}});
  // The 530-image class needs 265 chunks, one per batch, so B >= 265.
  CHECK(s.batches_per_epoch() == expected_batches(labels, o, 1));
  CHECK(s.batches_per_epoch() >= 265);
  CHECK(s.usable_classes() == 5749 - 4069);
  const auto batches = drain(s);
  std::set<int64_t> seen;
  for (const auto& b : batches) seen.insert(b.indices.begin(), b.indices.end());
  CHECK(static_cast<int64_t>(seen.size()) == s.usable_images());
  CHECK(static_cast<int64_t>(batches.size()) == s.batches_per_epoch());
}
