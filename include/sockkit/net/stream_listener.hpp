#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <sys/socket.h>

#include <system_error>

#include "sockkit/net/address.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::net {

/// How a listener is set up. The defaults are the safe ones.
struct ListenOptions {
  /// Pending connections the kernel queues before accept(); SOMAXCONN caps it.
  int backlog = SOMAXCONN;
  /// SO_REUSEPORT: let several sockets share the port. Off, so a second server on a port in
  /// use fails with "Address already in use" instead of silently sharing it.
  bool reuse_port = false;
  /// For an IPv6 address such as [::]: accept IPv4 clients too (IPV6_V6ONLY off).
  bool dual_stack = false;
  /// A Unix path's permission bits (0660: owner and group may connect), set before the
  /// socket listens, so nobody connects while the umask's bits still apply. 0 leaves what
  /// the umask gives.
  unsigned unix_mode = 0;
};

/// A listening stream socket, TCP or Unix-domain. Owns its fd and, when bound to a Unix
/// path, the socket file, which it removes when destroyed. One thread at a time may accept.
class StreamListener {
 public:
  StreamListener() noexcept = default;
  StreamListener(StreamListener&& other) noexcept;
  StreamListener& operator=(StreamListener&& other) noexcept;
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;
  ~StreamListener();

  /// Binds and listens. TCP listeners set SO_REUSEADDR, so a restart is not refused because
  /// of old connections in TIME_WAIT. A Unix socket file left behind by a server that is
  /// gone is replaced; one a live server listens on is "Address already in use" (that
  /// server sees the check as one connection that closes at once); anything else at the
  /// path (a file, a folder, a symbolic link, even to a socket) is never removed:
  /// `Errc::path_not_a_socket`, "exists and is not a socket".
  static StreamListener bind(const Address& address, const ListenOptions& options = {});
  static StreamListener bind(const Address& address, const ListenOptions& options,
                             std::error_code& ec) noexcept;

  /// Waits for a client; `peer`, if given, receives its address.
  StreamSocket accept(Address* peer = nullptr);
  StreamSocket accept(Address* peer, std::error_code& ec) noexcept;

  /// The bound address, with the real port when port 0 was asked for.
  [[nodiscard]] const Address& local_address() const noexcept { return local_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_.valid(); }
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// Stops listening now (and removes an owned Unix path) instead of at destruction.
  void close() noexcept;

 private:
  sys::Fd fd_;
  Address local_;
  bool owns_path_ = false;
};

}  // namespace sockkit::net
