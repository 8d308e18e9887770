#include "sockkit/codec/byte_buffer.hpp"

#include <algorithm>

namespace sockkit::codec {

void ByteBuffer::append(std::span<const std::byte> bytes) {
  reserve(bytes.size());
  data_.insert(data_.end(), bytes.begin(), bytes.end());
}

// The front is reclaimed only unpinned, and only when it is at least as large as what
// moving the unread bytes down copies (so a reclaim costs at most the bytes it frees).
std::size_t ByteBuffer::room() const noexcept {
  const std::size_t after_end = data_.capacity() - data_.size();
  return !pinned_ && start_ >= size() ? after_end + start_ : after_end;
}

std::size_t ByteBuffer::growth_for(std::size_t count) const noexcept {
  if (count <= room()) return 0;
  const std::size_t grown = std::max(2 * size(), size() + count);
  return grown - std::min(grown, freed_by_growth());
}

std::size_t ByteBuffer::growth_bound(std::size_t count) const noexcept {
  if (count <= room()) return 0;
  const std::size_t most = 2 * (size() + count);
  return most - std::min(most, freed_by_growth());
}

// The storage a growth replaces is freed, unless it is the first one replaced while pinned:
// that one is kept for the loan.
std::size_t ByteBuffer::freed_by_growth() const noexcept {
  return pinned_ && lent_.capacity() == 0 ? 0 : data_.capacity();
}

void ByteBuffer::make_room(std::size_t count) {
  if (count <= room()) {  // moving the unread bytes down frees at least as much as it copies
    data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
    return;
  }
  std::vector<std::byte> bigger;
  bigger.reserve(std::max(2 * size(), size() + count));
  bigger.assign(data_.begin() + static_cast<std::ptrdiff_t>(start_), data_.end());
  if (pinned_) keep_lent();  // the loan's bytes stay where they are
  data_ = std::move(bigger);
  start_ = 0;
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
