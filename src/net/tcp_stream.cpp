#include "sockkit/net/tcp_stream.hpp"

#include "socket_helpers.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::net {
namespace {

bool rejects_non_ip(const Address& address, std::error_code& ec) noexcept {
  if (address.is_ip()) return false;
  ec = std::make_error_code(std::errc::address_family_not_supported);
  return true;
}

}  // namespace

TcpStream TcpStream::connect(const Address& address, Timeout timeout,
                             std::error_code& ec) noexcept {
  if (rejects_non_ip(address, ec)) return {};
  return TcpStream(StreamSocket::connect(address, timeout, ec));
}

TcpStream TcpStream::connect(const Address& address, Timeout timeout) {
  std::error_code ec;
  auto stream = connect(address, timeout, ec);
  detail::throw_if(ec, "connect", address);
  return stream;
}

TcpStream TcpStream::connect(const Endpoint& endpoint, Timeout timeout, std::error_code& ec) {
  if (endpoint.address() && rejects_non_ip(*endpoint.address(), ec)) return {};
  return TcpStream(StreamSocket::connect(endpoint, timeout, ec));
}

TcpStream TcpStream::connect(const Endpoint& endpoint, Timeout timeout) {
  if (endpoint.address()) return connect(*endpoint.address(), timeout);
  return TcpStream(StreamSocket::connect(endpoint, timeout));
}

void TcpStream::set_no_delay(bool on) {
  sys::set_option(fd_.get(), sys::NoDelay{on});
}

void TcpStream::set_keepalive(const KeepAliveSettings& settings) {
  sys::set_option(fd_.get(), sys::KeepAliveIdle{settings.idle});
  sys::set_option(fd_.get(), sys::KeepAliveInterval{settings.interval});
  sys::set_option(fd_.get(), sys::KeepAliveCount{settings.count});
  sys::set_option(fd_.get(), sys::KeepAlive{true});
}

void TcpStream::set_user_timeout(std::chrono::milliseconds timeout) {
  sys::set_option(fd_.get(), sys::UserTimeout{timeout});
}

void TcpStream::set_linger(std::optional<std::chrono::seconds> linger) {
  sys::set_option(fd_.get(),
                  sys::Linger{linger.has_value(), linger.value_or(std::chrono::seconds{})});
}

}  // namespace sockkit::net
