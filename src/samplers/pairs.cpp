#include "samplers/pairs.h"

#include <algorithm>
#include <array>

#include "core/random.h"
#include "samplers/random_sampler.h"

namespace wtp::samplers {

namespace {
constexpr uint64_t kTagPairs = 4;

// Items of classes with >= 2 members.
int64_t count_pairable(const ClassIndex& classes) {
  int64_t count = 0;
  for (const auto& m : classes.members)
    if (m.size() >= 2) count += static_cast<int64_t>(m.size());
  return count;
}

// An endless stream of a permutation of `items`, reshuffled each time it runs out.
class Cycle {
 public:
  Cycle(const std::vector<int64_t>& items, Rng& rng)
      : items_(items), rng_(rng), pos_(items.size()) {}
  int64_t next() {
    if (pos_ == items_.size()) {
      rng_.shuffle(items_);
      pos_ = 0;
    }
    return items_[pos_++];
  }

 private:
  std::vector<int64_t> items_;
  Rng& rng_;
  size_t pos_;
};
}  // namespace

void PairsOptions::validate() const {
  require(batch_size >= 1, "pairs sampler: batch_size must be >= 1");
  require(source != PairSource::kRandom || batch_size % 2 == 0,
          "pairs sampler: batch_size must be even with source: random (half same, half "
          "different pairs), got " +
              std::to_string(batch_size));
  require(pairs_per_epoch >= 0, "pairs sampler: pairs_per_epoch must be >= 0 (0 = automatic)");
  if (source == PairSource::kFixed) {
    require(pairs_per_epoch == 0,
            "pairs sampler: pairs_per_epoch applies to source: random only (a fixed list is "
            "used whole); remove it");
  } else {
    require(shuffle && !drop_last,
            "pairs sampler: shuffle and drop_last apply to source: fixed only (random pairs are "
            "drawn anew every epoch and fill every batch); remove them");
  }
}

PairsSampler::Layout PairsSampler::make_layout(const PairsOptions& options,
                                               const SamplerInput& input) {
  options.validate();
  input.shard.validate();
  const ClassIndex classes(input.labels);
  const int64_t n = static_cast<int64_t>(input.labels.size());
  Fingerprint fp;
  fp.add("pairs").add(input.labels).add(static_cast<uint64_t>(options.batch_size));
  fp.add(static_cast<uint64_t>(options.source));
  Layout l;
  if (options.source == PairSource::kRandom) {
    const int64_t pairable = count_pairable(classes);
    require(classes.members.size() >= 2 && pairable > 0,
            "pairs sampler: random pairs need at least 2 classes and a class with at least 2 "
            "items; got " +
                std::to_string(classes.members.size()) + " classes and " +
                std::to_string(pairable) + " items in classes of 2 or more");
    const int64_t pairs = options.pairs_per_epoch > 0 ? options.pairs_per_epoch : 2 * pairable;
    const int64_t R = input.shard.world_size;
    const int64_t batches = (pairs + options.batch_size - 1) / options.batch_size;
    l.batches = (batches + R - 1) / R * R;
    fp.add(static_cast<uint64_t>(options.pairs_per_epoch));
  } else {
    require(!input.fixed_pairs.empty(),
            "pairs sampler: source: fixed needs a pair list (e.g. the LFW protocol pairs mapped "
            "to item indices); none was given");
    for (const auto& p : input.fixed_pairs) {
      require(p.first >= 0 && p.first < n && p.second >= 0 && p.second < n,
              "pairs sampler: fixed pair (" + std::to_string(p.first) + ", " +
                  std::to_string(p.second) + ") refers to an item outside [0, " +
                  std::to_string(n) + ")");
      fp.add(static_cast<uint64_t>(p.first)).add(static_cast<uint64_t>(p.second));
    }
    l.batches = count_batches(static_cast<int64_t>(input.fixed_pairs.size()), options.batch_size,
                              options.drop_last);
    fp.add(options.shuffle ? 1 : 0).add(options.drop_last ? 1 : 0);
  }
  l.fingerprint = fp.value();
  return l;
}

PairsSampler::PairsSampler(const PairsOptions& options, const SamplerInput& input)
    : PairsSampler(options, input, make_layout(options, input)) {}

PairsSampler::PairsSampler(const PairsOptions& options, const SamplerInput& input, Layout layout)
    : PlannedSampler(input.seed, input.shard, layout.fingerprint, layout.batches),
      options_(options),
      labels_(input.labels),
      classes_(input.labels),
      fixed_(input.fixed_pairs) {
  position_in_class_.resize(labels_.size());
  for (const auto& members : classes_.members) {
    class_start_.push_back(static_cast<int64_t>(by_class_.size()));
    for (size_t j = 0; j < members.size(); ++j) {
      position_in_class_[members[j]] = static_cast<int64_t>(j);
      by_class_.push_back(members[j]);
      if (members.size() >= 2) pairable_.push_back(members[j]);
    }
  }
}

std::vector<Batch> PairsSampler::plan(int64_t epoch) const {
  return options_.source == PairSource::kRandom ? plan_random(epoch) : plan_fixed(epoch);
}

std::vector<Batch> PairsSampler::plan_random(int64_t epoch) const {
  Rng rng(mix_seed(seed(), static_cast<uint64_t>(epoch), kTagPairs));
  std::vector<int64_t> all(labels_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  Cycle same_anchor(pairable_, rng), diff_anchor(all, rng);
  const int64_t total = static_cast<int64_t>(by_class_.size());
  const int64_t half = options_.batch_size / 2;

  std::vector<Batch> batches(global_batches());
  for (auto& batch : batches) {
    std::vector<std::array<int64_t, 3>> pairs;  // first, second, label
    for (int64_t j = 0; j < half; ++j) {
      const int64_t a = same_anchor.next();
      const auto& members = classes_.members[classes_.class_of[a]];
      int64_t r = rng.integer(0, static_cast<int64_t>(members.size()) - 2);
      if (r >= position_in_class_[a]) ++r;
      pairs.push_back({a, members[r], 0});
    }
    for (int64_t j = 0; j < half; ++j) {
      const int64_t a = diff_anchor.next();
      const int64_t c = classes_.class_of[a];
      const int64_t size = static_cast<int64_t>(classes_.members[c].size());
      int64_t r = rng.integer(0, total - size - 1);
      if (r >= class_start_[c]) r += size;
      pairs.push_back({a, by_class_[r], 1});
    }
    rng.shuffle(pairs);
    for (const auto& p : pairs) {
      batch.indices.push_back(p[0]);
      batch.partners.push_back(p[1]);
      batch.pair_labels.push_back(p[2]);
    }
  }
  return batches;
}

std::vector<Batch> PairsSampler::plan_fixed(int64_t epoch) const {
  std::vector<int64_t> order;  // indices into fixed_
  if (!options_.shuffle) {
    for (size_t i = 0; i < fixed_.size(); ++i) order.push_back(static_cast<int64_t>(i));
  } else {
    Rng rng(mix_seed(seed(), static_cast<uint64_t>(epoch), kTagPairs));
    std::vector<int64_t> same, different;
    for (size_t i = 0; i < fixed_.size(); ++i)
      (labels_[fixed_[i].first] == labels_[fixed_[i].second] ? same : different)
          .push_back(static_cast<int64_t>(i));
    rng.shuffle(same);
    rng.shuffle(different);
    // Even interleave: after t pairs, floor(t * S / F) of them are "same".
    const int64_t S = static_cast<int64_t>(same.size()), F = static_cast<int64_t>(fixed_.size());
    int64_t taken = 0;
    for (int64_t t = 0; t < F; ++t) {
      if ((t + 1) * S / F > taken)
        order.push_back(same[taken++]);
      else
        order.push_back(different[t - taken]);
    }
    // shuffle inside each batch so the pattern does not alternate
    for (int64_t b = 0; b * options_.batch_size < F; ++b) {
      const int64_t begin = b * options_.batch_size;
      const int64_t end = std::min(F, begin + options_.batch_size);
      for (int64_t i = end - begin; i > 1; --i)
        std::swap(order[begin + i - 1], order[begin + rng.integer(0, i - 1)]);
    }
  }
  std::vector<Batch> cut = cut_batches(order, options_.batch_size, options_.drop_last);
  for (auto& batch : cut) {
    std::vector<int64_t> ids = std::move(batch.indices);
    batch.indices.clear();
    for (int64_t id : ids) {
      const IndexPair& p = fixed_[id];
      batch.indices.push_back(p.first);
      batch.partners.push_back(p.second);
      batch.pair_labels.push_back(labels_[p.first] != labels_[p.second] ? 1 : 0);
    }
  }
  return cut;
}

}  // namespace wtp::samplers
