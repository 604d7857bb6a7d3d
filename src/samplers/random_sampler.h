#pragma once
/// A seeded random permutation of all items per epoch, cut into batches (classification).
#include "core/error.h"
#include "samplers/sampler.h"

namespace wtp::samplers {

/// Options of the random sampler.
struct RandomOptions {
  int64_t batch_size = 32;  ///< items per batch
  bool drop_last = false;   ///< drop the last, incomplete batch of each epoch

  template <class V>
  void visit(V& v) {
    v("batch_size", batch_size, "items per batch");
    v("drop_last", drop_last, "drop the last, incomplete batch of each epoch");
  }
  void validate() const { require(batch_size >= 1, "random sampler: batch_size must be >= 1"); }
};

/// Epoch e is the permutation Rng(mix_seed(seed, epoch, tag)).shuffle(0..N-1) cut into
/// batches of batch_size (the last one shorter unless drop_last). G = ceil(N / batch_size)
/// (floor with drop_last); ranks are padded as described in sampler.h.
class RandomSampler : public PlannedSampler {
 public:
  RandomSampler(const RandomOptions& options, const SamplerInput& input);
  std::string name() const override { return "random"; }

 protected:
  std::vector<Batch> plan(int64_t epoch) const override;

 private:
  RandomOptions options_;
  int64_t items_;
};

/// Cuts `order` into batches of `batch_size` (the last one shorter unless `drop_last`).
std::vector<Batch> cut_batches(const std::vector<int64_t>& order, int64_t batch_size,
                               bool drop_last);
/// Number of batches cut_batches() makes from `items` items.
int64_t count_batches(int64_t items, int64_t batch_size, bool drop_last);

}  // namespace wtp::samplers
