#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <span>
#include <system_error>

#include "sockkit/net/address.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::net {

/// A UDP socket. Owns its fd; one thread may send while another receives. A datagram goes
/// out whole or not at all, and one too big for the receive buffer is an error
/// (`Errc::datagram_truncated`), never silently cut.
class UdpSocket {
 public:
  UdpSocket() noexcept = default;

  /// A socket bound to `local` (port 0: the kernel picks one).
  static UdpSocket bind(const Address& local);
  static UdpSocket bind(const Address& local, std::error_code& ec) noexcept;
  /// A socket whose default destination is `peer`; it then only hears from `peer`.
  static UdpSocket connect(const Address& peer);
  static UdpSocket connect(const Address& peer, std::error_code& ec) noexcept;

  /// To the connected peer. Returns the datagram's size.
  std::size_t send(std::span<const std::byte> datagram);
  std::size_t send(std::span<const std::byte> datagram, std::error_code& ec) noexcept;
  std::size_t send_to(std::span<const std::byte> datagram, const Address& to);
  std::size_t send_to(std::span<const std::byte> datagram, const Address& to,
                      std::error_code& ec) noexcept;

  /// Receives one datagram; returns its size.
  std::size_t recv(std::span<std::byte> buffer);
  std::size_t recv(std::span<std::byte> buffer, std::error_code& ec) noexcept;
  /// Receives one datagram and the address it came from.
  std::size_t recv_from(std::span<std::byte> buffer, Address& from);
  std::size_t recv_from(std::span<std::byte> buffer, Address& from, std::error_code& ec) noexcept;

  /// The longest a receive may wait; then it fails with `std::errc::timed_out`. Zero: forever.
  void set_read_timeout(Timeout timeout);

  [[nodiscard]] Address local_address() const;
  [[nodiscard]] bool is_open() const noexcept { return fd_.valid(); }
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

 private:
  explicit UdpSocket(sys::Fd fd, const Address& peer) noexcept : fd_(std::move(fd)), peer_(peer) {}

  sys::Fd fd_;
  Address peer_;  // the connected peer, if any, for error messages
};

}  // namespace sockkit::net
