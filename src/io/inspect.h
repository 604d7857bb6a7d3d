#pragma once
/// Human- and grep-friendly listings of torch.save / .npy files (behind `wtp-inspect`).
#include <filesystem>
#include <ostream>
#include <string>
#include <torch/torch.h>

#include "io/pickle_value.h"

namespace wtp::io {

/// NumPy-style dtype name: "float32", "float16", "bfloat16", "int64", "bool", ...
std::string dtype_name(c10::ScalarType dtype);

/// "4x3x3x3", or "scalar" for a 0-dim tensor.
std::string shape_string(const torch::Tensor& tensor);

/// One tab-separated line "tensor NAME DTYPE SHAPE NUMEL SUM FIRST-VALUES" (no newline):
/// the sum in double precision printed with 6 decimals, then up to `values` elements in
/// row-major logical order printed with %g (6 significant digits); "-" for complex sums.
std::string tensor_line(const std::string& name, const torch::Tensor& tensor, int values);

/// Writes the listing of `value`: a tensor_line per tensor, "value NAME = REPR" per scalar,
/// string or empty container, "object NAME CLASS" per inert object, "storage ..." per bare
/// storage, in file order, then a "# N tensors, M elements" summary line.
void inspect_value(const PickleValue& value, int values, std::ostream& out);

/// Loads `path` (.npy by its magic, otherwise torch.save zip/legacy) and writes a first
/// line "# FILE: FORMAT" followed by inspect_value's listing (a .npy is one tensor named
/// "array"). Throws std::runtime_error for unreadable files.
void inspect_file(const std::filesystem::path& path, int values, std::ostream& out);

}  // namespace wtp::io
