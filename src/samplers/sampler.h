#pragma once
/// Samplers decide which items go into each batch. They see only per-item class labels,
/// never the dataset, and every choice is a function of (seed, epoch): the same seed and
/// configuration give the same batches on every machine and thread count.
///
/// Contract shared by every sampler (LibTorch-like: a small `next()` loop):
///
///     auto sampler = sampler_registry().create(component, input);
///     for (int64_t epoch = start; epoch < epochs; ++epoch) {
///       sampler->set_epoch(epoch);                    // position 0 of `epoch`
///       while (auto batch = sampler->next()) { ... }  // exactly batches_per_epoch() batches
///     }
///
/// Sharding: with `Shard{rank, world_size}`, an epoch is one global list of G batches and
/// rank r takes the global batches r, r + R, r + 2R, ... Every rank gets the same number of
/// batches, ceil(G / R). class_balanced and random-source pairs choose G as a multiple of R
/// (so the ranks' batches are disjoint and together are the whole epoch); the other samplers
/// pad the last round with the first batches of the epoch again (as torch's
/// DistributedSampler does), which repeats at most R - 1 batches.
///
/// Checkpoints: state() is {epoch, position, seed, fingerprint}; to_vector() gives 5 int64
/// values that the trainer stores as an int64 tensor next to the model weights (e.g. under
/// "sampler_state"). After loading, restore(SamplerState::from_vector(v)) continues with the
/// batch that would have come next. The fingerprint identifies the labels, options and shard,
/// so restoring into a different configuration is refused instead of silently diverging.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"

namespace wtp::samplers {

/// One batch of item indices (indices into the label vector the sampler was built on).
struct Batch {
  /// The items; for pair batches, the first item of each pair.
  std::vector<int64_t> indices;
  /// Pair batches only: the second item of each pair (same length as `indices`).
  std::vector<int64_t> partners;
  /// Pair batches only: 1 when the two items have different class labels, 0 when the same.
  std::vector<int64_t> pair_labels;

  bool is_pairs() const { return !partners.empty(); }
  bool operator==(const Batch& other) const {
    return indices == other.indices && partners == other.partners &&
           pair_labels == other.pair_labels;
  }
  bool operator!=(const Batch& other) const { return !(*this == other); }
};

/// This process's part of a distributed run.
struct Shard {
  int64_t rank = 0;        ///< 0 <= rank < world_size
  int64_t world_size = 1;  ///< number of processes sharing each epoch
  /// Throws UsageError unless 0 <= rank < world_size.
  void validate() const;
};

/// Two item indices forming a pair (e.g. a line of the LFW protocol, mapped to indices by
/// the dataset code).
struct IndexPair {
  int64_t first = 0;
  int64_t second = 0;
};

/// What a sampler is built on.
struct SamplerInput {
  /// Class label of every item (any integers, e.g. identity ids); the dataset size is
  /// labels.size().
  std::vector<int64_t> labels;
  /// Seed of the run; epochs draw independent streams mix_seed(seed, epoch, ...).
  uint64_t seed = 0;
  Shard shard;
  /// Pairs sampler with `source: fixed`: the pair list, in protocol order.
  std::vector<IndexPair> fixed_pairs;
};

/// Where a sampler is: enough to continue exactly where it stopped.
struct SamplerState {
  static constexpr int64_t kVersion = 1;
  int64_t epoch = 0;         ///< current epoch
  int64_t position = 0;      ///< batches of `epoch` already returned on this rank
  uint64_t seed = 0;         ///< the seed the epochs are drawn from
  uint64_t fingerprint = 0;  ///< identifies labels, options and shard

  /// {kVersion, epoch, position, seed, fingerprint} (the last two bit-cast to int64).
  std::vector<int64_t> to_vector() const;
  /// Inverse of to_vector(); throws UsageError on a wrong size or version.
  static SamplerState from_vector(const std::vector<int64_t>& values);
};

/// The interface of every sampler.
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The registry name ("class_balanced", ...).
  virtual std::string name() const = 0;
  /// Batches that next() returns per epoch on this rank; the same for every epoch and
  /// every rank, known before iterating.
  virtual int64_t batches_per_epoch() const = 0;
  /// Starts `epoch` (>= 0) from its first batch.
  virtual void set_epoch(int64_t epoch) = 0;
  /// The next batch of the current epoch, or nullopt after batches_per_epoch() batches.
  /// Without set_epoch(), iterates epoch 0.
  virtual std::optional<Batch> next() = 0;
  virtual SamplerState state() const = 0;
  /// Continues from `state` (from state() of a sampler with the same labels, options and
  /// shard). Throws UsageError when the fingerprint differs or the position is out of range.
  virtual void restore(const SamplerState& state) = 0;
};

/// Base of the samplers here: a subclass describes one epoch as a global list of batches
/// (plan()); this class handles epochs, positions, sharding and state.
class PlannedSampler : public Sampler {
 public:
  int64_t batches_per_epoch() const override;
  void set_epoch(int64_t epoch) override;
  std::optional<Batch> next() override;
  SamplerState state() const override;
  void restore(const SamplerState& state) override;

  /// All G global batches of `epoch`, before sharding: rank r's batches are entries r,
  /// r + R, ... (wrapping). For inspection and tests; does not change the position.
  std::vector<Batch> global_plan(int64_t epoch) const { return plan(epoch); }
  /// G, the number of global batches of every epoch (before sharding).
  int64_t global_batches() const { return global_batches_; }
  const Shard& shard() const { return shard_; }
  uint64_t seed() const { return seed_; }

 protected:
  /// `fingerprint` must identify the labels and options (not the seed; the shard is added
  /// here). `global_batches` = G.
  PlannedSampler(uint64_t seed, Shard shard, uint64_t fingerprint, int64_t global_batches);
  /// The G global batches of `epoch`, a pure function of (seed(), epoch).
  virtual std::vector<Batch> plan(int64_t epoch) const = 0;

 private:
  uint64_t seed_;
  Shard shard_;
  uint64_t fingerprint_;
  int64_t global_batches_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<Batch> plan_;
  bool planned_ = false;
};

/// Accumulates values into a 64-bit fingerprint (SplitMix chain via mix_seed).
class Fingerprint {
 public:
  Fingerprint& add(uint64_t value);
  Fingerprint& add(const std::string& text);
  Fingerprint& add(const std::vector<int64_t>& values);
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0x77747073616d706cULL;
};

/// Items grouped by class label: classes in increasing label order, each with its items in
/// increasing index order.
struct ClassIndex {
  std::vector<int64_t> class_labels;          ///< the distinct labels, sorted
  std::vector<std::vector<int64_t>> members;  ///< members[c]: items with label class_labels[c]
  std::vector<int64_t> class_of;              ///< class_of[item] = c
  explicit ClassIndex(const std::vector<int64_t>& labels);
};

/// The round-robin shard of a global list: the global index of local batch `local`
/// (0 <= local < ceil(G / R)), wrapping to the start of the epoch past G.
int64_t shard_batch_index(int64_t local, const Shard& shard, int64_t global_batches);

using SamplerRegistry = Registry<std::unique_ptr<Sampler>, const SamplerInput&>;

/// The samplers: class_balanced, pairs, random and sequential.
const SamplerRegistry& sampler_registry();

}  // namespace wtp::samplers
