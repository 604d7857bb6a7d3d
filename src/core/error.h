#pragma once
/// Error types shared by the whole library. Tools map them to exit codes:
/// UsageError -> 2 (the user asked for something invalid: fix the command or config),
/// any other std::exception -> 1 (the work itself failed: I/O, corrupt data, ...).
#include <stdexcept>
#include <string>

namespace wtp {

/// The user's request is invalid (bad argument, bad config key or value). Exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration file or override is invalid; the message names key, file and line.
class ConfigError : public UsageError {
 public:
  using UsageError::UsageError;
};

/// Throws UsageError(message) unless `condition` holds. For validating user input.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw UsageError(message);
}

}  // namespace wtp
