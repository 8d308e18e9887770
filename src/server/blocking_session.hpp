#pragma once

// One connection served to its end on the calling thread: the loop the iterative and the
// threaded engines share. Private to the library.

#include "engine_support.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::server::detail {

struct SessionContext {
  const ServerConfig& config;
  StatsCounters& stats;
  const StopSignal& stop;
  BufferBudget& budget;
  /// The iterative engine's listener: after `config.turn_limit`, a client waiting on it
  /// ends this one's turn. -1: no turns (a thread per client).
  int turns_on = -1;
};

/// Serves `fd` (non-blocking, as accepted) with a fresh protocol until the
/// peer finishes, a limit closes it, or the server's drain ends. Waits in poll() on the
/// socket and the stop doorbell, so every timeout is exact and stop() is seen at once.
/// Closes `fd`, counts the close in `stats`, and returns why it ended.
/// Without memory for its state, the client is closed at once (counted as `error`).
proto::CloseReason serve_blocking(sys::Fd fd, const SessionContext& context) noexcept;

}  // namespace sockkit::server::detail
