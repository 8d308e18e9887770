#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cerrno>
#include <string>
#include <system_error>

namespace sockkit::sys {

/// The calling thread's errno as an error code of the system category.
[[nodiscard]] inline std::error_code last_error() noexcept {
  return {errno, std::system_category()};
}

/// Throws `std::system_error` whose message reads "<context>: <reason>", for example
/// "connect 127.0.0.1:65432: Connection refused".
[[noreturn]] void throw_error(const std::error_code& ec, const std::string& context);

}  // namespace sockkit::sys
