#pragma once
/// Ctrl-C handling for long runs: while an InterruptGuard lives, SIGINT and SIGTERM set a
/// flag instead of killing the process, so the trainer can finish the current step, write
/// a checkpoint and exit cleanly. A second signal while one is pending restores the
/// default action and re-raises it (an impatient user can still kill the process).

namespace wtp::train {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// True once SIGINT or SIGTERM arrived (or request() was called).
  static bool requested();
  /// The signal number that arrived (0 for request()).
  static int signal_number();
  /// Requests a stop as a signal would (used by tests and by the tuner).
  static void request();
  /// Clears the flag.
  static void reset();
};

}  // namespace wtp::train
