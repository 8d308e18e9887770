#pragma once

// The one parser for address strings, shared by Address::parse (numeric only) and
// Endpoint::parse (which also accepts host names). Private to the library.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sockkit/net/address.hpp"

namespace sockkit::net::detail {

struct ParsedAddressText {
  std::optional<Address> address;  // set when the host is numeric or the address is Unix
  std::string host;                // the host name otherwise
  std::uint16_t port = 0;
};

/// Splits and checks `text`; throws AddressError naming `text` and the problem.
ParsedAddressText parse_address_text(std::string_view text);

/// Parses a host and a port given separately; `host` may be numeric (brackets optional for
/// IPv6), a name, or empty for every IPv4 interface.
ParsedAddressText parse_host_port(std::string_view host, std::string_view port);

/// Throws the AddressError for `text` with `reason`.
[[noreturn]] void throw_invalid(std::string_view text, const std::string& reason);

}  // namespace sockkit::net::detail
