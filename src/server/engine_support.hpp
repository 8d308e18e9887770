#pragma once

// What every engine shares: the stop doorbell, accept-error handling, the throttled log,
// and the stats counters. Private to the library.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sockkit/net/stream_listener.hpp"
#include "sockkit/server/server_config.hpp"
#include "sockkit/server/stats.hpp"
#include "sockkit/sys/event_fd.hpp"

namespace sockkit::server::detail {

using Clock = std::chrono::steady_clock;

/// stop(), as every engine thread sees it: a flag, a doorbell fd to poll, and the drain
/// deadline. `request()` is thread-safe and idempotent.
class StopSignal {
 public:
  explicit StopSignal(std::chrono::milliseconds drain) : drain_(drain) {}
  void request() noexcept;
  [[nodiscard]] bool requested() const noexcept {
    return requested_.load(std::memory_order_acquire);
  }
  /// When draining ends; meaningful once `requested()`.
  [[nodiscard]] Clock::time_point deadline() const noexcept;
  [[nodiscard]] int fd() const noexcept { return bell_.native_handle(); }

 private:
  std::chrono::milliseconds drain_;
  sys::EventFd bell_ = sys::EventFd::create();
  std::atomic<bool> requested_{false};
  std::atomic<Clock::rep> deadline_{0};
};

/// Says a thing at most once a second, and how many were held back since.
class ThrottledLog {
 public:
  explicit ThrottledLog(const ServerConfig& config) : config_(config) {}
  void say(const std::string& message);

 private:
  const ServerConfig& config_;
  std::atomic<Clock::rep> last_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

/// Errors from accept() that say nothing about the listener: the client went away first,
/// a signal, a firewall rule. The server just accepts the next one.
[[nodiscard]] bool is_transient_accept_error(const std::error_code& ec) noexcept;
/// Errors that mean "out of descriptors or memory for now": shed the client, pause, recover.
[[nodiscard]] bool is_resource_exhaustion(const std::error_code& ec) noexcept;

/// Stops a listener taking clients at once, from any thread: a new connect is refused and
/// a thread blocked in poll() on it wakes, while the fd stays valid (closing it under a
/// thread that may still call accept() on it could hit a reused descriptor number).
void stop_listening(const net::StreamListener& listener) noexcept;

/// Event-loop threads for `config`: its `threads`, or one per core.
[[nodiscard]] std::size_t loop_count(const ServerConfig& config) noexcept;

/// Sets up an accepted client socket as `config` says: its kernel send buffer, and for TCP
/// keepalive and TCP_USER_TIMEOUT. A socket that keeps a default still works, so failures
/// are ignored (a Unix socket has no TCP options).
void prepare_client_socket(int fd, const ServerConfig& config) noexcept;

/// The close reason for a failed recv or send.
[[nodiscard]] proto::CloseReason reason_for(const std::error_code& ec) noexcept;

}  // namespace sockkit::server::detail
