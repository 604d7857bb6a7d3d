#pragma once
/// Optimizers and learning-rate schedules chosen by name from config.
///
///     optimizer: {name: adam, lr: 1.602403e-4, weight_decay: 8.465428e-5,
///                 groups: [{prefix: backbone., lr_scale: 0.1}]}
///     scheduler: {name: step, step_size: 10, gamma: 0.5, warmup_epochs: 1}
#include <memory>
#include <string>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <vector>

#include "core/config.h"
#include "core/registry.h"

namespace wtp::train {

/// Parameters whose name starts with `prefix` get `lr_scale` x the base learning rate
/// and, if set, their own weight decay. The first matching group wins; the rest of the
/// trainable parameters form the base group.
struct ParamGroupRule {
  std::string prefix;                  ///< parameter-name prefix, e.g. "backbone."
  double lr_scale = 1.0;               ///< multiplier on the base learning rate
  std::optional<double> weight_decay;  ///< overrides the optimizer's weight decay
  template <class V>
  void visit(V& v) {
    v("prefix", prefix, "parameter-name prefix, e.g. backbone.");
    v("lr_scale", lr_scale, "multiplier on the base learning rate");
    v("weight_decay", weight_decay, "weight decay for this group (default: the optimizer's)");
  }
  void validate() const;
};

/// Options shared by every optimizer.
struct OptimizerCommon {
  double lr = 1e-3;                    ///< base learning rate
  double weight_decay = 0.0;           ///< L2 penalty (decoupled for adamw)
  std::vector<ParamGroupRule> groups;  ///< per-group learning-rate rules
};

struct AdamOptions : OptimizerCommon {
  std::vector<double> betas{0.9, 0.999};  ///< running-average coefficients
  double eps = 1e-8;
  bool amsgrad = false;
  template <class V>
  void visit(V& v) {
    v("lr", lr, "base learning rate");
    v("weight_decay", weight_decay, "weight decay (adam: L2 in the gradient; adamw: decoupled)");
    v("betas", betas, "[beta1, beta2]");
    v("eps", eps, "denominator epsilon");
    v("amsgrad", amsgrad, "use the AMSGrad variant");
    v("groups", groups, "per-group rules: [{prefix, lr_scale, weight_decay}]");
  }
  void validate() const;
};

struct SgdOptions : OptimizerCommon {
  double momentum = 0.9;
  double dampening = 0.0;
  bool nesterov = false;
  template <class V>
  void visit(V& v) {
    v("lr", lr, "base learning rate");
    v("weight_decay", weight_decay, "L2 penalty");
    v("momentum", momentum, "momentum factor");
    v("dampening", dampening, "dampening for momentum");
    v("nesterov", nesterov, "Nesterov momentum (requires momentum > 0, dampening 0)");
    v("groups", groups, "per-group rules: [{prefix, lr_scale, weight_decay}]");
  }
  void validate() const;
};

/// An optimizer plus the base learning rate of each of its parameter groups (what a
/// schedule's factor multiplies).
struct BuiltOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> base_lrs;          ///< per param group
  std::vector<std::string> group_names;  ///< per param group: its prefix or "base"
  /// Sets every group's lr to base_lr x factor.
  void set_lr_factor(double factor);
  /// Current lr of group 0.
  double lr() const;
};

using OptimizerRegistry = Registry<BuiltOptimizer, const torch::nn::Module&>;
/// The optimizers: adam, adamw and sgd. Frozen parameters (requires_grad off) are left out.
const OptimizerRegistry& optimizer_registry();

/// A learning-rate schedule: a factor on the base learning rates as a function of
/// training progress in epochs (fractional within an epoch, so warm-up is per step).
class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  /// Factor at `epoch` (0-based, fractional), for a run of `total_epochs` epochs.
  virtual double factor(double epoch, int total_epochs) const = 0;
};

struct WarmupOptions {
  double warmup_epochs = 0;   ///< linear warm-up length in epochs (fractional allowed)
  double warmup_start = 0.0;  ///< factor at the start of warm-up
  void validate() const;
};

struct ConstantScheduleOptions : WarmupOptions {
  template <class V>
  void visit(V& v) {
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("warmup_start", warmup_start, "factor at the start of warm-up");
  }
  void validate() const;
};

struct StepScheduleOptions : WarmupOptions {
  int step_size = 10;  ///< epochs between decays
  double gamma = 0.1;  ///< decay factor
  template <class V>
  void visit(V& v) {
    v("step_size", step_size, "epochs between decays");
    v("gamma", gamma, "decay factor");
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("warmup_start", warmup_start, "factor at the start of warm-up");
  }
  void validate() const;
};

struct MultiStepScheduleOptions : WarmupOptions {
  std::vector<int> milestones;  ///< epochs at which the factor is multiplied by gamma
  double gamma = 0.1;
  template <class V>
  void visit(V& v) {
    v("milestones", milestones, "epochs at which the rate is multiplied by gamma");
    v("gamma", gamma, "decay factor");
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("warmup_start", warmup_start, "factor at the start of warm-up");
  }
  void validate() const;
};

struct CosineScheduleOptions : WarmupOptions {
  double min_factor = 0.0;  ///< factor reached at the end of the run
  template <class V>
  void visit(V& v) {
    v("min_factor", min_factor, "factor at the end of the run (eta_min / lr)");
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("warmup_start", warmup_start, "factor at the start of warm-up");
  }
  void validate() const;
};

/// Polynomial decay after the warm-up, insightface's PolynomialLRWarmup:
/// factor = (1 - (epoch - warmup_epochs) / (total - warmup_epochs))^power, reaching 0 at
/// the end of the run.
struct PolyScheduleOptions : WarmupOptions {
  double power = 1.0;  ///< 1 = linear decay (insightface's default), 2 = quadratic
  template <class V>
  void visit(V& v) {
    v("power", power, "exponent of the decay (1 = linear)");
    v("warmup_epochs", warmup_epochs, "linear warm-up length in epochs");
    v("warmup_start", warmup_start, "factor at the start of warm-up");
  }
  void validate() const;
};

using ScheduleRegistry = Registry<std::shared_ptr<LrSchedule>>;
/// The schedules: constant, step, multistep, cosine and poly (all with optional linear
/// warm-up).
const ScheduleRegistry& schedule_registry();

/// Clips the global L2 norm of the gradients of `parameters` to `max_norm` (> 0);
/// returns the norm before clipping.
double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace wtp::train
