#pragma once
/// Helpers for the sampler tests.
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "samplers/sampler.h"

namespace wtp::samplers::test {

/// Every remaining batch of the current epoch.
inline std::vector<Batch> drain(Sampler& sampler) {
  std::vector<Batch> out;
  while (auto batch = sampler.next()) out.push_back(std::move(*batch));
  return out;
}

/// Labels of `classes` classes with sizes drawn from a skewed distribution (many small
/// classes, a few large ones, like LFW), in shuffled item order, with sparse label values.
inline std::vector<int64_t> random_labels(Rng& rng, int64_t classes, int64_t max_size) {
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < classes; ++c) {
    const double u = rng.uniform();
    const int64_t size = 1 + static_cast<int64_t>(u * u * u * static_cast<double>(max_size));
    for (int64_t j = 0; j < size; ++j) labels.push_back(1000 + 7 * c);
  }
  rng.shuffle(labels);
  return labels;
}

}  // namespace wtp::samplers::test
