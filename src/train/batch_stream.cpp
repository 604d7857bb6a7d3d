#include "train/batch_stream.h"

#include <string>

#include "core/error.h"

namespace wtp::train {

BatchStream::BatchStream(std::shared_ptr<const data::Dataset> dataset,
                         std::shared_ptr<const data::Pipeline> pipeline, samplers::Sampler& sampler,
                         const std::vector<std::int64_t>& targets, std::int64_t count,
                         data::LoaderOptions options)
    : sampler_(sampler), targets_(targets), to_draw_(count) {
  // The loader asks for index batches ahead of next(); each is remembered with its sampler
  // state until next() hands it out.
  data::BatchSource source = [this]() -> std::optional<data::IndexBatch> {
    if (to_draw_ <= 0) return std::nullopt;
    auto b = sampler_.next();
    if (!b) return std::nullopt;
    --to_draw_;
    drawn_.push_back({*b, sampler_.state()});
    data::IndexBatch indices = b->indices;
    indices.insert(indices.end(), b->partners.begin(), b->partners.end());
    return indices;
  };
  loader_ = std::make_unique<data::BatchLoader>(std::move(dataset), std::move(pipeline),
                                                std::move(source), options);
}

BatchStream::~BatchStream() = default;

std::optional<TrainBatch> BatchStream::next() {
  auto loaded = loader_->next();
  if (!loaded) return std::nullopt;
  Drawn d = std::move(drawn_.front());
  drawn_.pop_front();
  require(loaded->skipped == 0, "a training batch lost " + std::to_string(loaded->skipped) +
                                    " corrupt images; fix or remove them, or train with "
                                    "on_corrupt: fail to see which");
  TrainBatch out;
  out.images = loaded->images;
  out.pairs = d.batch.is_pairs();
  if (out.pairs) {
    out.targets = torch::tensor(d.batch.pair_labels);
  } else {
    std::vector<std::int64_t> targets;
    for (auto i : d.batch.indices) targets.push_back(targets_[static_cast<std::size_t>(i)]);
    out.targets = torch::tensor(targets);
  }
  out.indices = std::move(d.batch.indices);
  out.after = d.after;
  return out;
}

void BatchStream::stop() { loader_->stop(); }

}  // namespace wtp::train
