#pragma once
/// The training batches of one epoch, complete: a sampler's index batches decoded by a
/// data::BatchLoader, each with its targets (class labels, or pair labels for pair batches)
/// and the sampler's state after it (what a checkpoint taken after this batch resumes from).
///
///     sampler->set_epoch(epoch);
///     BatchStream stream(dataset, pipeline, *sampler, targets, batches, loader_options);
///     while (auto batch = stream.next()) step(batch->images, batch->targets);
///
/// Pair batches hold the P first items, then their P partners: 2P images, P targets.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <torch/torch.h>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "samplers/sampler.h"

namespace wtp::train {

struct TrainBatch {
  torch::Tensor images;               ///< [B, 3, H, W] float32 (pairs: firsts, then partners)
  torch::Tensor targets;              ///< int64: targets[index] per image, or pair labels
  bool pairs = false;                 ///< a pair batch (targets are the pair labels)
  std::vector<std::int64_t> indices;  ///< dataset indices (pairs: the first items)
  samplers::SamplerState after;       ///< the sampler's state after this batch
};

class BatchStream {
 public:
  /// Draws at most `count` batches from `sampler` (its epoch set by the caller; it must
  /// outlive the stream). `targets` holds the training target of every dataset item.
  BatchStream(std::shared_ptr<const data::Dataset> dataset,
              std::shared_ptr<const data::Pipeline> pipeline, samplers::Sampler& sampler,
              const std::vector<std::int64_t>& targets, std::int64_t count,
              data::LoaderOptions options);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  /// The next batch; nullopt after `count` batches or when the sampler's epoch ends.
  /// Throws UsageError when the loader left out corrupt images (a training batch
  /// must be whole: its targets and pair partners are positional).
  std::optional<TrainBatch> next();
  /// Stops the loader's workers early (the remaining batches are dropped).
  void stop();

 private:
  struct Drawn {
    samplers::Batch batch;
    samplers::SamplerState after;
  };
  samplers::Sampler& sampler_;
  const std::vector<std::int64_t>& targets_;
  std::int64_t to_draw_;
  std::deque<Drawn> drawn_;  ///< drawn from the sampler, not yet returned by next()
  std::unique_ptr<data::BatchLoader> loader_;
};

}  // namespace wtp::train
