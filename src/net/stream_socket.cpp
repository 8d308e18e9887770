#include "sockkit/net/stream_socket.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>

#include "socket_helpers.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::net {
namespace {

// TCP: a non-blocking connect finished by poll(), which gives an exact timeout and
// survives signals (a blocking connect() interrupted by one cannot simply be called again).
void connect_tcp(int fd, const Address& address, Timeout timeout, std::error_code& ec) noexcept {
  sys::connect(fd, address.data(), address.size(), ec);
  if (ec == std::errc::operation_in_progress || ec == std::errc::interrupted) {
    const int wait_ms = timeout > Timeout::zero()
                            ? static_cast<int>(std::min<Timeout::rep>(timeout.count(), INT_MAX))
                            : -1;
    const short ready = sys::poll_one(fd, POLLOUT, wait_ms, ec);
    if (ec) return;
    if (ready == 0) {
      ec = std::make_error_code(std::errc::timed_out);
      return;
    }
    ec = sys::pending_error(fd);
  }
  if (!ec) sys::set_nonblocking(fd, false, ec);
}

// Unix: connect never goes "in progress"; it blocks while the listener's backlog is full
// (a non-blocking one would fail with EAGAIN instead of waiting its turn). SO_SNDTIMEO bounds
// that wait, and an interrupted attempt can be repeated because nothing was started.
void connect_unix(int fd, const Address& address, Timeout timeout, std::error_code& ec) noexcept {
  if (timeout > Timeout::zero()) {
    sys::set_option(fd, sys::SendTimeout{timeout}, ec);
    if (ec) return;
  }
  do {
    sys::connect(fd, address.data(), address.size(), ec);
  } while (ec == std::errc::interrupted);
  detail::timeout_as_timed_out(ec);
  if (!ec && timeout > Timeout::zero()) sys::set_option(fd, sys::SendTimeout{}, ec);
}

std::string tried_list(const std::vector<Address>& addresses) {
  std::string list;
  for (const auto& address : addresses) list += (list.empty() ? "" : ", ") + address.to_string();
  return list;
}

}  // namespace

StreamSocket StreamSocket::connect(const Address& address, Timeout timeout,
                                   std::error_code& ec) noexcept {
  const bool is_unix = address.is_unix();
  sys::Fd fd =
      sys::open_socket(address.domain(), SOCK_STREAM | (is_unix ? 0 : SOCK_NONBLOCK), 0, ec);
  if (ec) return {};
  if (is_unix) {
    connect_unix(fd.get(), address, timeout, ec);
  } else {
    connect_tcp(fd.get(), address, timeout, ec);
  }
  if (ec) return {};
  return StreamSocket(std::move(fd), address);
}

StreamSocket StreamSocket::connect(const Address& address, Timeout timeout) {
  std::error_code ec;
  auto stream = connect(address, timeout, ec);
  detail::throw_if(ec, "connect", address);
  return stream;
}

StreamSocket StreamSocket::connect_any(const std::vector<Address>& addresses, Timeout timeout,
                                       std::error_code& ec) noexcept {
  ec = std::make_error_code(std::errc::address_not_available);  // when the list is empty
  for (const auto& address : addresses) {
    auto stream = connect(address, timeout, ec);
    if (!ec) return stream;
  }
  return {};
}

StreamSocket StreamSocket::connect(const Endpoint& endpoint, Timeout timeout, std::error_code& ec) {
  const auto addresses = endpoint.resolve(ec);
  if (ec) return {};
  return connect_any(addresses, timeout, ec);
}

StreamSocket StreamSocket::connect(const Endpoint& endpoint, Timeout timeout) {
  const auto addresses = endpoint.resolve();
  std::error_code ec;
  auto stream = connect_any(addresses, timeout, ec);
  if (ec) {
    std::string context = "connect " + endpoint.to_string();
    if (!endpoint.address()) context += " (tried " + tried_list(addresses) + ")";
    sys::throw_error(ec, context);
  }
  return stream;
}

std::size_t StreamSocket::send_some(std::span<const std::byte> data, std::error_code& ec) noexcept {
  const auto sent = sys::send(fd_.get(), data, 0, ec);
  detail::timeout_as_timed_out(ec);
  return sent;
}

std::size_t StreamSocket::send_some(std::span<const std::byte> data) {
  std::error_code ec;
  const auto sent = send_some(data, ec);
  detail::throw_if(ec, "send to", peer_);
  return sent;
}

std::size_t StreamSocket::send_all(std::span<const std::byte> data, std::error_code& ec) noexcept {
  ec.clear();
  std::size_t sent = 0;
  while (sent < data.size() && !ec) sent += send_some(data.subspan(sent), ec);
  return sent;
}

void StreamSocket::send_all(std::span<const std::byte> data) {
  std::error_code ec;
  send_all(data, ec);
  detail::throw_if(ec, "send to", peer_);
}

std::size_t StreamSocket::send_all(std::span<const std::span<const std::byte>> buffers,
                                   std::error_code& ec) noexcept {
  ec.clear();
  constexpr std::size_t kMaxPieces = 64;  // per sendmsg; far below IOV_MAX
  std::size_t sent_total = 0;
  std::size_t first = 0;   // the first buffer not yet fully sent
  std::size_t offset = 0;  // bytes of it already sent
  while (first < buffers.size()) {
    std::array<iovec, kMaxPieces> pieces{};
    std::size_t count = 0;
    for (std::size_t i = first; i < buffers.size() && count < kMaxPieces; ++i) {
      const auto piece = buffers[i].subspan(i == first ? offset : 0);
      pieces[count++] = {const_cast<std::byte*>(piece.data()), piece.size()};
    }
    auto sent = sys::send_gathered(fd_.get(), std::span(pieces).first(count), 0, ec);
    detail::timeout_as_timed_out(ec);
    if (ec) break;
    sent_total += sent;
    // Step over what went out: whole buffers first, then part of the next.
    while (first < buffers.size() && sent >= buffers[first].size() - offset) {
      sent -= buffers[first].size() - offset;
      offset = 0;
      ++first;
    }
    offset += sent;
  }
  return sent_total;
}

void StreamSocket::send_all(std::span<const std::span<const std::byte>> buffers) {
  std::error_code ec;
  send_all(buffers, ec);
  detail::throw_if(ec, "send to", peer_);
}

std::size_t StreamSocket::recv_some(std::span<std::byte> buffer, std::error_code& ec) noexcept {
  const auto received = sys::recv(fd_.get(), buffer, 0, ec);
  detail::timeout_as_timed_out(ec);
  return received;
}

std::size_t StreamSocket::recv_some(std::span<std::byte> buffer) {
  std::error_code ec;
  const auto received = recv_some(buffer, ec);
  detail::throw_if(ec, "recv from", peer_);
  return received;
}

std::size_t StreamSocket::recv_exact(std::span<std::byte> buffer, std::error_code& ec) noexcept {
  ec.clear();
  std::size_t received = 0;
  while (received < buffer.size()) {
    const auto n = recv_some(buffer.subspan(received), ec);
    if (ec) break;
    if (n == 0) {
      ec = Errc::closed_early;
      break;
    }
    received += n;
  }
  return received;
}

void StreamSocket::recv_exact(std::span<std::byte> buffer) {
  std::error_code ec;
  const auto received = recv_exact(buffer, ec);
  if (ec == Errc::closed_early) {
    throw EarlyCloseError("recv_exact from " + peer_.to_string(), received, buffer.size());
  }
  detail::throw_if(ec, "recv from", peer_);
}

void StreamSocket::shutdown_write(std::error_code& ec) noexcept {
  sys::shutdown(fd_.get(), SHUT_WR, ec);
}

void StreamSocket::shutdown_write() {
  std::error_code ec;
  shutdown_write(ec);
  detail::throw_if(ec, "shutdown (write) to", peer_);
}

void StreamSocket::set_read_timeout(Timeout timeout) {
  sys::set_option(fd_.get(), sys::ReceiveTimeout{timeout});
}

void StreamSocket::set_write_timeout(Timeout timeout) {
  sys::set_option(fd_.get(), sys::SendTimeout{timeout});
}

Address StreamSocket::local_address() const {
  std::error_code ec;
  auto address = detail::bound_address(fd_.get(), ec);
  detail::throw_if(ec, "getsockname for", peer_);
  return address;
}

}  // namespace sockkit::net
