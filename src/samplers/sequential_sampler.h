#pragma once
/// All items in index order (evaluation, embedding extraction).
#include "core/error.h"
#include "samplers/sampler.h"

namespace wtp::samplers {

/// Options of the sequential sampler.
struct SequentialOptions {
  int64_t batch_size = 32;  ///< items per batch
  bool drop_last = false;   ///< drop the last, incomplete batch

  template <class V>
  void visit(V& v) {
    v("batch_size", batch_size, "items per batch");
    v("drop_last", drop_last, "drop the last, incomplete batch");
  }
  void validate() const { require(batch_size >= 1, "sequential sampler: batch_size must be >= 1"); }
};

/// Batches [0, b), [b, 2b), ... every epoch; the seed is ignored. With R > 1 ranks, rank r
/// takes batches r, r + R, ... and the last round is padded with the first batches (see
/// sampler.h): an evaluation over shards must drop the repeated items.
class SequentialSampler : public PlannedSampler {
 public:
  SequentialSampler(const SequentialOptions& options, const SamplerInput& input);
  std::string name() const override { return "sequential"; }

 protected:
  std::vector<Batch> plan(int64_t epoch) const override;

 private:
  SequentialOptions options_;
  int64_t items_;
};

}  // namespace wtp::samplers
