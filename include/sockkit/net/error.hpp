#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <string>
#include <system_error>
#include <type_traits>

namespace sockkit::net {

/// Errors sockkit itself defines (the kernel's come as std::system_category codes).
enum class Errc {
  /// The peer closed the stream before `recv_exact` had every byte it asked for.
  closed_early = 1,
  /// A datagram was larger than the buffer given to receive it; nothing is silently cut.
  datagram_truncated,
  /// A Unix listener's path is taken by something that is not a socket (a file, a folder,
  /// a symbolic link): it is never removed to make room.
  path_not_a_socket,
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Errors from name resolution (getaddrinfo's EAI_* codes), which are not errno values.
const std::error_category& resolver_category() noexcept;

/// Thrown by `recv_exact` when the peer closes early: says how much did arrive.
/// what(): "recv_exact from 127.0.0.1:5000 (3 of 10 bytes arrived): peer closed the
/// connection early".
class EarlyCloseError : public std::system_error {
 public:
  EarlyCloseError(const std::string& context, std::size_t received, std::size_t expected);
  [[nodiscard]] std::size_t received() const noexcept { return received_; }
  [[nodiscard]] std::size_t expected() const noexcept { return expected_; }

 private:
  std::size_t received_;
  std::size_t expected_;
};

}  // namespace sockkit::net

template <>
struct std::is_error_code_enum<sockkit::net::Errc> : std::true_type {};
