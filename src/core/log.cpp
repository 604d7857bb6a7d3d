#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace wtp::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_write_mutex;
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
bool enabled(Level level) { return level >= g_level.load() && level != Level::kQuiet; }

void write(Level level, const std::string& message) {
  if (!enabled(level)) return;
  static const char* const kPrefix[] = {"debug", "info", "warn", "error", ""};
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fprintf(stderr, "[%s] %s\n", kPrefix[static_cast<int>(level)], message.c_str());
  std::fflush(stderr);
}

}  // namespace wtp::log
