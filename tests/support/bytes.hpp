#pragma once

// Text as bytes and bytes as text, for tests that send and compare readable messages.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace sockkit::test {

/// The bytes of `text` (no copy: it must outlive the span).
inline std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text));
}

/// `data` as a string, byte for byte.
inline std::string as_string(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace sockkit::test
