#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace sockkit::codec {

/// A byte queue: append at the back, consume from the front. It keeps its storage between
/// uses, so steady traffic allocates nothing; the space before the front is reclaimed by
/// moving the unread bytes down once it is at least half the buffer. Not synchronised.
class ByteBuffer {
 public:
  void append(std::span<const std::byte> bytes);
  /// The unread bytes, valid until the next append.
  [[nodiscard]] std::span<const std::byte> readable() const noexcept {
    return std::span(data_).subspan(start_);
  }
  /// Drops the first `count` unread bytes (at most `size()`).
  void consume(std::size_t count) noexcept;
  void clear() noexcept;
  /// Empties it and frees its storage (the next append allocates again).
  void release() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return data_.size() - start_; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return data_.capacity(); }

 private:
  std::vector<std::byte> data_;
  std::size_t start_ = 0;
};

}  // namespace sockkit::codec
