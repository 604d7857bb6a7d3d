#pragma once
/// The multi-threaded batch loader: worker threads decode and transform the items of the
/// index batches a sampler produces, writing each image straight into its row of one
/// contiguous [B, 3, H, W] float tensor.
///
/// Determinism: batches come out in the order the source gives them, rows in the order of
/// each index batch, and item `index` at row `slot` of batch `number` is transformed with
/// `Rng(mix_seed(mix_seed(seed, epoch), number, slot, index))`; so the tensors are
/// identical for any number of workers and any prefetch depth.
///
/// Prefetch: at most `prefetch` batches are in flight (being decoded or ready). The source
/// is only ever called from the consumer's thread (inside the constructor and next()), so
/// a sampler needs no locking.
///
/// Errors: an exception while loading an item (a missing or corrupt image under the fail
/// policy, a pipeline producing the wrong size, ...) is re-thrown by next() when the batch
/// holding that item is due, with the image path in the message; the loader is then
/// stopped. Corrupt images under the skip policy: the item is left out and counted, so that
/// batch comes out *smaller* (rows, labels and indices shrink alike; the other rows keep
/// their order); a batch whose items are all skipped is dropped. Callers that need a fixed
/// batch shape (e.g. n x m sampling) should check `Batch::skipped` or run with `fail`.
///
/// Memory: the image tensors of returned batches are recycled once the consumer drops them
/// (a small pool of at most prefetch + 2 buffers, which may outlive the loader until the
/// last batch tensor is gone), so fresh pages are not faulted in for every batch.
///
/// Shutdown: destroying the loader (or stop()) at any time discards pending work, wakes and
/// joins the workers; it never deadlocks, whether the consumer stopped early or a worker
/// failed.
///
///     LoaderOptions options;
///     options.workers = 2;
///     BatchLoader loader(dataset, pipeline, batches_from(sampler), options);
///     while (auto batch = loader.next()) train_step(batch->images, batch->labels);
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <torch/torch.h>
#include <type_traits>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace wtp::data {

using IndexBatch = std::vector<std::int64_t>;
/// Produces the next batch of dataset indices, or nullopt when the epoch is over.
using BatchSource = std::function<std::optional<IndexBatch>()>;

namespace detail {
template <class T, class = void>
struct has_indices : std::false_type {};
template <class T>
struct has_indices<T, std::void_t<decltype(std::declval<const T&>().indices)>> : std::true_type {};
template <class T, class = void>
struct has_partners : std::false_type {};
template <class T>
struct has_partners<T, std::void_t<decltype(std::declval<const T&>().partners)>> : std::true_type {
};
}  // namespace detail

/// Adapts a sampler to a BatchSource: any object whose `next()` returns an optional of
/// either a vector of indices, or a batch struct with `indices` (the samplers of
/// src/samplers, `wtp::samplers::Batch`). For pair batches (a non-empty `partners`), the
/// loader batch holds the first items then their partners: rows [0, B) are `indices`,
/// rows [B, 2B) are `partners`, so pair i is (row i, row B + i) and its pair label is
/// `labels[i] != labels[B + i]`. The sampler must outlive the source.
///
///     auto sampler = sampler_registry().create(component, input);
///     BatchLoader loader(dataset, pipeline, batches_from(*sampler), options);
template <class Sampler>
BatchSource batches_from(Sampler& sampler) {
  return [&sampler]() -> std::optional<IndexBatch> {
    auto batch = sampler.next();
    if (!batch) return std::nullopt;
    using Value = std::decay_t<decltype(*batch)>;
    if constexpr (detail::has_indices<Value>::value) {
      IndexBatch out(batch->indices.begin(), batch->indices.end());
      if constexpr (detail::has_partners<Value>::value)
        out.insert(out.end(), batch->partners.begin(), batch->partners.end());
      return out;
    } else {
      return IndexBatch(batch->begin(), batch->end());
    }
  };
}
/// A source that yields the given batches once, in order.
BatchSource fixed_batches(std::vector<IndexBatch> batches);

struct LoaderOptions {
  int workers = 2;         ///< decoding threads; 0 = decode in the consumer's thread
  int prefetch = 4;        ///< batches in flight at most (>= 1)
  std::uint64_t seed = 0;  ///< augmentation seed
  std::int64_t epoch = 0;  ///< mixed into every item's seed
  /// Number of the source's first batch (a run resumed mid-epoch continues the numbering,
  /// so its items get the same augmentation as in an uninterrupted run).
  std::int64_t first_batch = 0;
  int height = 0;  ///< output height when the pipeline does not fix it
  int width = 0;   ///< output width when the pipeline does not fix it

  template <class V>
  void visit(V& v) {
    v("workers", workers, "decoding threads (0 = in the training thread)");
    v("prefetch", prefetch, "batches decoded ahead at most");
    v("seed", seed, "augmentation seed");
    v("epoch", epoch, "epoch number, mixed into every item's seed");
    v("first_batch", first_batch, "number of the first batch (resuming mid-epoch)");
    v("height", height, "output height when the transforms do not fix it");
    v("width", width, "output width when the transforms do not fix it");
  }
  void validate() const;
};

struct Batch {
  torch::Tensor images;               ///< [B, 3, H, W] float32, contiguous
  torch::Tensor labels;               ///< [B] int64, Item::label of each row
  std::vector<std::int64_t> indices;  ///< dataset index of each row
  std::int64_t number = 0;            ///< first_batch + 0-based position of the batch in the source
  std::int64_t skipped = 0;           ///< items of this batch left out (skip policy)
};

class BatchLoader {
 public:
  /// Starts the workers and requests the first `prefetch` batches from `source`. The
  /// output size is the pipeline's (or options.height x width; UsageError if neither).
  BatchLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Pipeline> pipeline,
              BatchSource source, LoaderOptions options = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// The next batch in source order; nullopt at the end (or after stop()). Re-throws a
  /// worker's error (see above). An index outside the dataset is a UsageError.
  std::optional<Batch> next();
  /// Discards pending work and joins the workers. Safe to call more than once and from
  /// another thread (a waiting next() then returns nullopt).
  void stop();

  /// Output size of every image.
  cv::Size image_size() const { return size_; }
  /// Items skipped so far (skip policy), and their paths.
  std::int64_t skipped() const;
  std::vector<std::string> skipped_files() const;

 private:
  struct Pending;
  class BufferPool;
  struct Task {
    std::shared_ptr<Pending> batch;
    std::size_t slot;
  };
  void top_up();
  void worker_loop();
  void load(Pending& batch, std::size_t slot);
  Batch finish(Pending& batch);

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Pipeline> pipeline_;
  BatchSource source_;
  LoaderOptions options_;
  cv::Size size_;
  std::uint64_t epoch_seed_ = 0;
  bool source_done_ = false;
  std::int64_t next_number_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Task> tasks_;
  std::deque<std::shared_ptr<Pending>> window_;
  bool stopping_ = false;
  std::int64_t skipped_ = 0;
  std::vector<std::string> skipped_files_;
  std::vector<std::thread> workers_;
  std::once_flag joined_;
  std::shared_ptr<BufferPool> pool_;
};

}  // namespace wtp::data
