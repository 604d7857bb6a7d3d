#include "train/dist_context.h"

#include <chrono>
#include <cstdio>

#include "core/log.h"
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

torch::Tensor DistContext::gather_rows(const torch::Tensor& rows, const std::string& what) {
  return group_ ? group_->all_gather_rows(rows, what) : rows;
}

double DistContext::broadcast_value(double value, const std::string& what) {
  if (!group_) return value;
  auto t = torch::tensor({value}, torch::kDouble);
  group_->broadcast({t}, 0, what);
  return t[0].item<double>();
}

void DistContext::main_done(const std::string& key) {
  if (group_) group_->signal(key);
}

void DistContext::wait_for_main(const std::string& key, const std::string& what) {
  if (!group_) return;
  group_->wait_key(
      key, std::max<std::chrono::milliseconds>(group_->timeout(), std::chrono::hours(2)), what);
}

std::string DistContext::describe() const {
  if (!group_) return "";
  char timeout[32];
  std::snprintf(timeout, sizeof timeout, "%g", group_->timeout().count() / 1000.0);
  return "rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + " (" +
         group_->backend_name() + ", " + std::to_string(at::get_num_threads()) +
         " threads, timeout " + timeout + " s)";
}

void DistContext::check_same_weights(const torch::nn::Module& module) {
  if (!group_) return;
  const auto mine = dist::module_checksum(module);
  log::info("distributed: rank ", rank(), " final weights checksum ", mine);
  const auto all = group_->all_gather_rows(
      torch::tensor({static_cast<std::int64_t>(mine)}, torch::kLong), "comparing the weights");
  for (std::int64_t r = 0; r < all.size(0); ++r)
    if (static_cast<std::uint64_t>(all[r].item<std::int64_t>()) != mine)
      throw std::runtime_error("distributed: the weights of rank " + std::to_string(r) +
                               " differ from rank " + std::to_string(rank()) +
                               "'s after training (a non-deterministic or rank-dependent "
                               "parameter update)");
}

}  // namespace wtp::train
