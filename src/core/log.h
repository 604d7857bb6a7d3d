#pragma once
/// Leveled logging to stderr. The level is the one process-wide setting in the library
/// (tools set it from --log-level); everything else is passed in explicitly.
#include <sstream>
#include <string>

#include "core/config.h"

namespace wtp::log {

enum class Level { kDebug, kInfo, kWarn, kError, kQuiet };
WTP_ENUM_NAMES(Level, {Level::kDebug, "debug"}, {Level::kInfo, "info"}, {Level::kWarn, "warn"},
               {Level::kError, "error"}, {Level::kQuiet, "quiet"})

void set_level(Level level);
Level level();
bool enabled(Level level);
/// Writes one line "[level] message" to stderr (thread-safe) if `level` is enabled.
void write(Level level, const std::string& message);

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

template <class... Parts>
void debug(const Parts&... parts) {
  if (enabled(Level::kDebug)) write(Level::kDebug, detail::concat(parts...));
}
template <class... Parts>
void info(const Parts&... parts) {
  if (enabled(Level::kInfo)) write(Level::kInfo, detail::concat(parts...));
}
template <class... Parts>
void warn(const Parts&... parts) {
  if (enabled(Level::kWarn)) write(Level::kWarn, detail::concat(parts...));
}
template <class... Parts>
void error(const Parts&... parts) {
  if (enabled(Level::kError)) write(Level::kError, detail::concat(parts...));
}

}  // namespace wtp::log
