#include "models/freeze.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"

namespace wtp::models {

FreezableBatchNormImpl::FreezableBatchNormImpl(const torch::nn::BatchNormOptions& opts,
                                               std::vector<std::int64_t> input_dims,
                                               std::string kind)
    : options(opts), input_dims_(std::move(input_dims)), kind_(std::move(kind)) {
  const auto c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  }
}

torch::Tensor FreezableBatchNormImpl::forward(const torch::Tensor& input) {
  const bool dims_ok =
      std::find(input_dims_.begin(), input_dims_.end(), input.dim()) != input_dims_.end();
  TORCH_CHECK(dims_ok && input.size(1) == options.num_features(), kind_, "(",
              options.num_features(), "): unexpected input shape ", input.sizes());
  const bool use_batch_stats = is_training() || !options.track_running_stats();
  double factor = 0.0;
  if (is_training() && options.track_running_stats()) {
    {
      torch::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    factor = options.momentum() ? *options.momentum() : 1.0 / num_batches_tracked.item<double>();
  }
  return torch::batch_norm(input, weight, bias, running_mean, running_var, use_batch_stats, factor,
                           options.eps(), at::globalContext().userEnabledCuDNN());
}

void FreezableBatchNormImpl::set_frozen(bool frozen) {
  frozen_ = frozen;
  if (frozen_) torch::nn::Module::train(false);
}

void FreezableBatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "wtp::models::" << kind_ << "(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=";
  if (options.momentum())
    stream << *options.momentum();
  else
    stream << "None";
  stream << ", affine=" << options.affine() << ", frozen=" << frozen_ << ")";
}

void FreezableDropoutImpl::set_frozen(bool frozen) {
  frozen_ = frozen;
  if (frozen_) torch::nn::DropoutImpl::train(false);
}

namespace {

bool covers(const std::string& part, const std::string& name) {
  if (part == "*") return true;
  return name == part || (name.size() > part.size() && name.compare(0, part.size(), part) == 0 &&
                          name[part.size()] == '.');
}

bool is_plain_mode_layer(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m) ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m) ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&m) ||
         dynamic_cast<const torch::nn::DropoutImpl*>(&m) ||
         dynamic_cast<const torch::nn::Dropout2dImpl*>(&m);
}

std::string top_level_parts(const torch::nn::Module& module) {
  std::string out;
  for (const auto& child : module.named_children()) out += (out.empty() ? "" : ", ") + child.key();
  return out.empty() ? "(none)" : out;
}

int set_frozen_parts(torch::nn::Module& module, const std::vector<std::string>& parts,
                     bool frozen) {
  const char* verb = frozen ? "freeze" : "unfreeze";
  int count = 0;
  const auto modules = module.named_modules("", /*include_self=*/false);
  for (const auto& part : parts) {
    bool matched = part == "*";
    if (matched) {  // the root's own parameters (named_modules above excludes the root)
      for (auto& p : module.parameters(/*recurse=*/false)) {
        if (p.requires_grad() == frozen) ++count;
        p.set_requires_grad(!frozen);
      }
    }
    for (const auto& item : modules) {
      if (!covers(part, item.key())) continue;
      matched = true;
      torch::nn::Module& m = *item.value();
      for (auto& p : m.parameters(/*recurse=*/false)) {
        if (p.requires_grad() == frozen) ++count;
        p.set_requires_grad(!frozen);
      }
      if (auto* layer = dynamic_cast<Freezable*>(&m)) {
        layer->set_frozen(frozen);
        if (!frozen) m.train(module.is_training());
      } else if (is_plain_mode_layer(m)) {
        throw std::logic_error(std::string(verb) + ": layer '" + item.key() +
                               "' is a plain LibTorch BatchNorm/Dropout; build it from the "
                               "Freezable* types in models/freeze.h so it can stay in eval mode");
      }
    }
    if (!matched)
      throw UsageError(std::string(verb) + ": no part named '" + part +
                       "' in the model (top-level parts: " + top_level_parts(module) +
                       "; use a dotted path such as 'backbone' or 'repeat_1.0', or '*')");
  }
  return count;
}

}  // namespace

int freeze(torch::nn::Module& module, const std::vector<std::string>& parts) {
  return set_frozen_parts(module, parts, true);
}

int unfreeze(torch::nn::Module& module, const std::vector<std::string>& parts) {
  return set_frozen_parts(module, parts, false);
}

std::vector<torch::Tensor> trainable_parameters(const torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

std::int64_t parameter_count(const torch::nn::Module& module, bool trainable_only) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace wtp::models
