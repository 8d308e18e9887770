#include "sockkit/net/udp_socket.hpp"

#include "socket_helpers.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::net {
namespace {

// MSG_TRUNC makes recv report the datagram's real size, so a cut one is caught.
std::size_t checked_size(std::size_t real_size, std::size_t buffer_size,
                         std::error_code& ec) noexcept {
  if (!ec && real_size > buffer_size) {
    ec = Errc::datagram_truncated;
    return buffer_size;
  }
  return real_size;
}

}  // namespace

UdpSocket UdpSocket::bind(const Address& local, std::error_code& ec) noexcept {
  sys::Fd fd = sys::open_socket(local.domain(), SOCK_DGRAM, 0, ec);
  if (!ec) sys::bind(fd.get(), local.data(), local.size(), ec);
  if (ec) return {};
  return UdpSocket(std::move(fd), Address());
}

UdpSocket UdpSocket::bind(const Address& local) {
  std::error_code ec;
  auto socket = bind(local, ec);
  detail::throw_if(ec, "bind (udp)", local);
  return socket;
}

UdpSocket UdpSocket::connect(const Address& peer, std::error_code& ec) noexcept {
  sys::Fd fd = sys::open_socket(peer.domain(), SOCK_DGRAM, 0, ec);
  if (!ec) sys::connect(fd.get(), peer.data(), peer.size(), ec);
  if (ec) return {};
  return UdpSocket(std::move(fd), peer);
}

UdpSocket UdpSocket::connect(const Address& peer) {
  std::error_code ec;
  auto socket = connect(peer, ec);
  detail::throw_if(ec, "connect (udp)", peer);
  return socket;
}

std::size_t UdpSocket::send(std::span<const std::byte> datagram, std::error_code& ec) noexcept {
  return sys::send(fd_.get(), datagram, 0, ec);
}

std::size_t UdpSocket::send(std::span<const std::byte> datagram) {
  std::error_code ec;
  const auto sent = send(datagram, ec);
  detail::throw_if(ec, "send (udp) to", peer_);
  return sent;
}

std::size_t UdpSocket::send_to(std::span<const std::byte> datagram, const Address& to,
                               std::error_code& ec) noexcept {
  return sys::send_to(fd_.get(), datagram, 0, to.data(), to.size(), ec);
}

std::size_t UdpSocket::send_to(std::span<const std::byte> datagram, const Address& to) {
  std::error_code ec;
  const auto sent = send_to(datagram, to, ec);
  detail::throw_if(ec, "sendto", to);
  return sent;
}

std::size_t UdpSocket::recv(std::span<std::byte> buffer, std::error_code& ec) noexcept {
  const auto size = sys::recv(fd_.get(), buffer, MSG_TRUNC, ec);
  detail::timeout_as_timed_out(ec);
  return checked_size(size, buffer.size(), ec);
}

std::size_t UdpSocket::recv(std::span<std::byte> buffer) {
  std::error_code ec;
  const auto size = recv(buffer, ec);
  detail::throw_if(ec, "recv (udp) from", peer_);
  return size;
}

std::size_t UdpSocket::recv_from(std::span<std::byte> buffer, Address& from,
                                 std::error_code& ec) noexcept {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const auto size = sys::recv_from(fd_.get(), buffer, MSG_TRUNC, &storage, &length, ec);
  detail::timeout_as_timed_out(ec);
  if (!ec) from = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
  return checked_size(size, buffer.size(), ec);
}

std::size_t UdpSocket::recv_from(std::span<std::byte> buffer, Address& from) {
  std::error_code ec;
  const auto size = recv_from(buffer, from, ec);
  detail::throw_if(ec, "recvfrom on", local_address());
  return size;
}

void UdpSocket::set_read_timeout(Timeout timeout) {
  sys::set_option(fd_.get(), sys::ReceiveTimeout{timeout});
}

Address UdpSocket::local_address() const {
  std::error_code ec;
  auto address = detail::bound_address(fd_.get(), ec);
  if (ec) sys::throw_error(ec, "getsockname (udp)");
  return address;
}

}  // namespace sockkit::net
