#include "data/loader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "data/image.h"

namespace wtp::data {

BatchSource fixed_batches(std::vector<IndexBatch> batches) {
  auto state =
      std::make_shared<std::pair<std::vector<IndexBatch>, std::size_t>>(std::move(batches), 0);
  return [state]() -> std::optional<IndexBatch> {
    if (state->second >= state->first.size()) return std::nullopt;
    return state->first[state->second++];
  };
}

void LoaderOptions::validate() const {
  require(workers >= 0, "loader: workers must be >= 0");
  require(prefetch >= 1, "loader: prefetch must be >= 1");
  require(first_batch >= 0, "loader: first_batch must be >= 0");
  require(height >= 0 && width >= 0, "loader: height and width must be >= 0");
  require((height == 0) == (width == 0), "loader: set both height and width, or neither");
}

// Recycles the float buffers behind batch tensors: a fresh 29 MB tensor per batch costs
// thousands of page faults; a buffer handed back by a tensor's deleter costs none.
class BatchLoader::BufferPool : public std::enable_shared_from_this<BatchLoader::BufferPool> {
 public:
  explicit BufferPool(std::size_t keep) : keep_(keep) {}
  ~BufferPool() {
    for (auto& [data, capacity] : free_) std::free(data);
  }

  /// A contiguous float tensor of `sizes` whose memory returns to the pool when freed.
  torch::Tensor tensor(const std::vector<std::int64_t>& sizes) {
    std::size_t count = 1;
    for (auto s : sizes) count *= static_cast<std::size_t>(s);
    float* data = nullptr;
    std::size_t capacity = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second >= count) {
          data = it->first;
          capacity = it->second;
          free_.erase(it);
          break;
        }
    }
    if (!data) {
      capacity = std::max<std::size_t>(count, 1);
      data = static_cast<float*>(std::malloc(capacity * sizeof(float)));
      if (!data) throw std::bad_alloc();
    }
    std::weak_ptr<BufferPool> pool = weak_from_this();
    return torch::from_blob(
        data, sizes,
        [pool, capacity](void* p) {
          if (auto alive = pool.lock())
            alive->give_back(static_cast<float*>(p), capacity);
          else
            std::free(p);
        },
        torch::kFloat32);
  }

 private:
  void give_back(float* data, std::size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() < keep_) {
      free_.emplace_back(data, capacity);
      return;
    }
    std::free(data);
  }

  std::size_t keep_;
  std::mutex mutex_;
  std::vector<std::pair<float*, std::size_t>> free_;
};

struct BatchLoader::Pending {
  std::int64_t number = 0;
  IndexBatch indices;
  torch::Tensor images;
  torch::Tensor labels;
  std::vector<char> kept;  // per slot: 1 loaded, 0 skipped
  std::size_t remaining = 0;
  std::exception_ptr error;
  std::size_t error_slot = 0;
};

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset,
                         std::shared_ptr<const Pipeline> pipeline, BatchSource source,
                         LoaderOptions options)
    : dataset_(std::move(dataset)),
      pipeline_(std::move(pipeline)),
      source_(std::move(source)),
      options_(options) {
  if (!dataset_ || !pipeline_ || !source_)
    throw std::invalid_argument("BatchLoader: dataset, pipeline and source are required");
  options_.validate();
  if (options_.height > 0) {
    size_ = cv::Size(options_.width, options_.height);
    if (auto fixed = pipeline_->output_size(); fixed && *fixed != size_)
      throw UsageError("loader: height x width " + std::to_string(options_.height) + "x" +
                       std::to_string(options_.width) + " differs from the transforms' output " +
                       std::to_string(fixed->height) + "x" + std::to_string(fixed->width));
  } else if (auto fixed = pipeline_->output_size()) {
    size_ = *fixed;
  } else {
    throw UsageError("loader: the transforms (" + pipeline_->describe() +
                     ") do not fix the image size: end them with resize, letterbox or a crop, "
                     "or set loader height and width");
  }
  pool_ = std::make_shared<BufferPool>(static_cast<std::size_t>(options_.prefetch) + 2);
  epoch_seed_ = mix_seed(options_.seed, static_cast<std::uint64_t>(options_.epoch));
  next_number_ = options_.first_batch;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  try {
    top_up();
  } catch (...) {
    stop();
    throw;
  }
}

BatchLoader::~BatchLoader() { stop(); }

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  std::call_once(joined_, [this] {
    for (auto& w : workers_)
      if (w.joinable()) w.join();
  });
}

std::int64_t BatchLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

std::vector<std::string> BatchLoader::skipped_files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_files_;
}

void BatchLoader::top_up() {
  // Consumer thread only: window_ is only modified here and in next().
  while (!source_done_ && static_cast<int>(window_.size()) < options_.prefetch) {
    std::optional<IndexBatch> indices = source_();
    if (!indices) {
      source_done_ = true;
      break;
    }
    if (indices->empty()) continue;
    auto batch = std::make_shared<Pending>();
    batch->number = next_number_++;
    batch->indices = std::move(*indices);
    const auto n = static_cast<std::int64_t>(batch->indices.size());
    batch->labels = torch::empty({n}, torch::kInt64);
    auto* labels = batch->labels.data_ptr<std::int64_t>();
    for (std::int64_t k = 0; k < n && !batch->error; ++k) {
      const std::int64_t index = batch->indices[static_cast<std::size_t>(k)];
      if (index < 0 || index >= dataset_->size()) {
        // Reported when this batch is due, like any other error of its items.
        batch->error = std::make_exception_ptr(
            UsageError("loader: batch " + std::to_string(batch->number) + " holds index " +
                       std::to_string(index) + " outside the dataset [0, " +
                       std::to_string(dataset_->size()) + ")"));
        break;
      }
      labels[k] = dataset_->items()[static_cast<std::size_t>(index)].label;
    }
    batch->kept.assign(static_cast<std::size_t>(n), 0);
    if (!batch->error) {
      batch->images = pool_->tensor({n, 3, size_.height, size_.width});
      batch->remaining = static_cast<std::size_t>(n);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      window_.push_back(batch);
      if (!workers_.empty() && !batch->error)
        for (std::size_t s = 0; s < batch->indices.size(); ++s) tasks_.push_back({batch, s});
    }
    if (!workers_.empty()) work_cv_.notify_all();
  }
}

void BatchLoader::load(Pending& batch, std::size_t slot) {
  const std::int64_t index = batch.indices[slot];
  const auto path = dataset_->path(index);
  const std::size_t plane = 3 * static_cast<std::size_t>(size_.height) * size_.width;
  float* out = batch.images.data_ptr<float>() + slot * plane;
  bool kept = false;
  std::exception_ptr error;
  std::string skipped_file;
  try {
    cv::Mat image = read_image(path, ChannelOrder::kBgr);
    Rng rng(mix_seed(epoch_seed_, static_cast<std::uint64_t>(batch.number), slot,
                     static_cast<std::uint64_t>(index)));
    pipeline_->run(std::move(image), rng, out, size_);
    kept = true;
  } catch (const ImageError& e) {
    if (dataset_->corrupt_policy() == CorruptPolicy::kSkip) {
      log::warn("skipping ", e.what());
      skipped_file = path.string();
    } else {
      error = std::current_exception();
    }
  } catch (const UsageError& e) {
    error = std::make_exception_ptr(
        UsageError(std::string(e.what()) + " (image '" + path.string() + "')"));
  } catch (const std::exception& e) {
    error = std::make_exception_ptr(
        std::runtime_error("while loading image '" + path.string() + "': " + e.what()));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  batch.kept[slot] = kept ? 1 : 0;
  if (error && (!batch.error || slot < batch.error_slot)) {
    batch.error = error;
    batch.error_slot = slot;
  }
  if (!skipped_file.empty()) {
    ++skipped_;
    skipped_files_.push_back(skipped_file);
  }
  --batch.remaining;
}

void BatchLoader::worker_loop() {
  // Parallelism comes from the workers; OpenCV's own thread pool would oversubscribe the
  // cores (note: this is OpenCV's process-wide setting).
  cv::setNumThreads(0);
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    load(*task.batch, task.slot);
    bool done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done = task.batch->remaining == 0;
    }
    if (done) done_cv_.notify_all();
  }
}

Batch BatchLoader::finish(Pending& batch) {
  Batch out;
  out.number = batch.number;
  const std::size_t n = batch.indices.size();
  const std::size_t plane = 3 * static_cast<std::size_t>(size_.height) * size_.width;
  std::size_t w = 0;
  float* images = batch.images.data_ptr<float>();
  auto* labels = batch.labels.data_ptr<std::int64_t>();
  for (std::size_t s = 0; s < n; ++s) {
    if (!batch.kept[s]) continue;
    if (w != s) {  // only after a skipped item: move the row up
      std::memcpy(images + w * plane, images + s * plane, plane * sizeof(float));
      labels[w] = labels[s];
    }
    out.indices.push_back(batch.indices[s]);
    ++w;
  }
  out.skipped = static_cast<std::int64_t>(n - w);
  out.images = w == n ? batch.images : batch.images.narrow(0, 0, static_cast<std::int64_t>(w));
  out.labels = w == n ? batch.labels : batch.labels.narrow(0, 0, static_cast<std::int64_t>(w));
  return out;
}

std::optional<Batch> BatchLoader::next() {
  while (true) {
    std::shared_ptr<Pending> front;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return std::nullopt;
      if (window_.empty()) return std::nullopt;
      front = window_.front();
    }
    if (workers_.empty()) {
      if (!front->error)
        for (std::size_t s = 0; s < front->indices.size(); ++s) load(*front, s);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return stopping_ || front->remaining == 0; });
      if (stopping_) return std::nullopt;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      window_.pop_front();
    }
    if (front->error) {
      stop();
      std::rethrow_exception(front->error);
    }
    top_up();
    Batch batch = finish(*front);
    if (batch.indices.empty()) continue;  // every item skipped
    return batch;
  }
}

}  // namespace wtp::data
