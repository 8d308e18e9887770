#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <system_error>
#include <utility>

#include "sockkit/net/endpoint.hpp"
#include "sockkit/net/stream_listener.hpp"
#include "sockkit/net/tcp_stream.hpp"

namespace sockkit::net {

/// A listening TCP socket whose accept() gives TcpStreams. Owns its fd; one thread at a
/// time may accept.
class TcpListener : public StreamListener {
 public:
  TcpListener() noexcept = default;
  explicit TcpListener(StreamListener&& listener) noexcept : StreamListener(std::move(listener)) {}

  /// Binds to `endpoint` ("127.0.0.1:65432", ":65432", "[::1]:0", "localhost:8080": the
  /// first resolved address that binds) and listens.
  static TcpListener bind(const Endpoint& endpoint, const ListenOptions& options = {});
  static TcpListener bind(const Endpoint& endpoint, const ListenOptions& options,
                          std::error_code& ec);

  TcpStream accept(Address* peer = nullptr) { return TcpStream(StreamListener::accept(peer)); }
  TcpStream accept(Address* peer, std::error_code& ec) noexcept {
    return TcpStream(StreamListener::accept(peer, ec));
  }
};

}  // namespace sockkit::net
