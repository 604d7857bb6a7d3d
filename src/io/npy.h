#pragma once
/// NumPy `.npy` files to and from torch::Tensor (used for embeddings exchanged with
/// Python tools, e.g. `wtp-eval --embeddings`).
///
/// Supported: format versions 1.0, 2.0 and 3.0; C order; little-endian (or byte-order-free)
/// dtypes bool (|b1), uint8 (|u1), int8 (|i1), int16 (<i2), int32 (<i4), int64 (<i8),
/// float16 (<f2), float32 (<f4), float64 (<f8). Fortran order, big-endian data, structured
/// or object dtypes and a data size that does not match the shape are errors
/// (std::runtime_error naming the file and the problem).
#include <filesystem>
#include <string>
#include <string_view>
#include <torch/torch.h>

namespace wtp::io {

/// Whether `bytes` start with the .npy magic "\x93NUMPY".
bool looks_like_npy(std::string_view bytes);

/// Parses the bytes of a .npy file; `source` names it in error messages.
/// Ensures: a contiguous CPU tensor of the file's dtype and shape (shape () -> 0-dim).
torch::Tensor parse_npy(std::string_view bytes, const std::string& source);

/// Reads a .npy file (see parse_npy).
torch::Tensor read_npy(const std::filesystem::path& path);

/// The bytes of a .npy file (version 1.0, or 2.0 for very long headers) holding `tensor`.
/// Requires: a CPU tensor of a supported dtype (any strides; written in C order).
/// Throws wtp::UsageError for an unsupported dtype or device.
std::string npy_bytes(const torch::Tensor& tensor);

/// Writes npy_bytes(tensor) to `path` (via a temporary file renamed into place).
void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor);

}  // namespace wtp::io
