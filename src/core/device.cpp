#include "core/device.h"

#include "core/error.h"

namespace wtp {

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw UsageError("device '" + name + "' asked for, but this LibTorch has no usable CUDA");
    return device;
  } catch (const c10::Error&) {
    throw UsageError("device '" + name + "' is not a device name (cpu, cuda, cuda:1, ...)");
  }
}

}  // namespace wtp
