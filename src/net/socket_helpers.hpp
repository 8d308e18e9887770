#pragma once

// Helpers shared by the blocking socket types. Private to the library.

#include <cerrno>
#include <string>
#include <system_error>

#include "sockkit/net/address.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::net::detail {

/// A blocking socket reports an expired SO_RCVTIMEO/SO_SNDTIMEO as EAGAIN; callers of the
/// blocking API asked for a timeout, so they get `std::errc::timed_out`.
inline void timeout_as_timed_out(std::error_code& ec) noexcept {
  if (ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block) {
    ec = std::make_error_code(std::errc::timed_out);
  }
}

/// Throws "<operation> <address>: <reason>" when `ec` is set.
inline void throw_if(const std::error_code& ec, const char* operation, const Address& address) {
  if (ec) sys::throw_error(ec, std::string(operation) + " " + address.to_string());
}

/// The address `fd` is bound to (getsockname), e.g. to learn the port the kernel chose.
inline Address bound_address(int fd, std::error_code& ec) noexcept {
  sockaddr_storage storage{};
  socklen_t length = 0;
  sys::local_address(fd, storage, length, ec);
  if (ec) return {};
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
}

}  // namespace sockkit::net::detail
