#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>

namespace sockkit::codec {

/// How frames look on the wire: an unsigned big-endian length header of `header_bytes`
/// (2, 4 or 8), then that many payload bytes; and the largest payload a reader accepts.
/// Python writes the default format as `struct.pack('!I', len(p)) + p`.
struct FrameFormat {
  static constexpr std::size_t kDefaultMaxFrame = 1024 * 1024;

  std::size_t header_bytes = 4;
  std::size_t max_frame = kDefaultMaxFrame;

  /// The largest length the header can express (65535 for a 2-byte header).
  [[nodiscard]] std::uint64_t header_limit() const noexcept {
    return header_bytes >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * header_bytes)) - 1;
  }
  /// Whether the header width is one of 2, 4 or 8.
  [[nodiscard]] bool valid() const noexcept {
    return header_bytes == 2 || header_bytes == 4 || header_bytes == 8;
  }
  /// Throws std::invalid_argument unless `valid()`.
  void validate() const;

  /// The length in a complete header (`header_bytes` long).
  [[nodiscard]] std::uint64_t read_length(std::span<const std::byte> header) const noexcept;
  /// Writes `length` as a header into the first `header_bytes` of `out`.
  void write_length(std::span<std::byte, 8> out, std::uint64_t length) const noexcept;
};

/// Why a frame could not be read or written.
enum class FrameErrc {
  /// The declared (or given) length is above `max_frame`, or above what the header holds.
  too_large = 1,
  /// The stream ended inside a frame.
  truncated,
};

const std::error_category& frame_category() noexcept;

inline std::error_code make_error_code(FrameErrc e) noexcept {
  return {static_cast<int>(e), frame_category()};
}

}  // namespace sockkit::codec

template <>
struct std::is_error_code_enum<sockkit::codec::FrameErrc> : std::true_type {};
