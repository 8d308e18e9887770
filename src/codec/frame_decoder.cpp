#include "sockkit/codec/frame_decoder.hpp"

#include <algorithm>

namespace sockkit::codec {
FrameDecoder::FrameDecoder(FrameFormat format) : format_(format) {
  format_.validate();
}

DecodeResult FrameDecoder::complete_frame(std::span<const std::byte> payload) noexcept {
  header_have_ = 0;
  DecodeResult result;
  result.status = DecodeResult::Status::frame;
  result.frame = payload;
  return result;
}

DecodeResult FrameDecoder::decode(std::span<const std::byte>& input) {
  if (failure_) return *failure_;
  const std::size_t header_bytes = format_.header_bytes;

  if (header_have_ < header_bytes) {
    const auto take = std::min(header_bytes - header_have_, input.size());
    std::copy_n(input.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_have_));
    header_have_ += take;
    input = input.subspan(take);
    if (header_have_ < header_bytes) return {};

    const std::uint64_t declared = format_.read_length(header_);
    if (declared > format_.max_frame) {
      DecodeResult failure;
      failure.status = DecodeResult::Status::error;
      failure.error = FrameErrc::too_large;
      failure.declared_size = declared;
      failure_ = failure;
      return failure;
    }
    length_ = static_cast<std::size_t>(declared);
    payload_.clear();  // keeps its capacity for the next frame
  }

  // The whole payload is in this chunk and none was buffered before: hand it out in place.
  if (payload_.empty() && input.size() >= length_) {
    const auto payload = input.first(length_);
    input = input.subspan(length_);
    return complete_frame(payload);
  }

  const auto take = std::min(length_ - payload_.size(), input.size());
  payload_.insert(payload_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
  input = input.subspan(take);
  if (payload_.size() < length_) return {};
  return complete_frame(payload_);
}

std::optional<Truncation> FrameDecoder::truncation() const noexcept {
  if (header_have_ == 0 || failure_) return std::nullopt;
  if (header_have_ < format_.header_bytes) {
    return Truncation{true, header_have_, format_.header_bytes};
  }
  return Truncation{false, payload_.size(), length_};
}

}  // namespace sockkit::codec
