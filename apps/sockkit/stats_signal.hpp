#pragma once

// SIGUSR1 asks a running server for its counters, as `dd` prints its progress: one stats
// line per signal (signals that arrive together make one line).

#include <atomic>
#include <functional>
#include <thread>

#include "sockkit/sys/fd.hpp"

namespace sockkit::app {

/// Installs a SIGUSR1 handler for as long as it lives; `report` runs on a thread of its own
/// after each signal. The handler only writes a byte to a pipe, and it runs on whichever
/// engine thread the kernel picks, so the engines' waits see EINTR (which they retry) as
/// they would under any program that handles signals. One at a time per process; the
/// destructor leaves SIGUSR1 ignored (a late one must not kill a process that is ending).
class StatsSignal {
 public:
  /// Throws std::system_error when the pipe cannot be made.
  explicit StatsSignal(std::function<void()> report);
  ~StatsSignal();
  StatsSignal(const StatsSignal&) = delete;
  StatsSignal& operator=(const StatsSignal&) = delete;

 private:
  sys::Fd read_end_;
  sys::Fd write_end_;
  std::atomic<bool> finished_{false};
  std::thread reporter_;
};

}  // namespace sockkit::app
