#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <optional>
#include <system_error>

#include "sockkit/net/stream_socket.hpp"

namespace sockkit::net {

/// TCP keepalive probing: start after `idle` without traffic, probe every `interval`, give
/// up after `count` unanswered probes.
struct KeepAliveSettings {
  std::chrono::seconds idle{60};
  std::chrono::seconds interval{10};
  int count = 5;
};

/// A TCP connection: a StreamSocket plus the options only TCP has. Owns its fd; thread rules
/// as StreamSocket.
class TcpStream : public StreamSocket {
 public:
  using StreamSocket::StreamSocket;
  explicit TcpStream(StreamSocket&& stream) noexcept : StreamSocket(std::move(stream)) {}

  /// Connects to an IP address. Throws `std::system_error`.
  static TcpStream connect(const Address& address, Timeout timeout = Timeout::zero());
  static TcpStream connect(const Address& address, Timeout timeout, std::error_code& ec) noexcept;
  /// Resolves and tries every address in turn ("localhost:65432" tries ::1, then 127.0.0.1);
  /// `timeout` applies to each attempt.
  static TcpStream connect(const Endpoint& endpoint, Timeout timeout = Timeout::zero());
  static TcpStream connect(const Endpoint& endpoint, Timeout timeout, std::error_code& ec);

  /// TCP_NODELAY: send small writes at once instead of waiting to coalesce them (Nagle).
  void set_no_delay(bool on);
  /// Turns keepalive probing on with these settings.
  void set_keepalive(const KeepAliveSettings& settings);
  /// TCP_USER_TIMEOUT: drop the connection when sent data stays unacknowledged this long.
  void set_user_timeout(std::chrono::milliseconds timeout);
  /// SO_LINGER. `std::nullopt` is the default (close returns at once, data still drains);
  /// zero seconds makes close() reset the connection.
  void set_linger(std::optional<std::chrono::seconds> linger);
};

}  // namespace sockkit::net
