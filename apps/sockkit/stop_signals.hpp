#pragma once

// SIGINT, SIGTERM and SIGHUP for a long-running command: the first asks it to stop, a second
// ends the process at once (status 128 + the signal), as an operator who presses Ctrl-C twice
// expects. SIGHUP is a stop too, so closing the terminal or the SSH session drains the
// server instead of killing it. SIGUSR2 and SIGALRM are ignored.

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

#include "sockkit/net/address.hpp"

namespace sockkit::app {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread, so every thread started after it
/// inherits the mask and the signals reach only `StopSignals`' own thread. Call before
/// starting any other thread. Also ignores SIGPIPE (MSG_NOSIGNAL covers our own sends),
/// SIGUSR2 and SIGALRM.
void block_stop_signals() noexcept;

/// Waits for the blocked signals on a thread of its own: the first calls `on_first` (which
/// must be safe to call from that thread), a second calls `before_exit` (to remove what
/// the process leaves behind, such as a Unix socket file) and exits. Destroying it ends
/// the thread.
class StopSignals {
 public:
  explicit StopSignals(std::function<void()> on_first, std::function<void()> before_exit = {});
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  std::atomic<bool> finished_{false};
  std::thread waiter_;
};

/// A `before_exit` for a server listening on `address`: removes its socket file when it is
/// a Unix path (the listener's destructor, which would, does not run on a second signal).
std::function<void()> remove_socket_file(const net::Address& address);

}  // namespace sockkit::app
