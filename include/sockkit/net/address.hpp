#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <sys/socket.h>

#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sockkit::net {

/// A malformed address string. The message names the string and what is wrong with it:
/// "invalid address ':99999': port 99999 is out of range (0-65535)".
class AddressError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A socket address: IPv4, IPv6, a Unix-domain path or a Linux abstract name. A plain value
/// (copyable, comparable); it owns nothing.
class Address {
 public:
  enum class Family { unspecified, ipv4, ipv6, unix_path, unix_abstract };

  /// The unspecified address; `family()` is `Family::unspecified`.
  Address() noexcept;

  /// `ip` in host byte order, e.g. 0x7F000001 for 127.0.0.1.
  static Address ipv4(std::uint32_t ip, std::uint16_t port) noexcept;
  static Address ipv4_loopback(std::uint16_t port = 0) noexcept;
  static Address ipv4_any(std::uint16_t port = 0) noexcept;
  static Address ipv6_loopback(std::uint16_t port = 0) noexcept;
  static Address ipv6_any(std::uint16_t port = 0) noexcept;
  /// A filesystem path; throws AddressError if it is empty or longer than 107 bytes.
  static Address unix_path(std::string_view path);
  /// A Linux abstract-namespace name (no file); throws AddressError if longer than 107 bytes.
  static Address unix_abstract(std::string_view name);
  /// Copies what the kernel filled in (accept, getsockname, recvfrom).
  static Address from_sockaddr(const sockaddr* address, socklen_t length) noexcept;

  /// Parses a numeric address: "127.0.0.1:65432", "[::1]:8080", "[fe80::1%eth0]:80",
  /// ":65432" (every IPv4 interface, the tutorial's ''), "unix:/run/x.sock", "unix:@name".
  /// A port may be a service name from /etc/services ("127.0.0.1:http"), as nc takes it.
  /// Host names need resolving: use `Endpoint::parse` and `Endpoint::resolve` for those.
  /// Throws AddressError.
  static Address parse(std::string_view text);

  [[nodiscard]] Family family() const noexcept { return family_; }
  /// AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC: what socket() needs.
  [[nodiscard]] int domain() const noexcept { return storage_.ss_family; }
  [[nodiscard]] bool is_ip() const noexcept;
  [[nodiscard]] bool is_unix() const noexcept;

  /// The port (0 for Unix addresses).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// A copy with another port; Unix addresses are returned unchanged.
  [[nodiscard]] Address with_port(std::uint16_t port) const noexcept;

  /// "127.0.0.1", "::1", "/run/x.sock", "@name"; "" when unspecified or an unnamed Unix socket.
  [[nodiscard]] std::string host() const;
  /// The form `parse` reads back: "127.0.0.1:80", "[::1]:80", "unix:/run/x.sock",
  /// "unix:@name"; "unix:(unnamed)" for an unbound Unix socket, "(unspecified)" when empty.
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] const sockaddr* data() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  [[nodiscard]] socklen_t size() const noexcept { return size_; }

  friend bool operator==(const Address& a, const Address& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
  Family family_ = Family::unspecified;
};

std::ostream& operator<<(std::ostream& out, const Address& address);

}  // namespace sockkit::net
