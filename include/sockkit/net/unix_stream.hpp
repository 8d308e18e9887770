#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <string_view>
#include <system_error>
#include <utility>

#include "sockkit/net/stream_socket.hpp"

namespace sockkit::net {

/// A Unix-domain stream connection (a path or an abstract name). Owns its fd; thread rules
/// as StreamSocket.
class UnixStream : public StreamSocket {
 public:
  using StreamSocket::StreamSocket;
  explicit UnixStream(StreamSocket&& stream) noexcept : StreamSocket(std::move(stream)) {}

  /// Connects to a Unix address (`Address::unix_path` or `Address::unix_abstract`).
  static UnixStream connect(const Address& address, Timeout timeout = Timeout::zero());
  static UnixStream connect(const Address& address, Timeout timeout, std::error_code& ec) noexcept;

  /// Two streams connected to each other (socketpair), for a parent and a child or for tests.
  static std::pair<UnixStream, UnixStream> pair();
};

}  // namespace sockkit::net
