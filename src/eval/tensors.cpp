#include "eval/tensors.h"

#include <unordered_map>

#include "core/error.h"

namespace wtp::eval {

namespace {
void require_1d(const torch::Tensor& tensor, const std::string& what) {
  require(tensor.defined(), what + ": tensor is undefined");
  require(tensor.dim() == 1,
          what + ": expected a 1-D tensor, got " + std::to_string(tensor.dim()) + " dimensions");
}
}  // namespace

std::vector<double> to_doubles(const torch::Tensor& tensor, const std::string& what) {
  require_1d(tensor, what);
  auto t = tensor.to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = t.data_ptr<double>();
  return std::vector<double>(p, p + t.numel());
}

std::vector<std::int64_t> to_int64s(const torch::Tensor& tensor, const std::string& what) {
  require_1d(tensor, what);
  require(!tensor.is_floating_point() && !tensor.is_complex(),
          what + ": expected an integer or bool tensor, got " +
              std::string(c10::toString(tensor.scalar_type())));
  auto t = tensor.to(torch::kCPU, torch::kLong).contiguous();
  const std::int64_t* p = t.data_ptr<std::int64_t>();
  return std::vector<std::int64_t>(p, p + t.numel());
}

std::vector<std::int64_t> dense_labels(const std::vector<std::int64_t>& labels,
                                       std::int64_t* classes) {
  std::unordered_map<std::int64_t, std::int64_t> ids;
  ids.reserve(labels.size() * 2);
  std::vector<std::int64_t> out(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto it = ids.emplace(labels[i], static_cast<std::int64_t>(ids.size())).first;
    out[i] = it->second;
  }
  if (classes) *classes = static_cast<std::int64_t>(ids.size());
  return out;
}

}  // namespace wtp::eval
