#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <array>
#include <cstddef>
#include <span>
#include <system_error>

#include "sockkit/codec/frame_format.hpp"

namespace sockkit::codec {

/// Writes frame headers. It never copies a payload: a stream sends the header it returns
/// and the payload together in one gathered write. A value; not synchronised.
class FrameEncoder {
 public:
  /// Throws std::invalid_argument for a header width other than 2, 4 or 8.
  explicit FrameEncoder(FrameFormat format = {});

  /// The header for a payload of `payload_size` bytes, valid until the next call. Sets `ec`
  /// to `FrameErrc::too_large` (and returns an empty span) when the size is above
  /// `max_frame` or above what the header can express.
  [[nodiscard]] std::span<const std::byte> header(std::size_t payload_size,
                                                  std::error_code& ec) noexcept;

  [[nodiscard]] const FrameFormat& format() const noexcept { return format_; }

 private:
  FrameFormat format_;
  std::array<std::byte, 8> header_{};
};

}  // namespace sockkit::codec
