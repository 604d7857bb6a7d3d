#include "samplers/sampler.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/random.h"
#include "samplers/class_balanced.h"
#include "samplers/pairs.h"
#include "samplers/random_sampler.h"
#include "samplers/sequential_sampler.h"

namespace wtp::samplers {

namespace {
int64_t to_signed(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
uint64_t to_unsigned(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
}  // namespace

void Shard::validate() const {
  require(world_size >= 1,
          "sampler shard: world_size must be >= 1, got " + std::to_string(world_size));
  require(rank >= 0 && rank < world_size, "sampler shard: rank must be in [0, " +
                                              std::to_string(world_size) + "), got " +
                                              std::to_string(rank));
}

std::vector<int64_t> SamplerState::to_vector() const {
  return {kVersion, epoch, position, to_signed(seed), to_signed(fingerprint)};
}

SamplerState SamplerState::from_vector(const std::vector<int64_t>& values) {
  require(values.size() == 5 && values[0] == kVersion,
          "sampler state: expected 5 values starting with version " + std::to_string(kVersion) +
              " (got " + std::to_string(values.size()) +
              " values); the checkpoint was not written by this version of wtp");
  SamplerState s;
  s.epoch = values[1];
  s.position = values[2];
  s.seed = to_unsigned(values[3]);
  s.fingerprint = to_unsigned(values[4]);
  return s;
}

Fingerprint& Fingerprint::add(uint64_t value) {
  value_ = mix_seed(value_, value);
  return *this;
}

Fingerprint& Fingerprint::add(const std::string& text) {
  add(text.size());
  for (unsigned char ch : text) add(ch);
  return *this;
}

Fingerprint& Fingerprint::add(const std::vector<int64_t>& values) {
  add(values.size());
  for (int64_t v : values) add(to_unsigned(v));
  return *this;
}

ClassIndex::ClassIndex(const std::vector<int64_t>& labels) {
  std::map<int64_t, std::vector<int64_t>> groups;
  for (size_t i = 0; i < labels.size(); ++i) groups[labels[i]].push_back(static_cast<int64_t>(i));
  class_of.resize(labels.size());
  for (auto& [label, items] : groups) {
    for (int64_t item : items) class_of[item] = static_cast<int64_t>(class_labels.size());
    class_labels.push_back(label);
    members.push_back(std::move(items));
  }
}

int64_t shard_batch_index(int64_t local, const Shard& shard, int64_t global_batches) {
  return (local * shard.world_size + shard.rank) % global_batches;
}

// ---------------------------------------------------------------------------------------
// PlannedSampler
// ---------------------------------------------------------------------------------------

PlannedSampler::PlannedSampler(uint64_t seed, Shard shard, uint64_t fingerprint,
                               int64_t global_batches)
    : seed_(seed),
      shard_(shard),
      fingerprint_(Fingerprint().add(fingerprint).add(shard.rank).add(shard.world_size).value()),
      global_batches_(global_batches) {
  shard_.validate();
}

int64_t PlannedSampler::batches_per_epoch() const {
  return (global_batches_ + shard_.world_size - 1) / shard_.world_size;
}

void PlannedSampler::set_epoch(int64_t epoch) {
  require(epoch >= 0, "sampler: epoch must be >= 0, got " + std::to_string(epoch));
  if (epoch != epoch_) {
    planned_ = false;
    plan_.clear();
  }
  epoch_ = epoch;
  position_ = 0;
}

std::optional<Batch> PlannedSampler::next() {
  if (position_ >= batches_per_epoch()) return std::nullopt;
  if (!planned_) {
    plan_ = plan(epoch_);
    if (static_cast<int64_t>(plan_.size()) != global_batches_)
      throw std::logic_error("sampler: plan() returned " + std::to_string(plan_.size()) +
                             " batches instead of " + std::to_string(global_batches_));
    planned_ = true;
  }
  return plan_[shard_batch_index(position_++, shard_, global_batches_)];
}

SamplerState PlannedSampler::state() const {
  SamplerState s;
  s.epoch = epoch_;
  s.position = position_;
  s.seed = seed_;
  s.fingerprint = fingerprint_;
  return s;
}

void PlannedSampler::restore(const SamplerState& s) {
  require(s.fingerprint == fingerprint_,
          name() +
              " sampler: the saved state belongs to a different configuration (the labels, "
              "sampler options or rank/world size changed since the checkpoint); resume with "
              "the same dataset, sampler options and number of processes");
  require(s.epoch >= 0 && s.position >= 0 && s.position <= batches_per_epoch(),
          name() + " sampler: saved position " + std::to_string(s.position) + " of epoch " +
              std::to_string(s.epoch) + " is out of range (0.." +
              std::to_string(batches_per_epoch()) + ")");
  if (s.seed != seed_ || s.epoch != epoch_) {
    planned_ = false;
    plan_.clear();
  }
  seed_ = s.seed;
  epoch_ = s.epoch;
  position_ = s.position;
}

// ---------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------

namespace {

void register_builtin_samplers(SamplerRegistry& registry) {
  registry.add<ClassBalancedOptions>(
      "class_balanced", "n distinct classes x m images per batch, every usable image each epoch",
      [](const ClassBalancedOptions& o, const SamplerInput& in) -> std::unique_ptr<Sampler> {
        return std::make_unique<ClassBalancedSampler>(o, in);
      });
  registry.add<PairsOptions>(
      "pairs", "balanced same/different pairs, reshuffled each epoch, or a fixed pair list",
      [](const PairsOptions& o, const SamplerInput& in) -> std::unique_ptr<Sampler> {
        return std::make_unique<PairsSampler>(o, in);
      });
  registry.add<RandomOptions>(
      "random", "a seeded random permutation of all items per epoch",
      [](const RandomOptions& o, const SamplerInput& in) -> std::unique_ptr<Sampler> {
        return std::make_unique<RandomSampler>(o, in);
      });
  registry.add<SequentialOptions>(
      "sequential", "all items in index order (evaluation)",
      [](const SequentialOptions& o, const SamplerInput& in) -> std::unique_ptr<Sampler> {
        return std::make_unique<SequentialSampler>(o, in);
      });
}

}  // namespace

const SamplerRegistry& sampler_registry() {
  static const SamplerRegistry registry("sampler", register_builtin_samplers);
  return registry;
}

}  // namespace wtp::samplers
