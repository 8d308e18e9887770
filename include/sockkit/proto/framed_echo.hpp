#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/proto/protocol.hpp"

namespace sockkit::proto {

/// Framed echo: every complete frame goes back as a frame of the same format. A frame that
/// declares more than the maximum closes the connection (`frame_too_large`) without a byte
/// of it being kept; a stream that ends inside a frame is `truncated`, and the part-frame is
/// never echoed. One per connection; not synchronised.
class FramedEcho final : public Protocol {
 public:
  explicit FramedEcho(const codec::FrameFormat& format = {}) : decoder_(format), encoder_(format) {}

  Verdict on_data(std::span<const std::byte> input, codec::ByteBuffer& out) override;
  CloseReason on_end_of_stream() override;
  [[nodiscard]] bool mid_message() const noexcept override { return decoder_.mid_frame(); }
  [[nodiscard]] std::size_t held() const noexcept override { return decoder_.pending(); }

 private:
  codec::FrameDecoder decoder_;
  codec::FrameEncoder encoder_;
};

}  // namespace sockkit::proto
