#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "sockkit/codec/frame_format.hpp"

namespace sockkit::codec {

/// One step of decoding: need more input, a complete frame, or a bad stream.
struct DecodeResult {
  enum class Status { need_more, frame, error };

  Status status = Status::need_more;
  /// With `frame`: the payload. It points into the caller's input or into the decoder, and
  /// stays valid until the next `decode` call or until the input's storage changes.
  std::span<const std::byte> frame;
  /// With `error`: why (`FrameErrc::too_large`).
  std::error_code error;
  /// With `too_large`: the length the header declared.
  std::uint64_t declared_size = 0;
};

/// Where end of stream cut a frame: how much of the header or payload was there, of how much.
struct Truncation {
  bool in_header = false;
  std::size_t have = 0;
  std::size_t need = 0;
};

/// Incremental, sans-I/O frame decoder for one stream. Feed it chunks of any size (a byte at
/// a time, or many frames at once); it yields complete frames. The length is checked against
/// `max_frame` the moment the header is complete, before a byte of payload is kept, so a
/// hostile length (0xFFFFFFFF, "GET " read as a length) is rejected at once and nothing of
/// its size is allocated. A payload that arrives whole within one chunk is returned in place,
/// without a copy; one split across chunks is gathered in a buffer that grows only as bytes
/// arrive and is reused for the next frame. Not synchronised.
class FrameDecoder {
 public:
  /// Throws std::invalid_argument for a header width other than 2, 4 or 8.
  explicit FrameDecoder(FrameFormat format = {});

  /// Takes bytes from the front of `input`, advancing it, until one frame is complete, the
  /// input runs out (`need_more`), or the stream proves bad (`error`, which every later call
  /// repeats: a stream that has lost its framing cannot be trusted again).
  DecodeResult decode(std::span<const std::byte>& input);

  /// True between the first byte of a frame and its last (engines time this: slowloris).
  [[nodiscard]] bool mid_frame() const noexcept { return header_have_ > 0; }
  /// The bytes of the frame under way taken so far, its header's and its payload's.
  [[nodiscard]] std::size_t pending() const noexcept {
    // (The payload kept is the frame's own only once its header is complete.)
    return header_have_ < format_.header_bytes ? header_have_ : header_have_ + payload_.size();
  }
  /// At end of stream: what was missing if it ended inside a frame, or nothing.
  [[nodiscard]] std::optional<Truncation> truncation() const noexcept;

  [[nodiscard]] const FrameFormat& format() const noexcept { return format_; }

 private:
  DecodeResult complete_frame(std::span<const std::byte> payload) noexcept;

  FrameFormat format_;
  std::array<std::byte, 8> header_{};
  std::size_t header_have_ = 0;  // header bytes seen of the current frame; 0 between frames
  std::size_t length_ = 0;       // the current frame's length, once its header is complete
  std::vector<std::byte> payload_;
  std::optional<DecodeResult> failure_;
};

}  // namespace sockkit::codec
