#include "sockkit/net/tcp_listener.hpp"

#include "socket_helpers.hpp"

namespace sockkit::net {

TcpListener TcpListener::bind(const Endpoint& endpoint, const ListenOptions& options,
                              std::error_code& ec) {
  const auto addresses = endpoint.resolve(ec);
  if (ec) return {};
  ec = std::make_error_code(std::errc::address_not_available);  // when the list is empty
  for (const auto& address : addresses) {
    if (!address.is_ip()) {
      ec = std::make_error_code(std::errc::address_family_not_supported);
      continue;
    }
    auto listener = StreamListener::bind(address, options, ec);
    if (!ec) return TcpListener(std::move(listener));
  }
  return {};
}

TcpListener TcpListener::bind(const Endpoint& endpoint, const ListenOptions& options) {
  std::error_code ec;
  auto listener = bind(endpoint, options, ec);
  if (ec) sys::throw_error(ec, "bind " + endpoint.to_string());
  return listener;
}

}  // namespace sockkit::net
