#include "sockkit/net/unix_stream.hpp"

#include "socket_helpers.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::net {

UnixStream UnixStream::connect(const Address& address, Timeout timeout,
                               std::error_code& ec) noexcept {
  if (!address.is_unix()) {
    ec = std::make_error_code(std::errc::address_family_not_supported);
    return {};
  }
  return UnixStream(StreamSocket::connect(address, timeout, ec));
}

UnixStream UnixStream::connect(const Address& address, Timeout timeout) {
  std::error_code ec;
  auto stream = connect(address, timeout, ec);
  detail::throw_if(ec, "connect", address);
  return stream;
}

std::pair<UnixStream, UnixStream> UnixStream::pair() {
  sys::Fd first;
  sys::Fd second;
  std::error_code ec;
  sys::open_socket_pair(AF_UNIX, SOCK_STREAM, first, second, ec);
  if (ec) sys::throw_error(ec, "socketpair");
  return {UnixStream(std::move(first)), UnixStream(std::move(second))};
}

}  // namespace sockkit::net
