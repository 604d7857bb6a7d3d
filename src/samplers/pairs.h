#pragma once
/// Pairs for Siamese training and pair evaluation: balanced same/different pairs drawn
/// anew every epoch, or a fixed pair list (a protocol file mapped to item indices).
///
/// `source: random` (default). An epoch has G = ceil(P / batch_size) batches, rounded up to
/// a multiple of the world size, with P = pairs_per_epoch (0 = twice the number of items
/// in classes with >= 2 items). Every batch has exactly batch_size / 2 "same" and
/// batch_size / 2 "different" pairs, in random order. Same pairs: the first items run
/// through a random permutation of the items of classes with >= 2 items (reshuffled
/// whenever it is used up), each paired with a random *other* item of its class.
/// Different pairs: the first items run through a random permutation of all items, each
/// paired with a uniformly random item of another class. All from mix_seed(seed, epoch).
/// (The old loaders never shuffled and served all same pairs before all different ones.)
///
/// `source: fixed`. The pairs of SamplerInput::fixed_pairs, labelled from the items'
/// classes. With `shuffle` (default), each epoch reorders them at random while keeping the
/// same/different proportion in every stretch of the list (the two kinds are shuffled
/// separately and interleaved evenly, then each batch is shuffled); without it the list
/// order is kept (evaluation). G = ceil(F / batch_size) (floor with drop_last); ranks are
/// padded as described in sampler.h.
#include "core/error.h"
#include "samplers/sampler.h"

namespace wtp::samplers {

enum class PairSource { kRandom, kFixed };
WTP_ENUM_NAMES(PairSource, {PairSource::kRandom, "random"}, {PairSource::kFixed, "fixed"})

/// Options of the pairs sampler.
struct PairsOptions {
  int64_t batch_size = 32;                  ///< pairs per batch (even for source: random)
  PairSource source = PairSource::kRandom;  ///< random pairs each epoch, or the fixed list
  /// random: pairs per epoch; 0 = twice the number of items in classes with >= 2 items.
  int64_t pairs_per_epoch = 0;
  bool shuffle = true;     ///< fixed: reorder the list every epoch (stratified)
  bool drop_last = false;  ///< fixed: drop the last, incomplete batch

  template <class V>
  void visit(V& v) {
    v("batch_size", batch_size, "pairs per batch (even for source: random)");
    v("source", source, "random: new balanced pairs each epoch; fixed: the given pair list");
    v("pairs_per_epoch", pairs_per_epoch, "random: pairs per epoch (0 = 2 x pairable items)");
    v("shuffle", shuffle, "fixed: reorder the list every epoch");
    v("drop_last", drop_last, "fixed: drop the last, incomplete batch");
  }
  void validate() const;
};

/// See the file comment. Batches carry `partners` and `pair_labels` (1 = different).
class PairsSampler : public PlannedSampler {
 public:
  /// Throws UsageError when no pair can be formed (random: fewer than 2 classes or no class
  /// with 2 items; fixed: empty list or an index out of range).
  PairsSampler(const PairsOptions& options, const SamplerInput& input);
  std::string name() const override { return "pairs"; }

 protected:
  std::vector<Batch> plan(int64_t epoch) const override;

 private:
  struct Layout {
    int64_t batches = 0;
    uint64_t fingerprint = 0;
  };
  static Layout make_layout(const PairsOptions& options, const SamplerInput& input);
  PairsSampler(const PairsOptions& options, const SamplerInput& input, Layout layout);
  std::vector<Batch> plan_random(int64_t epoch) const;
  std::vector<Batch> plan_fixed(int64_t epoch) const;

  PairsOptions options_;
  std::vector<int64_t> labels_;
  ClassIndex classes_;
  std::vector<IndexPair> fixed_;
  std::vector<int64_t> pairable_;           ///< items of classes with >= 2 items
  std::vector<int64_t> by_class_;           ///< all items, grouped by class
  std::vector<int64_t> class_start_;        ///< offset of class c in by_class_
  std::vector<int64_t> position_in_class_;  ///< index of each item within its class
};

}  // namespace wtp::samplers
