#include "sockkit/codec/frame_encoder.hpp"

namespace sockkit::codec {

FrameEncoder::FrameEncoder(FrameFormat format) : format_(format) {
  format_.validate();
}

std::span<const std::byte> FrameEncoder::header(std::size_t payload_size,
                                                std::error_code& ec) noexcept {
  if (payload_size > format_.max_frame || payload_size > format_.header_limit()) {
    ec = FrameErrc::too_large;
    return {};
  }
  ec.clear();
  format_.write_length(header_, payload_size);
  return std::span(header_).first(format_.header_bytes);
}

}  // namespace sockkit::codec
