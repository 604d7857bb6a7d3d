#include "train/optim.h"

#include <cmath>
#include <functional>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "core/error.h"

namespace wtp::train {

void ParamGroupRule::validate() const {
  require(!prefix.empty(), "a parameter group needs a non-empty 'prefix'");
  require(lr_scale >= 0, "lr_scale must be >= 0");
  require(!weight_decay || *weight_decay >= 0, "weight_decay must be >= 0");
}

namespace {

void validate_common(const OptimizerCommon& o) {
  require(o.lr > 0 && std::isfinite(o.lr), "lr must be a positive number");
  require(o.weight_decay >= 0, "weight_decay must be >= 0");
}

/// Splits the module's trainable parameters into groups by name prefix (first match
/// wins); the base group (no rule matched) comes first.
struct Split {
  std::vector<std::vector<torch::Tensor>> params;
  std::vector<const ParamGroupRule*> rules;  // nullptr for the base group
};

Split split_parameters(const torch::nn::Module& module, const OptimizerCommon& common) {
  Split split;
  split.params.emplace_back();
  split.rules.push_back(nullptr);
  for (const auto& rule : common.groups) {
    split.params.emplace_back();
    split.rules.push_back(&rule);
  }
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    std::size_t group = 0;
    for (std::size_t r = 0; r < common.groups.size(); ++r) {
      if (item.key().rfind(common.groups[r].prefix, 0) == 0) {
        group = r + 1;
        break;
      }
    }
    split.params[group].push_back(item.value());
  }
  for (std::size_t r = 1; r < split.rules.size(); ++r)
    require(!split.params[r].empty(), "optimizer group prefix '" + split.rules[r]->prefix +
                                          "' matches no trainable parameter");
  return split;
}

/// Builds OptimizerT over the module's parameter groups; `make(lr, weight_decay)` returns
/// the torch options of one group.
template <class OptimizerT, class Make>
BuiltOptimizer build(const torch::nn::Module& module, const OptimizerCommon& common, Make make) {
  Split split = split_parameters(module, common);
  BuiltOptimizer out;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (std::size_t g = 0; g < split.params.size(); ++g) {
    if (split.params[g].empty()) continue;
    const ParamGroupRule* rule = split.rules[g];
    const double lr = common.lr * (rule ? rule->lr_scale : 1.0);
    const double wd = rule && rule->weight_decay ? *rule->weight_decay : common.weight_decay;
    groups.emplace_back(split.params[g], make(lr, wd));
    out.base_lrs.push_back(lr);
    out.group_names.push_back(rule ? rule->prefix : "base");
  }
  require(!groups.empty(), "the model has no trainable parameters to optimise");
  out.optimizer =
      std::make_unique<OptimizerT>(std::move(groups), *make(common.lr, common.weight_decay));
  return out;
}

}  // namespace

void AdamOptions::validate() const {
  validate_common(*this);
  require(betas.size() == 2 && betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1,
          "betas must be [beta1, beta2] with both in [0, 1)");
  require(eps > 0, "eps must be > 0");
}

void SgdOptions::validate() const {
  validate_common(*this);
  require(momentum >= 0, "momentum must be >= 0");
  require(!nesterov || (momentum > 0 && dampening == 0),
          "nesterov needs momentum > 0 and dampening 0");
}

void BuiltOptimizer::set_lr_factor(double factor) {
  auto& groups = optimizer->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(base_lrs[g] * factor);
}

double BuiltOptimizer::lr() const { return optimizer->param_groups().at(0).options().get_lr(); }

namespace {

void register_builtin_optimizers(OptimizerRegistry& registry) {
  registry.add<AdamOptions>(
      "adam", "Adam (Kingma & Ba); weight_decay is an L2 term added to the gradient",
      [](const AdamOptions& o, const torch::nn::Module& m) {
        return build<torch::optim::Adam>(m, o, [&](double lr, double wd) {
          auto opts = std::make_unique<torch::optim::AdamOptions>(lr);
          opts->betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(wd).amsgrad(o.amsgrad);
          return opts;
        });
      });
  registry.add<AdamOptions>(
      "adamw", "AdamW (Loshchilov & Hutter): decoupled weight decay",
      [](const AdamOptions& o, const torch::nn::Module& m) {
        return build<torch::optim::AdamW>(m, o, [&](double lr, double wd) {
          auto opts = std::make_unique<torch::optim::AdamWOptions>(lr);
          opts->betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(wd).amsgrad(o.amsgrad);
          return opts;
        });
      });
  registry.add<SgdOptions>(
      "sgd", "SGD with momentum (optionally Nesterov)",
      [](const SgdOptions& o, const torch::nn::Module& m) {
        return build<torch::optim::SGD>(m, o, [&](double lr, double wd) {
          auto opts = std::make_unique<torch::optim::SGDOptions>(lr);
          opts->momentum(o.momentum).dampening(o.dampening).nesterov(o.nesterov).weight_decay(wd);
          return opts;
        });
      });
}

}  // namespace

const OptimizerRegistry& optimizer_registry() {
  static const OptimizerRegistry registry("optimizer", register_builtin_optimizers);
  return registry;
}

// ---------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------

void WarmupOptions::validate() const {
  require(warmup_epochs >= 0, "warmup_epochs must be >= 0");
  require(warmup_start >= 0 && warmup_start <= 1, "warmup_start must be in [0, 1]");
}
void ConstantScheduleOptions::validate() const { WarmupOptions::validate(); }
void StepScheduleOptions::validate() const {
  WarmupOptions::validate();
  require(step_size > 0, "step_size must be > 0");
  require(gamma > 0, "gamma must be > 0");
}
void MultiStepScheduleOptions::validate() const {
  WarmupOptions::validate();
  require(gamma > 0, "gamma must be > 0");
  for (std::size_t i = 1; i < milestones.size(); ++i)
    require(milestones[i] > milestones[i - 1], "milestones must be increasing");
}
void CosineScheduleOptions::validate() const {
  WarmupOptions::validate();
  require(min_factor >= 0 && min_factor <= 1, "min_factor must be in [0, 1]");
}
void PolyScheduleOptions::validate() const {
  WarmupOptions::validate();
  require(power > 0, "power must be > 0 (1 = linear decay)");
}

namespace {

/// Linear warm-up from warmup_start to 1 over warmup_epochs, multiplied onto `decay`.
class Schedule : public LrSchedule {
 public:
  Schedule(WarmupOptions warmup, std::function<double(double, int)> decay)
      : warmup_(warmup), decay_(std::move(decay)) {}
  double factor(double epoch, int total_epochs) const override {
    double f = decay_(epoch, total_epochs);
    if (epoch < warmup_.warmup_epochs)
      f *= warmup_.warmup_start + (1.0 - warmup_.warmup_start) * epoch / warmup_.warmup_epochs;
    return f;
  }

 private:
  WarmupOptions warmup_;
  std::function<double(double, int)> decay_;
};

void register_builtin_schedules(ScheduleRegistry& registry) {
  registry.add<ConstantScheduleOptions>(
      "constant", "constant rate (after the optional warm-up)",
      [](const ConstantScheduleOptions& o) -> std::shared_ptr<LrSchedule> {
        return std::make_shared<Schedule>(o, [](double, int) { return 1.0; });
      });
  registry.add<StepScheduleOptions>(
      "step", "multiply by gamma every step_size epochs (StepLR)",
      [](const StepScheduleOptions& o) -> std::shared_ptr<LrSchedule> {
        return std::make_shared<Schedule>(o, [o](double epoch, int) {
          return std::pow(o.gamma,
                          static_cast<int>(std::floor(std::max(0.0, epoch))) / o.step_size);
        });
      });
  registry.add<MultiStepScheduleOptions>(
      "multistep", "multiply by gamma at each milestone epoch (MultiStepLR)",
      [](const MultiStepScheduleOptions& o) -> std::shared_ptr<LrSchedule> {
        return std::make_shared<Schedule>(o, [o](double epoch, int) {
          int passed = 0;
          for (int m : o.milestones)
            if (std::floor(epoch) >= m) ++passed;
          return std::pow(o.gamma, passed);
        });
      });
  registry.add<CosineScheduleOptions>(
      "cosine", "cosine annealing over the run to min_factor (per step)",
      [](const CosineScheduleOptions& o) -> std::shared_ptr<LrSchedule> {
        return std::make_shared<Schedule>(o, [o](double epoch, int total) {
          const double t = total > 0 ? std::min(1.0, epoch / total) : 1.0;
          return o.min_factor + (1.0 - o.min_factor) * 0.5 * (1.0 + std::cos(M_PI * t));
        });
      });
  registry.add<PolyScheduleOptions>(
      "poly", "polynomial decay to 0 after the warm-up (insightface's PolynomialLRWarmup)",
      [](const PolyScheduleOptions& o) -> std::shared_ptr<LrSchedule> {
        return std::make_shared<Schedule>(o, [o](double epoch, int total) {
          const double span = total - o.warmup_epochs;
          if (epoch <= o.warmup_epochs || span <= 0) return 1.0;
          return std::pow(std::max(0.0, 1.0 - (epoch - o.warmup_epochs) / span), o.power);
        });
      });
}

}  // namespace

const ScheduleRegistry& schedule_registry() {
  static const ScheduleRegistry registry("scheduler", register_builtin_schedules);
  return registry;
}

double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  require(max_norm > 0, "gradient clipping needs max_norm > 0");
  return torch::nn::utils::clip_grad_norm_(parameters, max_norm);
}

}  // namespace wtp::train
