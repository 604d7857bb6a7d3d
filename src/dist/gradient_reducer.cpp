#include "dist/gradient_reducer.h"

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace wtp::dist {

ReducerOptions ReducerOptions::from_environment() {
  ReducerOptions options;
  if (const char* mb = std::getenv("WTP_DIST_BUCKET_MB"); mb && *mb) {
    char* end = nullptr;
    options.bucket_mb = std::strtod(mb, &end);
    if (*end != '\0' || !(options.bucket_mb > 0))
      throw UsageError(std::string("WTP_DIST_BUCKET_MB='") + mb +
                       "' must be a positive number of megabytes (default 25)");
  }
  if (const char* overlap = std::getenv("WTP_DIST_OVERLAP"); overlap && *overlap) {
    const std::string v = overlap;
    if (v != "0" && v != "1")
      throw UsageError("WTP_DIST_OVERLAP='" + v +
                       "' must be 1 (all-reduce during the backward "
                       "pass, the default) or 0 (after it)");
    options.overlap = v == "1";
  }
  return options;
}

GradientReducer::GradientReducer(Group& group, std::vector<torch::Tensor> parameters,
                                 ReducerOptions options)
    : group_(group), params_(std::move(parameters)), options_(options) {
  require(options_.bucket_mb > 0, "dist: bucket size must be > 0 MB");
  const auto cap = static_cast<std::int64_t>(options_.bucket_mb * 1024 * 1024);
  bucket_of_.assign(params_.size(), 0);
  slot_of_.assign(params_.size(), 0);
  filled_.assign(params_.size(), false);
  // Reverse registration order: the last layers' gradients are ready first.
  Bucket current;
  std::int64_t bytes = 0;
  auto close = [&] {
    if (current.params.empty()) return;
    buckets_.push_back(std::move(current));
    current = Bucket{};
    bytes = 0;
  };
  for (std::size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    require(p.is_floating_point(), "dist: parameters must be floating point");
    if (!current.params.empty()) {
      const auto& first = params_[current.params.front()];
      if (first.scalar_type() != p.scalar_type() || first.device() != p.device() ||
          bytes + p.numel() * p.element_size() > cap)
        close();
    }
    bucket_of_[k] = buckets_.size();
    slot_of_[k] = current.params.size();
    current.params.push_back(k);
    current.offsets.push_back(current.numel);
    current.numel += p.numel();
    bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
  }
  close();
  for (auto& b : buckets_) {
    const auto& first = params_[b.params.front()];
    b.flat = torch::zeros({b.numel + static_cast<std::int64_t>(b.params.size())}, first.options());
  }
  if (options_.overlap)
    for (std::size_t k = 0; k < params_.size(); ++k)
      hooks_.push_back(
          params_[k].register_hook([this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
}

GradientReducer::~GradientReducer() {
  for (std::size_t k = 0; k < hooks_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void GradientReducer::prepare() {
  for (auto& b : buckets_) {
    b.ready = 0;
    b.work.reset();
  }
  filled_.assign(params_.size(), false);
  next_launch_ = 0;
  armed_ = true;
}

void GradientReducer::on_gradient(std::size_t k, const torch::Tensor& grad) {
  if (!armed_ || filled_[k]) return;
  Bucket& b = buckets_[bucket_of_[k]];
  const std::size_t slot = slot_of_[k];
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, b.offsets[slot], params_[k].numel()).copy_(grad.reshape({-1}));
  b.flat[b.numel + static_cast<std::int64_t>(slot)].fill_(1.0);
  filled_[k] = true;
  ++b.ready;
  launch_ready();
}

void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == buckets_[next_launch_].params.size()) {
    ++launched_in_backward_;
    launch(next_launch_++);
  }
}

void GradientReducer::launch(std::size_t index) {
  buckets_[index].work = group_.all_reduce_async(buckets_[index].flat);
}

void GradientReducer::finish() {
  torch::NoGradGuard no_grad;
  if (!options_.overlap) prepare();
  armed_ = false;
  // Everything not launched yet, in index order: gradients that no hook delivered come
  // from .grad (no overlap) or are zero (not used on this rank).
  for (std::size_t i = next_launch_; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    for (std::size_t slot = 0; slot < b.params.size(); ++slot) {
      const std::size_t k = b.params[slot];
      if (filled_[k]) continue;
      auto part = b.flat.narrow(0, b.offsets[slot], params_[k].numel());
      const auto& grad = params_[k].grad();
      const bool has = !options_.overlap && grad.defined();
      if (has)
        part.copy_(grad.reshape({-1}));
      else
        part.zero_();
      b.flat[b.numel + static_cast<std::int64_t>(slot)].fill_(has ? 1.0 : 0.0);
    }
    launch(i);
  }
  next_launch_ = buckets_.size();
  const double world = static_cast<double>(group_.world_size());
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    const auto started = std::chrono::steady_clock::now();
    group_.wait(b.work, "the gradient all-reduce (bucket " + std::to_string(i + 1) + "/" +
                            std::to_string(buckets_.size()) + ")");
    wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    b.work.reset();
    auto flags = b.flat.narrow(0, b.numel, static_cast<std::int64_t>(b.params.size()))
                     .to(torch::kCPU, torch::kFloat);
    const auto* used = flags.data_ptr<float>();
    for (std::size_t slot = 0; slot < b.params.size(); ++slot) {
      if (used[slot] == 0) continue;  // no rank produced a gradient: leave .grad alone
      auto& p = params_[b.params[slot]];
      auto mean = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.sizes()) / world;
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone();
    }
  }
}

}  // namespace wtp::dist
