#include "sockkit/codec/byte_buffer.hpp"

#include <algorithm>

namespace sockkit::codec {

void ByteBuffer::append(std::span<const std::byte> bytes) {
  if (pinned_) {
    if (data_.size() + bytes.size() > data_.capacity()) {  // growing would move them
      std::vector<std::byte> bigger;
      bigger.reserve(std::max(2 * size(), size() + bytes.size()));
      bigger.assign(data_.begin() + static_cast<std::ptrdiff_t>(start_), data_.end());
      keep_lent();
      data_ = std::move(bigger);
      start_ = 0;
    }
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return;
  }
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
  if (pinned_) keep_lent();  // the next append would write over what is lent
  data_.clear();
  start_ = 0;
}

void ByteBuffer::release() noexcept {
  if (pinned_) keep_lent();
  std::vector<std::byte>().swap(data_);
  start_ = 0;
}

// The lent bytes are in the first storage replaced while pinned; any later one held only
// copies of them, and goes.
void ByteBuffer::keep_lent() noexcept {
  if (lent_.capacity() == 0) lent_.swap(data_);
}

void ByteBuffer::unpin() noexcept {
  pinned_ = false;
  std::vector<std::byte>().swap(lent_);
}

}  // namespace sockkit::codec
