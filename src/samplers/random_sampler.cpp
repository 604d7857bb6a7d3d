#include "samplers/random_sampler.h"

#include "core/random.h"

namespace wtp::samplers {

namespace {
constexpr uint64_t kTagRandom = 3;
}

std::vector<Batch> cut_batches(const std::vector<int64_t>& order, int64_t batch_size,
                               bool drop_last) {
  const int64_t total = count_batches(static_cast<int64_t>(order.size()), batch_size, drop_last);
  std::vector<Batch> batches(total);
  for (int64_t b = 0; b < total; ++b) {
    const auto begin = order.begin() + b * batch_size;
    const auto end = order.begin() + std::min<int64_t>((b + 1) * batch_size, order.size());
    batches[b].indices.assign(begin, end);
  }
  return batches;
}

int64_t count_batches(int64_t items, int64_t batch_size, bool drop_last) {
  return drop_last ? items / batch_size : (items + batch_size - 1) / batch_size;
}

RandomSampler::RandomSampler(const RandomOptions& options, const SamplerInput& input)
    : PlannedSampler(input.seed, input.shard,
                     Fingerprint()
                         .add("random")
                         .add(input.labels.size())
                         .add(static_cast<uint64_t>(options.batch_size))
                         .add(options.drop_last ? 1 : 0)
                         .value(),
                     (options.validate(), count_batches(static_cast<int64_t>(input.labels.size()),
                                                        options.batch_size, options.drop_last))),
      options_(options),
      items_(static_cast<int64_t>(input.labels.size())) {}

std::vector<Batch> RandomSampler::plan(int64_t epoch) const {
  std::vector<int64_t> order(items_);
  for (int64_t i = 0; i < items_; ++i) order[i] = i;
  Rng rng(mix_seed(seed(), static_cast<uint64_t>(epoch), kTagRandom));
  rng.shuffle(order);
  return cut_batches(order, options_.batch_size, options_.drop_last);
}

}  // namespace wtp::samplers
