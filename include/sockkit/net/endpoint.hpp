#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sockkit/net/address.hpp"

namespace sockkit::net {

/// Where to connect or listen, as a person wrote it: either a concrete Address, or a host
/// name and a port still to be resolved ("localhost:80"). A plain value.
class Endpoint {
 public:
  /// An endpoint that is already an address.
  Endpoint(const Address& address);  // NOLINT(google-explicit-constructor): an Address is one
  /// `host` may be numeric ("127.0.0.1", "::1", "[::1]"), a name, or "" for every IPv4
  /// interface (the tutorial's ''). Throws AddressError for a malformed host.
  Endpoint(std::string_view host, std::uint16_t port);

  /// Everything `Address::parse` reads, plus "host-name:port" ("localhost:http": a port
  /// may be a service name). Throws AddressError.
  static Endpoint parse(std::string_view text);
  /// A host and a port given apart, as on a command line: ("::1", "8080"). Throws AddressError.
  static Endpoint parse(std::string_view host, std::string_view port);

  /// The address, when no resolution is needed.
  [[nodiscard]] const std::optional<Address>& address() const noexcept { return address_; }
  /// The host name to resolve ("" when `address()` is set).
  [[nodiscard]] const std::string& host_name() const noexcept { return host_; }
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Every address this endpoint names, in the resolver's order of preference.
  [[nodiscard]] std::vector<Address> resolve() const;
  [[nodiscard]] std::vector<Address> resolve(std::error_code& ec) const;

  /// "localhost:80", or the address's own form.
  [[nodiscard]] std::string to_string() const;

 private:
  Endpoint(std::optional<Address> address, std::string host, std::uint16_t port)
      : address_(address), host_(std::move(host)), port_(port) {}

  std::optional<Address> address_;
  std::string host_;
  std::uint16_t port_ = 0;
};

/// Every address `getaddrinfo` gives for `host` and `port`, for `socket_type` (SOCK_STREAM or
/// SOCK_DGRAM), in its order of preference. Failures are codes of `resolver_category()`.
[[nodiscard]] std::vector<Address> resolve(const std::string& host, std::uint16_t port,
                                           int socket_type = SOCK_STREAM);
[[nodiscard]] std::vector<Address> resolve(const std::string& host, std::uint16_t port,
                                           int socket_type, std::error_code& ec);

/// This machine's host name (the tutorial's socket.gethostname()).
[[nodiscard]] std::string host_name();

}  // namespace sockkit::net
