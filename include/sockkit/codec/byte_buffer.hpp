#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <span>
#include <vector>

namespace sockkit::codec {

/// A byte queue: append at the back, consume from the front. It keeps its storage between
/// uses, so steady traffic allocates nothing; when an append needs room, the space before
/// the front is reclaimed by moving the unread bytes down if that frees at least as much as
/// it moves, else the storage grows to twice the unread bytes (or what the append needs).
/// The unread bytes can be lent out (`pin()`: an io_uring send reads them while more are
/// appended). Not synchronised.
class ByteBuffer {
 public:
  void append(std::span<const std::byte> bytes);
  /// Makes room for `count` more bytes, so that appending them allocates nothing.
  void reserve(std::size_t count) {
    if (count > data_.capacity() - data_.size()) make_room(count);
  }
  /// How much `capacity()` would grow by if `count` bytes were appended now (0: there is room).
  [[nodiscard]] std::size_t growth_for(std::size_t count) const noexcept;
  /// The most `capacity()` may grow by while `count` bytes are appended in pieces of any
  /// sizes (nothing consumed between): each growth at most doubles what the pieces so far
  /// hold, so the storage ends within twice the unread bytes and `count`.
  [[nodiscard]] std::size_t growth_bound(std::size_t count) const noexcept;
  /// The most an append can take without new storage: after the end, and the space before
  /// the front if an append would reclaim it.
  [[nodiscard]] std::size_t room() const noexcept;
  /// The unread bytes, valid until the next append (those readable at `pin()`: until
  /// `unpin()`).
  [[nodiscard]] std::span<const std::byte> readable() const noexcept {
    return std::span(data_).subspan(start_);
  }
  /// Drops the first `count` unread bytes (at most `size()`).
  void consume(std::size_t count) noexcept;
  void clear() noexcept;
  /// Empties it and frees its storage (the next append allocates again).
  void release() noexcept;

  /// Lends the unread bytes out: until `unpin()` they stay where they are, unchanged. An
  /// append that needs more room copies them to new storage but keeps the old one until
  /// then; clear() and release() keep it too, and the front is not reclaimed.
  void pin() noexcept { pinned_ = true; }
  /// The loan is over: storage kept for it is freed.
  void unpin() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return data_.size() - start_; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// The storage held, including any kept for a loan.
  [[nodiscard]] std::size_t capacity() const noexcept {
    return data_.capacity() + lent_.capacity();
  }

 private:
  void make_room(std::size_t count);  // reserve() past the end: reclaim the front, or grow
  void keep_lent() noexcept;          // pinned: the storage becomes the loan's (if none is yet)
  [[nodiscard]] std::size_t freed_by_growth() const noexcept;  // what a growth frees

  std::vector<std::byte> data_;
  std::size_t start_ = 0;
  std::vector<std::byte> lent_;  // pinned: the storage the loaned bytes are in, if replaced
  bool pinned_ = false;
};

}  // namespace sockkit::codec
