#include "sockkit/codec/byte_buffer.hpp"

#include <algorithm>

namespace sockkit::codec {

void ByteBuffer::append(std::span<const std::byte> bytes) {
  if (start_ > 0 && start_ >= data_.size() / 2) {
    data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  data_.insert(data_.end(), bytes.begin(), bytes.end());
}

void ByteBuffer::consume(std::size_t count) noexcept {
  start_ += std::min(count, size());
  if (start_ == data_.size()) clear();
}

void ByteBuffer::clear() noexcept {
  data_.clear();
  start_ = 0;
}

void ByteBuffer::release() noexcept {
  std::vector<std::byte>().swap(data_);
  start_ = 0;
}

}  // namespace sockkit::codec
