#include "sockkit/net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <optional>
#include <ostream>

#include "address_text.hpp"
#include "sockkit/codec/byte_order.hpp"

namespace sockkit::net {
namespace {

constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;  // 107 on Linux

template <class T>
T& as(sockaddr_storage& storage) noexcept {
  return *reinterpret_cast<T*>(&storage);
}

template <class T>
const T& as(const sockaddr_storage& storage) noexcept {
  return *reinterpret_cast<const T*>(&storage);
}

bool is_port_text(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A service's port from /etc/services ("http", "ssh"), as nc takes them: its TCP port, or
// else its UDP one.
std::optional<std::uint16_t> service_port(std::string_view name) {
  const auto plain = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  };
  if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), plain)) {
    return std::nullopt;
  }
  const std::string text(name);
  for (const char* protocol : {"tcp", "udp"}) {
    servent entry{};
    servent* found = nullptr;
    std::array<char, 4096> scratch{};
    if (::getservbyname_r(text.c_str(), protocol, &entry, scratch.data(), scratch.size(), &found) ==
            0 &&
        found != nullptr) {
      return codec::from_network_order(static_cast<std::uint16_t>(found->s_port));
    }
  }
  return std::nullopt;
}

std::uint16_t parse_port(std::string_view whole, std::string_view text) {
  if (text.empty()) detail::throw_invalid(whole, "missing port number after ':'");
  if (!is_port_text(text)) {
    if (const auto port = service_port(text)) return *port;
    detail::throw_invalid(whole, "port '" + std::string(text) +
                                     "' is neither a number nor a service name (/etc/services)");
  }
  if (text.size() > 5 || std::stoul(std::string(text)) > 65535) {
    detail::throw_invalid(whole, "port " + std::string(text) + " is out of range (0-65535)");
  }
  return static_cast<std::uint16_t>(std::stoul(std::string(text)));
}

// An IPv6 literal without brackets, optionally with a zone: "::1", "fe80::1%eth0".
std::optional<Address> parse_ipv6(std::string_view whole, std::string_view text,
                                  std::uint16_t port) {
  const auto percent = text.find('%');
  const std::string ip(text.substr(0, percent));
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = codec::to_network_order(port);
  if (::inet_pton(AF_INET6, ip.c_str(), &sin6.sin6_addr) != 1) return std::nullopt;
  if (percent != std::string_view::npos) {
    const std::string zone(text.substr(percent + 1));
    if (zone.empty()) detail::throw_invalid(whole, "empty IPv6 zone after '%'");
    if (is_port_text(zone)) {
      sin6.sin6_scope_id = static_cast<std::uint32_t>(std::stoul(zone));
    } else {
      sin6.sin6_scope_id = ::if_nametoindex(zone.c_str());
      if (sin6.sin6_scope_id == 0) {
        detail::throw_invalid(whole, "unknown network interface '" + zone + "'");
      }
    }
  }
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

std::optional<Address> parse_ipv4(std::string_view text, std::uint16_t port) {
  const std::string ip(text);
  in_addr addr{};
  if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1) return std::nullopt;
  return Address::ipv4(codec::from_network_order(addr.s_addr), port);
}

// A host is a name if it is made of the characters DNS names and /etc/hosts use.
bool is_host_name(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

}  // namespace

namespace detail {

void throw_invalid(std::string_view text, const std::string& reason) {
  throw AddressError("invalid address '" + std::string(text) + "': " + reason);
}

ParsedAddressText parse_host_port(std::string_view host, std::string_view port_text) {
  std::string whole;
  if (host.find(':') != std::string_view::npos && host.front() != '[') {
    whole = "[" + std::string(host) + "]:" + std::string(port_text);
  } else {
    whole = std::string(host) + ":" + std::string(port_text);
  }
  return parse_address_text(whole);
}

ParsedAddressText parse_address_text(std::string_view text) {
  ParsedAddressText parsed;
  if (text.empty()) throw_invalid(text, "empty; expected HOST:PORT, [IPv6]:PORT or unix:PATH");

  if (text.starts_with("unix:")) {
    const auto path = text.substr(5);
    if (path.empty()) throw_invalid(text, "empty Unix socket path after 'unix:'");
    parsed.address =
        path.front() == '@' ? Address::unix_abstract(path.substr(1)) : Address::unix_path(path);
    return parsed;
  }

  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) throw_invalid(text, "missing ']' after IPv6 address");
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      throw_invalid(text, "expected ':PORT' after ']'");
    }
    parsed.port = parse_port(text, rest.substr(1));
    parsed.address = parse_ipv6(text, text.substr(1, close - 1), parsed.port);
    if (!parsed.address) {
      throw_invalid(text,
                    "'" + std::string(text.substr(1, close - 1)) + "' is not an IPv6 address");
    }
    return parsed;
  }

  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw_invalid(text, "missing ':PORT' (write HOST:PORT, or :PORT for every interface)");
  }
  const auto host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    throw_invalid(text, "an IPv6 address needs brackets, as in [::1]:8080");
  }
  parsed.port = parse_port(text, text.substr(colon + 1));
  if (host.empty()) {
    parsed.address = Address::ipv4_any(parsed.port);
    return parsed;
  }
  parsed.address = parse_ipv4(host, parsed.port);
  if (parsed.address) return parsed;
  if (!is_host_name(host)) {
    throw_invalid(text, "'" + std::string(host) + "' is neither an IP address nor a host name");
  }
  parsed.host = host;
  return parsed;
}

}  // namespace detail

Address::Address() noexcept {
  storage_.ss_family = AF_UNSPEC;
}

Address Address::ipv4(std::uint32_t ip, std::uint16_t port) noexcept {
  Address address;
  auto& sin = as<sockaddr_in>(address.storage_);
  sin.sin_family = AF_INET;
  sin.sin_port = codec::to_network_order(port);
  sin.sin_addr.s_addr = codec::to_network_order(ip);
  address.size_ = sizeof(sockaddr_in);
  address.family_ = Family::ipv4;
  return address;
}

Address Address::ipv4_loopback(std::uint16_t port) noexcept {
  return ipv4(0x7F000001, port);
}

Address Address::ipv4_any(std::uint16_t port) noexcept {
  return ipv4(0, port);
}

Address Address::ipv6_loopback(std::uint16_t port) noexcept {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = codec::to_network_order(port);
  sin6.sin6_addr = in6addr_loopback;
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

Address Address::ipv6_any(std::uint16_t port) noexcept {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = codec::to_network_order(port);
  sin6.sin6_addr = in6addr_any;
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

Address Address::unix_path(std::string_view path) {
  if (path.empty()) detail::throw_invalid("unix:", "empty Unix socket path");
  if (path.size() > kMaxUnixPath) {
    detail::throw_invalid("unix:" + std::string(path),
                          "Unix socket path is " + std::to_string(path.size()) +
                              " bytes; the limit is " + std::to_string(kMaxUnixPath));
  }
  if (path.find('\0') != std::string_view::npos) {
    detail::throw_invalid("unix:" + std::string(path), "Unix socket path contains a NUL byte");
  }
  Address address;
  auto& sun = as<sockaddr_un>(address.storage_);
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  address.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  address.family_ = Family::unix_path;
  return address;
}

Address Address::unix_abstract(std::string_view name) {
  if (name.size() > kMaxUnixPath) {
    detail::throw_invalid("unix:@" + std::string(name),
                          "abstract socket name is " + std::to_string(name.size()) +
                              " bytes; the limit is " + std::to_string(kMaxUnixPath));
  }
  Address address;
  auto& sun = as<sockaddr_un>(address.storage_);
  sun.sun_family = AF_UNIX;
  // An abstract name starts with a NUL byte and is exactly as long as the length says; it
  // is not NUL-terminated and never touches the filesystem.
  std::memcpy(sun.sun_path + 1, name.data(), name.size());
  address.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  address.family_ = Family::unix_abstract;
  return address;
}

Address Address::from_sockaddr(const sockaddr* source, socklen_t length) noexcept {
  Address address;
  if (source == nullptr || length < sizeof(sa_family_t)) return address;
  length = std::min<socklen_t>(length, sizeof(sockaddr_storage));
  std::memcpy(&address.storage_, source, length);
  address.size_ = length;
  switch (source->sa_family) {
    case AF_INET: address.family_ = Family::ipv4; break;
    case AF_INET6: address.family_ = Family::ipv6; break;
    case AF_UNIX: {
      const auto& sun = as<sockaddr_un>(address.storage_);
      const bool abstract = length > offsetof(sockaddr_un, sun_path) && sun.sun_path[0] == '\0';
      address.family_ = abstract ? Family::unix_abstract : Family::unix_path;
      break;
    }
    default: address.family_ = Family::unspecified; break;
  }
  return address;
}

Address Address::parse(std::string_view text) {
  auto parsed = detail::parse_address_text(text);
  if (!parsed.address) {
    detail::throw_invalid(text, "'" + parsed.host +
                                    "' is a host name, not a numeric address; resolve it "
                                    "with Endpoint::parse(...).resolve()");
  }
  return *parsed.address;
}

bool Address::is_ip() const noexcept {
  return family_ == Family::ipv4 || family_ == Family::ipv6;
}

bool Address::is_unix() const noexcept {
  return family_ == Family::unix_path || family_ == Family::unix_abstract;
}

std::uint16_t Address::port() const noexcept {
  switch (family_) {
    case Family::ipv4: return codec::from_network_order(as<sockaddr_in>(storage_).sin_port);
    case Family::ipv6: return codec::from_network_order(as<sockaddr_in6>(storage_).sin6_port);
    default: return 0;
  }
}

Address Address::with_port(std::uint16_t port) const noexcept {
  Address copy = *this;
  if (family_ == Family::ipv4)
    as<sockaddr_in>(copy.storage_).sin_port = codec::to_network_order(port);
  if (family_ == Family::ipv6) {
    as<sockaddr_in6>(copy.storage_).sin6_port = codec::to_network_order(port);
  }
  return copy;
}

std::string Address::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family_) {
    case Family::ipv4:
      ::inet_ntop(AF_INET, &as<sockaddr_in>(storage_).sin_addr, text, sizeof text);
      return text;
    case Family::ipv6: {
      const auto& sin6 = as<sockaddr_in6>(storage_);
      ::inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
      std::string host = text;
      if (sin6.sin6_scope_id != 0) {
        char name[IF_NAMESIZE] = {};
        host += '%';
        host += ::if_indextoname(sin6.sin6_scope_id, name) != nullptr
                    ? std::string(name)
                    : std::to_string(sin6.sin6_scope_id);
      }
      return host;
    }
    case Family::unix_path: {
      const auto& sun = as<sockaddr_un>(storage_);
      const auto max = size_ - offsetof(sockaddr_un, sun_path);
      return std::string(sun.sun_path, ::strnlen(sun.sun_path, max));
    }
    case Family::unix_abstract: {
      const auto& sun = as<sockaddr_un>(storage_);
      return "@" + std::string(sun.sun_path + 1, size_ - offsetof(sockaddr_un, sun_path) - 1);
    }
    case Family::unspecified: break;
  }
  return {};
}

std::string Address::to_string() const {
  std::string text;
  switch (family_) {
    case Family::ipv4: text.append(host()).append(":").append(std::to_string(port())); break;
    case Family::ipv6:
      text.append("[").append(host()).append("]:").append(std::to_string(port()));
      break;
    case Family::unix_path:
    case Family::unix_abstract: {
      const auto name = host();
      text.append("unix:").append(name.empty() ? "(unnamed)" : name);
      break;
    }
    case Family::unspecified: text = "(unspecified)"; break;
  }
  return text;
}

bool operator==(const Address& a, const Address& b) noexcept {
  return a.size_ == b.size_ && a.family_ == b.family_ &&
         std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

std::ostream& operator<<(std::ostream& out, const Address& address) {
  return out << address.to_string();
}

}  // namespace sockkit::net
