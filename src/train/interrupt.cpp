#include "train/interrupt.h"

#include <atomic>
#include <csignal>

namespace wtp::train {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  if (g_requested.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  reset();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool InterruptGuard::requested() { return g_requested.load(); }
int InterruptGuard::signal_number() { return g_signal.load(); }
void InterruptGuard::request() { g_requested = true; }
void InterruptGuard::reset() {
  g_requested = false;
  g_signal = 0;
}

}  // namespace wtp::train
