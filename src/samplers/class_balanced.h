#pragma once
/// The n x m class-balanced sampler for metric learning (Group Loss and friends).
///
/// Every batch holds n *distinct* classes with m images each, as n blocks of m consecutive
/// indices (so "the first k samples of each class" are the first k of each block). An
/// epoch is built in three steps, all drawn from mix_seed(seed, epoch, ...):
///  1. Chunks. A usable class with s >= m images is shuffled and cut into q = ceil(s / m)
///     chunks of m images; a short last chunk (r < m images) is completed with m - r other,
///     randomly chosen images of the same class, so no chunk repeats an image. Under
///     `small_class: repeat`, a class with 0 < s < m images is one chunk holding all its
///     images and m - s repeats (cycling through its shuffled images); under `skip` (the
///     default) such classes are not used.
///  2. Packing. The epoch has B = max(ceil(Q / n), q_max) batches, rounded up to a multiple
///     of the world size R, where Q is the total number of chunks and q_max the largest q.
///     Classes are taken in random order, and the q chunks of a class go to the q batches
///     holding the fewest chunks so far (ties broken at random). Loads then never differ
///     by more than one, so every batch ends with at most ceil(Q / B) <= n chunks and no
///     class twice (q <= B distinct batches).
///  3. Filling. A batch with fewer than n chunks is completed with extra chunks (m random
///     distinct images) of random usable classes not yet in it. Chunk order within a batch
///     and the order of the batches are shuffled.
/// Hence: every usable image is in at least one batch per epoch, no batch repeats an image
/// of a class with >= m images, every batch has exactly n * m indices, and the epoch length
/// B depends only on the class sizes, n, m, the policy and R (not on the seed or epoch).
/// With R > 1, rank r takes batches r, r + R, ... (disjoint, B / R each).
#include "core/random.h"
#include "samplers/sampler.h"

namespace wtp::samplers {

/// What to do with classes that have fewer than m images.
enum class SmallClassPolicy { kSkip, kRepeat };
WTP_ENUM_NAMES(SmallClassPolicy, {SmallClassPolicy::kSkip, "skip"},
               {SmallClassPolicy::kRepeat, "repeat"})

/// Options of the class-balanced sampler.
struct ClassBalancedOptions {
  int64_t classes_per_batch = 16;  ///< n: distinct classes per batch
  /// m: images per class per batch. Group Loss needs m > labelled_per_class (default 2).
  int64_t images_per_class = 4;
  /// Classes with fewer than m images: skip them, or repeat their images to fill m.
  SmallClassPolicy small_class = SmallClassPolicy::kSkip;

  template <class V>
  void visit(V& v) {
    v("classes_per_batch", classes_per_batch, "n: distinct classes per batch");
    v("images_per_class", images_per_class, "m: images per class per batch");
    v("small_class", small_class, "classes with fewer than m images: skip or repeat");
  }
  void validate() const;
};

/// See the file comment.
class ClassBalancedSampler : public PlannedSampler {
 public:
  /// Throws UsageError when fewer than n classes are usable.
  ClassBalancedSampler(const ClassBalancedOptions& options, const SamplerInput& input);
  std::string name() const override { return "class_balanced"; }
  const ClassBalancedOptions& options() const { return options_; }
  /// Number of images that each epoch visits at least once.
  int64_t usable_images() const { return usable_images_; }
  /// Number of classes that take part.
  int64_t usable_classes() const { return static_cast<int64_t>(usable_.size()); }

 protected:
  std::vector<Batch> plan(int64_t epoch) const override;

 private:
  struct Layout {
    ClassIndex classes;
    std::vector<int64_t> usable;  ///< class indices (into classes) taking part
    std::vector<int64_t> chunks;  ///< chunks[u]: chunks of class usable[u] per epoch
    int64_t usable_images = 0;
    int64_t batches = 0;  ///< B
    uint64_t fingerprint = 0;
  };
  static Layout make_layout(const ClassBalancedOptions& options, const SamplerInput& input);
  ClassBalancedSampler(const ClassBalancedOptions& options, const SamplerInput& input,
                       Layout layout);
  /// m images of class `cls` (distinct when it has >= m images).
  std::vector<int64_t> extra_chunk(int64_t cls, Rng& rng) const;

  ClassBalancedOptions options_;
  ClassIndex classes_;
  std::vector<int64_t> usable_;
  std::vector<int64_t> chunks_;
  int64_t usable_images_ = 0;
};

}  // namespace wtp::samplers
