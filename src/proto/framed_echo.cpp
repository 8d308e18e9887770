#include "sockkit/proto/framed_echo.hpp"

namespace sockkit::proto {

Verdict FramedEcho::on_data(std::span<const std::byte> input, codec::ByteBuffer& out) {
  for (;;) {
    const auto result = decoder_.decode(input);
    switch (result.status) {
      case codec::DecodeResult::Status::need_more: return Verdict::keep_open();
      case codec::DecodeResult::Status::error:
        return Verdict::close_for(CloseReason::frame_too_large);
      case codec::DecodeResult::Status::frame: {
        std::error_code ec;
        // The decoder and encoder share one format, so a frame that decoded always fits.
        out.append(encoder_.header(result.frame.size(), ec));
        out.append(result.frame);
        break;
      }
    }
  }
}

CloseReason FramedEcho::on_end_of_stream() {
  return decoder_.truncation() ? CloseReason::truncated : CloseReason::peer_closed;
}

}  // namespace sockkit::proto
