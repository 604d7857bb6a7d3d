#include "train/dist_context.h"

#include "dist/gradient_reducer.h"

namespace wtp::train {

DistContext::DistContext(std::shared_ptr<dist::Group> group) : group_(std::move(group)) {}

DistContext::~DistContext() = default;

void DistContext::broadcast(torch::nn::Module& module, bool buffers_only, const std::string& what) {
  if (group_) group_->broadcast_module(module, buffers_only, what);
}

void DistContext::reduce_gradients(const std::vector<torch::Tensor>& parameters) {
  if (!group_) return;
  reducer_.reset();  // its hooks go before the new reducer's are registered
  reducer_ = std::make_unique<dist::GradientReducer>(*group_, parameters,
                                                     dist::ReducerOptions::from_environment());
}

void DistContext::before_backward() {
  if (reducer_) reducer_->prepare();
}

void DistContext::after_backward() {
  if (reducer_) reducer_->finish();
}

bool DistContext::agree_on_step(double& loss, std::map<std::string, double>& parts, bool stop) {
  if (!group_) return stop;
  std::vector<double> packed{loss};
  for (const auto& [name, v] : parts) packed.push_back(v);
  packed.push_back(stop ? 1.0 : 0.0);
  auto t = torch::tensor(packed, torch::kDouble);
  group_->all_reduce(t, dist::Group::ReduceOp::kSum, "the loss all-reduce");
  const double world = group_->world_size();
  loss = t[0].item<double>() / world;
  std::int64_t k = 1;
  for (auto& [name, v] : parts) v = t[k++].item<double>() / world;
  return t[k].item<double>() > 0;
}

std::vector<bool> DistContext::any(const std::vector<bool>& flags, const std::string& what) {
  if (!group_) return flags;
  std::vector<double> packed;
  for (const bool f : flags) packed.push_back(f ? 1.0 : 0.0);
  auto t = torch::tensor(packed, torch::kDouble);
  group_->all_reduce(t, dist::Group::ReduceOp::kSum, what);
  std::vector<bool> out;
  for (std::size_t i = 0; i < flags.size(); ++i)
    out.push_back(t[static_cast<std::int64_t>(i)].item<double>() > 0);
  return out;
}

}  // namespace wtp::train
