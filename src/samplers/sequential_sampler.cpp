#include "samplers/sequential_sampler.h"

#include "samplers/random_sampler.h"

namespace wtp::samplers {

SequentialSampler::SequentialSampler(const SequentialOptions& options, const SamplerInput& input)
    : PlannedSampler(input.seed, input.shard,
                     Fingerprint()
                         .add("sequential")
                         .add(input.labels.size())
                         .add(static_cast<uint64_t>(options.batch_size))
                         .add(options.drop_last ? 1 : 0)
                         .value(),
                     (options.validate(), count_batches(static_cast<int64_t>(input.labels.size()),
                                                        options.batch_size, options.drop_last))),
      options_(options),
      items_(static_cast<int64_t>(input.labels.size())) {}

std::vector<Batch> SequentialSampler::plan(int64_t /*epoch*/) const {
  std::vector<int64_t> order(items_);
  for (int64_t i = 0; i < items_; ++i) order[i] = i;
  return cut_batches(order, options_.batch_size, options_.drop_last);
}

}  // namespace wtp::samplers
