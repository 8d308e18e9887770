#include "sockkit/codec/frame_format.hpp"

#include <stdexcept>

#include "sockkit/codec/byte_order.hpp"

namespace sockkit::codec {
namespace {

class FrameCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sockkit.frame"; }
  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<FrameErrc>(value)) {
      case FrameErrc::too_large: return "frame larger than the maximum frame size";
      case FrameErrc::truncated: return "stream ended inside a frame";
    }
    return "unknown frame error " + std::to_string(value);
  }
};

}  // namespace

void FrameFormat::validate() const {
  if (!valid()) {
    throw std::invalid_argument("frame header width must be 2, 4 or 8 bytes, not " +
                                std::to_string(header_bytes));
  }
}

std::uint64_t FrameFormat::read_length(std::span<const std::byte> header) const noexcept {
  switch (header_bytes) {
    case 2: return load_be16(header.first<2>());
    case 4: return load_be32(header.first<4>());
    default: return load_be64(header.first<8>());
  }
}

void FrameFormat::write_length(std::span<std::byte, 8> out, std::uint64_t length) const noexcept {
  switch (header_bytes) {
    case 2: store_be16(out.first<2>(), static_cast<std::uint16_t>(length)); break;
    case 4: store_be32(out.first<4>(), static_cast<std::uint32_t>(length)); break;
    default: store_be64(out.first<8>(), length); break;
  }
}

const std::error_category& frame_category() noexcept {
  static const FrameCategory category;
  return category;
}

}  // namespace sockkit::codec
