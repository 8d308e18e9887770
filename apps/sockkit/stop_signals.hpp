#pragma once

// SIGINT and SIGTERM for a long-running command: the first asks it to stop, a second ends
// the process at once (status 128 + the signal), as an operator who presses Ctrl-C twice
// expects.

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace sockkit::app {

/// Blocks SIGINT and SIGTERM in the calling thread, so every thread started after it
/// inherits the mask and the signals reach only `StopSignals`' own thread. Call before
/// starting any other thread. Also ignores SIGPIPE (MSG_NOSIGNAL covers our own sends).
void block_stop_signals() noexcept;

/// Waits for the blocked signals on a thread of its own: the first calls `on_first` (which
/// must be safe to call from that thread), a second exits. Destroying it ends the thread.
class StopSignals {
 public:
  explicit StopSignals(std::function<void()> on_first);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  std::atomic<bool> finished_{false};
  std::thread waiter_;
};

}  // namespace sockkit::app
