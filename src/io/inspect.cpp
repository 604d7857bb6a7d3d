#include "io/inspect.h"

#include <cstdio>
#include <fstream>

#include "io/npy.h"
#include "io/torch_file.h"

namespace wtp::io {

using Kind = PickleValue::Kind;

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      return "float32";
    case c10::kDouble:
      return "float64";
    case c10::kHalf:
      return "float16";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kLong:
      return "int64";
    case c10::kInt:
      return "int32";
    case c10::kShort:
      return "int16";
    case c10::kChar:
      return "int8";
    case c10::kByte:
      return "uint8";
    case c10::kBool:
      return "bool";
    case c10::kComplexFloat:
      return "complex64";
    case c10::kComplexDouble:
      return "complex128";
    default:
      return c10::toString(dtype);
  }
}

std::string shape_string(const torch::Tensor& tensor) {
  if (tensor.dim() == 0) return "scalar";
  std::string s;
  for (int64_t i = 0; i < tensor.dim(); ++i) s += (i ? "x" : "") + std::to_string(tensor.size(i));
  return s;
}

std::string tensor_line(const std::string& name, const torch::Tensor& tensor, int values) {
  char buf[64];
  std::string line = "tensor\t" + name + "\t" + dtype_name(tensor.scalar_type()) + "\t" +
                     shape_string(tensor) + "\t" + std::to_string(tensor.numel()) + "\t";
  bool complex = tensor.is_complex();
  if (complex) {
    line += "-\t";
  } else {
    std::snprintf(buf, sizeof buf, "%.6f", tensor.to(torch::kDouble).sum().item<double>());
    line += std::string(buf) + "\t";
  }
  auto n = std::min<int64_t>(std::max(values, 0), tensor.numel());
  if (n > 0) {
    auto first = tensor.reshape({-1}).narrow(0, 0, n);
    if (complex) first = torch::view_as_real(first.to(torch::kComplexDouble)).reshape({-1});
    first = first.to(torch::kDouble).contiguous();
    const double* p = first.data_ptr<double>();
    for (int64_t i = 0; i < first.numel(); ++i) {
      std::snprintf(buf, sizeof buf, "%g", p[i]);
      line += (i ? " " : "") + std::string(buf);
    }
  }
  return line;
}

void inspect_value(const PickleValue& value, int values, std::ostream& out) {
  int64_t tensors = 0, elements = 0;
  walk(value, [&](const std::string& path, const PickleValue& node) {
    std::string name = path.empty() ? "<root>" : path;
    switch (node.kind()) {
      case Kind::kTensor:
        out << tensor_line(name, node.tensor(), values) << "\n";
        ++tensors;
        elements += node.tensor().numel();
        return false;
      case Kind::kStorage:
        out << "storage\t" << name << "\t" << dtype_name(node.tensor().scalar_type()) << "\t"
            << node.tensor().numel() << "\n";
        return false;
      case Kind::kObject:
        out << "object\t" << name << "\t" << node.qualified_name() << "\n";
        return true;
      case Kind::kDict:
      case Kind::kList:
      case Kind::kTuple:
      case Kind::kSet:
        if (node.elements().empty() && node.entries().empty())
          out << "value\t" << name << " = " << node.repr() << "\n";
        return true;
      default:
        out << "value\t" << name << " = " << node.repr() << "\n";
        return true;
    }
  });
  out << "# " << tensors << " tensors, " << elements << " elements\n";
}

void inspect_file(const std::filesystem::path& path, int values, std::ostream& out) {
  std::string bytes = read_file_bytes(path);
  if (looks_like_npy(bytes)) {
    auto t = parse_npy(bytes, path.string());
    out << "# " << path.string() << ": numpy .npy\n"
        << tensor_line("array", t, values) << "\n# 1 tensors, " << t.numel() << " elements\n";
    return;
  }
  auto file = load_torch_bytes(std::move(bytes), path.string());
  out << "# " << path.string() << ": "
      << (file.format() == TorchFormat::kZip ? "torch.save zip format" : "torch.save legacy format")
      << "\n";
  inspect_value(file.root(), values, out);
}

}  // namespace wtp::io
