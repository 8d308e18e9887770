#include "sockkit/net/endpoint.hpp"

#include <netdb.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "address_text.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::net {
namespace {

struct AddrinfoDeleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrinfoList = std::unique_ptr<addrinfo, AddrinfoDeleter>;

}  // namespace

Endpoint::Endpoint(const Address& address) : address_(address) {}

Endpoint::Endpoint(std::string_view host, std::uint16_t port) {
  *this = parse(host, std::to_string(port));
}

Endpoint Endpoint::parse(std::string_view text) {
  auto parsed = detail::parse_address_text(text);
  return Endpoint(parsed.address, std::move(parsed.host), parsed.port);
}

Endpoint Endpoint::parse(std::string_view host, std::string_view port) {
  auto parsed = detail::parse_host_port(host, port);
  return Endpoint(parsed.address, std::move(parsed.host), parsed.port);
}

std::uint16_t Endpoint::port() const noexcept {
  return address_ ? address_->port() : port_;
}

std::vector<Address> Endpoint::resolve(std::error_code& ec) const {
  if (address_) {
    ec.clear();
    return {*address_};
  }
  return net::resolve(host_, port_, SOCK_STREAM, ec);
}

std::vector<Address> Endpoint::resolve() const {
  std::error_code ec;
  auto addresses = resolve(ec);
  if (ec) sys::throw_error(ec, "resolve " + to_string());
  return addresses;
}

std::string Endpoint::to_string() const {
  return address_ ? address_->to_string() : host_ + ":" + std::to_string(port_);
}

std::vector<Address> resolve(const std::string& host, std::uint16_t port, int socket_type,
                             std::error_code& ec) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socket_type;
  // No AI_ADDRCONFIG: it hides ::1 on a machine whose only IPv6 address is loopback, which
  // is exactly the machine (or network namespace) a test runs in.
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const auto service = std::to_string(port);
  const int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw);
  AddrinfoList list(raw);
  if (status != 0) {
    ec = status == EAI_SYSTEM ? sys::last_error() : std::error_code(status, resolver_category());
    return {};
  }
  std::vector<Address> addresses;
  for (const addrinfo* entry = list.get(); entry != nullptr; entry = entry->ai_next) {
    auto address = Address::from_sockaddr(entry->ai_addr, entry->ai_addrlen);
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(address);
    }
  }
  ec.clear();
  return addresses;
}

std::vector<Address> resolve(const std::string& host, std::uint16_t port, int socket_type) {
  std::error_code ec;
  auto addresses = resolve(host, port, socket_type, ec);
  if (ec) sys::throw_error(ec, "resolve " + host);
  return addresses;
}

std::string host_name() {
  std::error_code ec;
  auto name = sys::host_name(ec);
  if (ec) sys::throw_error(ec, "gethostname");
  return name;
}

}  // namespace sockkit::net
