#include "sockkit/net/unix_listener.hpp"

#include "socket_helpers.hpp"

namespace sockkit::net {

UnixListener UnixListener::bind(const Address& address, const ListenOptions& options,
                                std::error_code& ec) noexcept {
  if (!address.is_unix()) {
    ec = std::make_error_code(std::errc::address_family_not_supported);
    return {};
  }
  return UnixListener(StreamListener::bind(address, options, ec));
}

UnixListener UnixListener::bind(const Address& address, const ListenOptions& options) {
  std::error_code ec;
  auto listener = bind(address, options, ec);
  detail::throw_if(ec, "bind", address);
  return listener;
}

}  // namespace sockkit::net
