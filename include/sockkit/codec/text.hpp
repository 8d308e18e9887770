#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Showing bytes to people.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace sockkit::codec {

/// Python's repr() of a bytes object, as the socket tutorial prints what it received:
/// `b'Hello, world'`, `b"it's"`, `b'\x00\xff\n'`. Byte for byte what CPython prints, so
/// output can be compared with a Python peer's.
[[nodiscard]] std::string python_bytes_repr(std::span<const std::byte> bytes);
[[nodiscard]] inline std::string python_bytes_repr(std::string_view text) {
  return python_bytes_repr(std::as_bytes(std::span(text)));
}

/// The inside of python_bytes_repr, quoted with `quote` (' or "), appended to `out`: for
/// bytes shown as they arrive, a piece at a time, before the whole is known. Appending to
/// one reused string allocates nothing once it has grown.
void append_python_bytes_escaped(std::string& out, std::span<const std::byte> bytes, char quote);

}  // namespace sockkit::codec
