#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sockkit/net/address.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::net {

/// How long a blocking call may wait; zero means as long as it takes.
using Timeout = std::chrono::milliseconds;

/// A connected byte stream, TCP or Unix-domain: the part of both that is the same. Owns its
/// fd and closes it when destroyed. Not synchronised, except that one thread may send while
/// another receives. Blocking; every call that can fail has a throwing overload and a
/// `noexcept` one taking `std::error_code&`.
class StreamSocket {
 public:
  StreamSocket() noexcept = default;
  /// Adopts a connected stream socket. `peer` is the address error messages name.
  explicit StreamSocket(sys::Fd fd, const Address& peer = {}) noexcept
      : fd_(std::move(fd)), peer_(peer) {}

  /// Connects to `address` (TCP or Unix), waiting at most `timeout` (zero: the kernel's own
  /// limit). Throws `std::system_error`: "connect 127.0.0.1:65432: Connection refused".
  static StreamSocket connect(const Address& address, Timeout timeout = Timeout::zero());
  static StreamSocket connect(const Address& address, Timeout timeout,
                              std::error_code& ec) noexcept;
  /// Resolves `endpoint` and tries each address in turn until one connects; `timeout`
  /// applies to each attempt. The error names every address tried.
  static StreamSocket connect(const Endpoint& endpoint, Timeout timeout = Timeout::zero());
  static StreamSocket connect(const Endpoint& endpoint, Timeout timeout, std::error_code& ec);
  /// Tries each of `addresses` in turn until one connects (a resolved list, perhaps cut to
  /// one family); `timeout` applies to each attempt. `ec` is the last attempt's error, or
  /// address_not_available for an empty list.
  static StreamSocket connect_any(const std::vector<Address>& addresses, Timeout timeout,
                                  std::error_code& ec) noexcept;

  /// Sends what the kernel takes now (at least one byte, unless `data` is empty); returns
  /// how many bytes that was. A partial operation: see `send_all`.
  std::size_t send_some(std::span<const std::byte> data);
  std::size_t send_some(std::span<const std::byte> data, std::error_code& ec) noexcept;

  /// Sends every byte of `data`, looping over partial sends. On error the overload taking
  /// `ec` returns how many bytes did go out.
  void send_all(std::span<const std::byte> data);
  std::size_t send_all(std::span<const std::byte> data, std::error_code& ec) noexcept;
  void send_all(std::string_view text) { send_all(std::as_bytes(std::span(text))); }

  /// Sends every byte of every buffer, in order, as gathered writes: a frame's header and
  /// payload leave in one sendmsg when the kernel takes them, with no copy to join them.
  void send_all(std::span<const std::span<const std::byte>> buffers);
  std::size_t send_all(std::span<const std::span<const std::byte>> buffers,
                       std::error_code& ec) noexcept;

  /// Receives what has arrived (at least one byte); returns 0 when the peer has closed.
  std::size_t recv_some(std::span<std::byte> buffer);
  std::size_t recv_some(std::span<std::byte> buffer, std::error_code& ec) noexcept;

  /// Fills all of `buffer`, looping over partial receives. If the peer closes first, throws
  /// `EarlyCloseError` (which says how many bytes arrived), or sets `ec` to
  /// `Errc::closed_early` and returns the count.
  void recv_exact(std::span<std::byte> buffer);
  std::size_t recv_exact(std::span<std::byte> buffer, std::error_code& ec) noexcept;

  /// Half-close: tells the peer no more data is coming (it reads 0) while this side can
  /// still receive its replies.
  void shutdown_write();
  void shutdown_write(std::error_code& ec) noexcept;

  /// The longest a receive (or send) may wait for progress; then it fails with
  /// `std::errc::timed_out`. Zero turns the limit off.
  void set_read_timeout(Timeout timeout);
  void set_write_timeout(Timeout timeout);

  [[nodiscard]] Address local_address() const;
  /// The address this stream was connected to or accepted from.
  [[nodiscard]] const Address& peer_address() const noexcept { return peer_; }

  [[nodiscard]] bool is_open() const noexcept { return fd_.valid(); }
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  /// Closes now instead of at destruction.
  void close() noexcept { fd_.reset(); }
  /// Gives the fd to the caller; this object becomes closed.
  [[nodiscard]] sys::Fd release() noexcept { return std::move(fd_); }

 protected:
  sys::Fd fd_;
  Address peer_;
};

}  // namespace sockkit::net
