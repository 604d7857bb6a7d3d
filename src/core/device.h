#pragma once
/// Devices by name, as configs and `--device` give them (`cpu`, `cuda`, `cuda:1`).
#include <string>
#include <torch/torch.h>

namespace wtp {

/// A device from its name. UsageError for an unknown name or a CUDA device this LibTorch
/// cannot use.
torch::Device parse_device(const std::string& name);

}  // namespace wtp
