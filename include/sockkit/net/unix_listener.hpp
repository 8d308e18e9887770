#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <system_error>
#include <utility>

#include "sockkit/net/stream_listener.hpp"
#include "sockkit/net/unix_stream.hpp"

namespace sockkit::net {

/// A listening Unix-domain socket whose accept() gives UnixStreams. Owns its fd and its
/// socket file (removed when destroyed); one thread at a time may accept.
class UnixListener : public StreamListener {
 public:
  UnixListener() noexcept = default;
  explicit UnixListener(StreamListener&& listener) noexcept : StreamListener(std::move(listener)) {}

  /// Binds to `Address::unix_path(...)` or `Address::unix_abstract(...)` and listens.
  static UnixListener bind(const Address& address, const ListenOptions& options = {});
  static UnixListener bind(const Address& address, const ListenOptions& options,
                           std::error_code& ec) noexcept;

  UnixStream accept(Address* peer = nullptr) { return UnixStream(StreamListener::accept(peer)); }
  UnixStream accept(Address* peer, std::error_code& ec) noexcept {
    return UnixStream(StreamListener::accept(peer, ec));
  }
};

}  // namespace sockkit::net
