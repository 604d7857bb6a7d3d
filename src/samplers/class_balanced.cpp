#include "samplers/class_balanced.h"

#include <algorithm>

#include "core/error.h"

namespace wtp::samplers {

namespace {
// Stream tags for mix_seed(seed, epoch, tag, ...).
constexpr uint64_t kTagPack = 1;
constexpr uint64_t kTagClass = 2;

// Moves `count` randomly chosen elements of `pool` to its end and returns them (partial
// Fisher-Yates), removing them from `pool`.
std::vector<int64_t> take_random(std::vector<int64_t>& pool, int64_t count, Rng& rng) {
  const int64_t size = static_cast<int64_t>(pool.size());
  for (int64_t j = 0; j < count; ++j) {
    const int64_t r = rng.integer(0, size - 1 - j);
    std::swap(pool[r], pool[size - 1 - j]);
  }
  std::vector<int64_t> taken(pool.end() - count, pool.end());
  pool.resize(size - count);
  return taken;
}
}  // namespace

void ClassBalancedOptions::validate() const {
  require(classes_per_batch >= 1, "class_balanced: classes_per_batch must be >= 1 (e.g. 16)");
  require(images_per_class >= 1, "class_balanced: images_per_class must be >= 1 (e.g. 4)");
}

ClassBalancedSampler::Layout ClassBalancedSampler::make_layout(const ClassBalancedOptions& options,
                                                               const SamplerInput& input) {
  options.validate();
  input.shard.validate();
  const int64_t n = options.classes_per_batch, m = options.images_per_class;
  Layout l{ClassIndex(input.labels), {}, {}, 0, 0, 0};
  int64_t total_chunks = 0, max_chunks = 0;
  for (size_t c = 0; c < l.classes.members.size(); ++c) {
    const int64_t s = static_cast<int64_t>(l.classes.members[c].size());
    if (s < m && options.small_class == SmallClassPolicy::kSkip) continue;
    const int64_t q = s >= m ? (s + m - 1) / m : 1;
    l.usable.push_back(static_cast<int64_t>(c));
    l.chunks.push_back(q);
    l.usable_images += s;
    total_chunks += q;
    max_chunks = std::max(max_chunks, q);
  }
  const int64_t usable = static_cast<int64_t>(l.usable.size());
  require(
      usable >= n,
      "class_balanced: " + std::to_string(usable) + " classes are usable (of " +
          std::to_string(l.classes.members.size()) + ", " +
          (options.small_class == SmallClassPolicy::kSkip
               ? "those with at least " + std::to_string(m) + " images"
               : std::string("all")) +
          ") but classes_per_batch is " + std::to_string(n) +
          "; lower classes_per_batch or images_per_class" +
          (options.small_class == SmallClassPolicy::kSkip ? ", or set small_class: repeat" : ""));
  const int64_t R = input.shard.world_size;
  const int64_t batches = std::max((total_chunks + n - 1) / n, max_chunks);
  l.batches = (batches + R - 1) / R * R;
  l.fingerprint = Fingerprint()
                      .add("class_balanced")
                      .add(input.labels)
                      .add(static_cast<uint64_t>(n))
                      .add(static_cast<uint64_t>(m))
                      .add(static_cast<uint64_t>(options.small_class))
                      .value();
  return l;
}

ClassBalancedSampler::ClassBalancedSampler(const ClassBalancedOptions& options,
                                           const SamplerInput& input)
    : ClassBalancedSampler(options, input, make_layout(options, input)) {}

ClassBalancedSampler::ClassBalancedSampler(const ClassBalancedOptions& options,
                                           const SamplerInput& input, Layout layout)
    : PlannedSampler(input.seed, input.shard, layout.fingerprint, layout.batches),
      options_(options),
      classes_(std::move(layout.classes)),
      usable_(std::move(layout.usable)),
      chunks_(std::move(layout.chunks)),
      usable_images_(layout.usable_images) {}

std::vector<int64_t> ClassBalancedSampler::extra_chunk(int64_t cls, Rng& rng) const {
  const int64_t m = options_.images_per_class;
  std::vector<int64_t> pool = classes_.members[cls];
  const int64_t s = static_cast<int64_t>(pool.size());
  if (s >= m) return take_random(pool, m, rng);
  rng.shuffle(pool);
  std::vector<int64_t> chunk;
  for (int64_t j = 0; j < m; ++j) chunk.push_back(pool[j % s]);
  return chunk;
}

std::vector<Batch> ClassBalancedSampler::plan(int64_t epoch) const {
  const int64_t n = options_.classes_per_batch, m = options_.images_per_class;
  const int64_t B = global_batches();
  const int64_t usable = static_cast<int64_t>(usable_.size());
  Rng rng(mix_seed(seed(), static_cast<uint64_t>(epoch), kTagPack));

  // chunks_in[b]: the chunks of batch b; classes_in[b]: their usable-class ids.
  std::vector<std::vector<std::vector<int64_t>>> chunks_in(B);
  std::vector<std::vector<int64_t>> classes_in(B);

  // Batches with the lowest load (L chunks) and with L + 1 chunks.
  std::vector<int64_t> low(B), high;
  for (int64_t b = 0; b < B; ++b) low[b] = b;

  std::vector<int64_t> order(usable);
  for (int64_t u = 0; u < usable; ++u) order[u] = u;
  rng.shuffle(order);

  for (int64_t u : order) {
    const int64_t cls = usable_[u];
    const int64_t q = chunks_[u];
    // 1. the class's chunks
    Rng class_rng(
        mix_seed(seed(), static_cast<uint64_t>(epoch), kTagClass, static_cast<uint64_t>(cls)));
    std::vector<int64_t> images = classes_.members[cls];
    class_rng.shuffle(images);
    const int64_t s = static_cast<int64_t>(images.size());
    std::vector<std::vector<int64_t>> chunks;
    if (s >= m) {
      for (int64_t t = 0; t < q; ++t) {
        const int64_t begin = t * m, end = std::min(begin + m, s);
        std::vector<int64_t> chunk(images.begin() + begin, images.begin() + end);
        if (end - begin < m) {  // complete with distinct earlier images of the class
          std::vector<int64_t> earlier(images.begin(), images.begin() + begin);
          for (int64_t v : take_random(earlier, m - (end - begin), class_rng)) chunk.push_back(v);
        }
        chunks.push_back(std::move(chunk));
      }
    } else {
      std::vector<int64_t> chunk;
      for (int64_t j = 0; j < m; ++j) chunk.push_back(images[j % s]);
      chunks.push_back(std::move(chunk));
    }
    // 2. the q least-loaded batches, ties at random
    std::vector<int64_t> chosen;
    if (q <= static_cast<int64_t>(low.size())) {
      chosen = take_random(low, q, rng);
      high.insert(high.end(), chosen.begin(), chosen.end());
    } else {
      const int64_t from_high = q - static_cast<int64_t>(low.size());
      std::vector<int64_t> picked = take_random(high, from_high, rng);
      chosen = low;
      chosen.insert(chosen.end(), picked.begin(), picked.end());
      // old low batches and the unpicked high ones now share the lowest load
      low.insert(low.end(), high.begin(), high.end());
      high = std::move(picked);
    }
    if (low.empty()) low.swap(high);
    for (int64_t t = 0; t < q; ++t) {
      chunks_in[chosen[t]].push_back(std::move(chunks[t]));
      classes_in[chosen[t]].push_back(u);
    }
  }

  // 3. fill, shuffle, flatten
  std::vector<Batch> batches(B);
  for (int64_t b = 0; b < B; ++b) {
    while (static_cast<int64_t>(chunks_in[b].size()) < n) {
      int64_t u = rng.integer(0, usable - 1);
      while (std::find(classes_in[b].begin(), classes_in[b].end(), u) != classes_in[b].end())
        u = rng.integer(0, usable - 1);
      chunks_in[b].push_back(extra_chunk(usable_[u], rng));
      classes_in[b].push_back(u);
    }
    rng.shuffle(chunks_in[b]);
    batches[b].indices.reserve(n * m);
    for (const auto& chunk : chunks_in[b])
      batches[b].indices.insert(batches[b].indices.end(), chunk.begin(), chunk.end());
  }
  rng.shuffle(batches);
  return batches;
}

}  // namespace wtp::samplers
