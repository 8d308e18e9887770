#pragma once

// `sockkit proxy`: a TCP (or Unix-domain) proxy that injects faults between a client and a
// server — latency with jitter, a bandwidth cap, writes sliced into small pieces, a cut after
// N bytes, a reset, a black hole, a slow close — in either direction and on a chosen share
// of the connections. It plays toxiproxy's part (not packaged here; this kernel has no
// netem) for the robustness tests, and is a tool in its own right.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "fault_pipe.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/net/stream_listener.hpp"
#include "sockkit/sys/event_fd.hpp"

namespace sockkit::app {

/// What the proxy does. The defaults relay every byte as it comes, with no fault.
struct ProxyConfig {
  net::Address listen = net::Address::ipv4_loopback();
  /// Where to connect for each client: tried in order until one answers.
  std::vector<net::Address> upstream;
  DirectionFaults up;    // client to server
  DirectionFaults down;  // server to client
  /// Both sides of a faulted connection are reset (RST) this long after it opened.
  std::optional<std::chrono::nanoseconds> reset_after;
  /// The share of connections the faults apply to (the rest are relayed cleanly); which
  /// ones is drawn from `seed`.
  double fraction = 1.0;
  std::uint64_t seed = 1;
  /// Bytes buffered per direction; a full direction stops reading its sender.
  std::size_t buffer = 64 * 1024;
  /// All connections' buffered bytes together, never exceeded: once spent, no connection
  /// reads more until some go out (or a stalled connection is closed). 0: no limit.
  std::size_t max_buffer_memory = 256 * 1024 * 1024;
  /// The default is what the budget covers in full: max_buffer_memory / (2 * buffer).
  std::size_t max_connections = 2048;
  std::chrono::milliseconds connect_timeout{10000};
  /// Bytes waiting to move one way and none moving for this long closes the connection:
  /// its receiver stopped reading, or the budget stayed spent while its sender had bytes
  /// queued. 0: never.
  std::chrono::milliseconds stall_timeout{30000};
  /// No byte either way this long closes the connection; once one side has finished
  /// sending, `stall_timeout` if shorter. 0: never.
  std::chrono::milliseconds idle_timeout{300000};
  /// One line per connection opened and closed, if set. Called on the proxy's thread.
  std::function<void(std::string_view)> log;
};

/// Counters, readable from any thread while the proxy runs.
struct ProxyStats {
  std::uint64_t accepted = 0;
  std::uint64_t faulted = 0;          // connections the faults applied to
  std::uint64_t upstream_failed = 0;  // the server could not be reached
  std::uint64_t closed = 0;
  std::uint64_t cut = 0;            // by cut_after
  std::uint64_t reset = 0;          // by reset_after, or a reset passed on from one side
  std::uint64_t stalled = 0;        // by stall_timeout
  std::uint64_t idle = 0;           // by idle_timeout
  std::uint64_t buffered = 0;       // bytes held now, all connections
  std::uint64_t budget_pauses = 0;  // reads held back because max_buffer_memory was spent
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  [[nodiscard]] std::uint64_t active() const noexcept { return accepted - closed; }
};

/// Binds and sets up its event loop on construction; `run()` serves on the calling thread
/// until `stop()`, which any thread may call. Owns the listener and every connection's two
/// sockets.
class FaultProxy {
 public:
  /// Throws std::system_error when it cannot listen, std::invalid_argument for a bad config.
  explicit FaultProxy(ProxyConfig config);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] const net::Address& local_address() const noexcept {
    return listener_.local_address();
  }
  void run();
  void stop() noexcept;
  [[nodiscard]] ProxyStats stats() const noexcept;

 private:
  class Loop;
  ProxyConfig config_;
  net::StreamListener listener_;
  sys::EventFd stop_ = sys::EventFd::create();
  std::atomic<bool> stopping_{false};
  struct Counters;
  std::unique_ptr<Counters> counters_;
  std::unique_ptr<Loop> loop_;  // made with the proxy: every descriptor it needs exists then
};

}  // namespace sockkit::app
