#pragma once

// One direction of a connection through `sockkit proxy`, with the faults it injects, and
// no I/O: the proxy pushes in the bytes it read from one side, and the pipe answers which
// of them may be written to the other side now, and when that answer will next change.
// Time is passed in, so the tests drive it with a synthetic clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>

#include "sockkit/codec/byte_buffer.hpp"

namespace sockkit::app {

/// The faults of one direction. The defaults are no fault at all: a plain relay.
struct DirectionFaults {
  /// Every byte is held this long (plus or minus up to `jitter`, uniformly) before it is
  /// passed on. Bytes never overtake each other, whatever the jitter.
  std::chrono::nanoseconds latency{0};
  std::chrono::nanoseconds jitter{0};
  /// The most passed on per second, as a token bucket with 20 ms of burst. 0: no cap.
  double bytes_per_second = 0;
  /// Each write carries a random number of bytes in [slice_min, slice_max], and the next
  /// waits `slice_delay`. 0: writes as large as the data allows.
  std::size_t slice_min = 0;
  std::size_t slice_max = 0;
  std::chrono::nanoseconds slice_delay{0};
  /// Pass on this many bytes, then the connection is cut (both sides closed).
  std::optional<std::uint64_t> cut_after;
  /// From this long after the connection opened, nothing more is read or written this way
  /// (the bytes stay in the kernel's buffers, as when a cable is cut); it stays open.
  std::optional<std::chrono::nanoseconds> blackhole_after;
  /// The end of the stream is passed on this long after it would have been.
  std::chrono::nanoseconds slow_close{0};

  [[nodiscard]] bool any() const noexcept;
};

/// A byte queue between two sockets that applies `DirectionFaults`. One per direction of
/// each connection; not synchronised.
class FaultPipe {
 public:
  using Clock = std::chrono::steady_clock;

  /// `capacity`: the most it buffers; the proxy stops reading the source while it is full,
  /// so a slow direction pushes back on its sender instead of growing.
  FaultPipe(const DirectionFaults& faults, std::uint64_t seed, Clock::time_point opened,
            std::size_t capacity);

  /// How many bytes `push` takes now: 0 while full, black-holed, or after the input ended.
  [[nodiscard]] std::size_t room(Clock::time_point now) const noexcept;
  /// Bytes read from the source at `now` (at most `room(now)`).
  void push(std::span<const std::byte> bytes, Clock::time_point now);
  /// The source finished sending (read returned 0).
  void end_of_input(Clock::time_point now);

  /// What may be written now: the front of the queue, cut to the size the faults allow.
  [[nodiscard]] std::span<const std::byte> writable(Clock::time_point now);
  /// `count` bytes of `writable()` were written at `now`.
  void consumed(std::size_t count, Clock::time_point now);

  /// The input ended, every byte went out and the slow close has passed: send the FIN.
  [[nodiscard]] bool should_finish(Clock::time_point now) const noexcept;
  /// `cut_after` bytes have gone out: the connection is to be cut now.
  [[nodiscard]] bool cut() const noexcept;
  [[nodiscard]] bool blackholed(Clock::time_point now) const noexcept;
  /// When `writable()`, `should_finish()` or `blackholed()` next change with no new input;
  /// nullopt when only input (or the destination taking bytes) can change them.
  [[nodiscard]] std::optional<Clock::time_point> next_change(Clock::time_point now) const;

  [[nodiscard]] std::size_t buffered() const noexcept { return queue_.size(); }
  /// The memory the queue holds (its storage, at least `buffered()`); a drained pipe holds
  /// none, so quiet connections cost no buffer.
  [[nodiscard]] std::size_t held() const noexcept { return queue_.capacity(); }
  /// How much `held()` would grow by if `count` bytes were pushed now.
  [[nodiscard]] std::size_t growth_for(std::size_t count) const noexcept {
    return queue_.growth_for(count);
  }
  [[nodiscard]] std::uint64_t forwarded() const noexcept { return forwarded_; }
  [[nodiscard]] bool input_ended() const noexcept { return input_ended_.has_value(); }

 private:
  void refill_tokens(Clock::time_point now) noexcept;
  [[nodiscard]] double burst() const noexcept;
  [[nodiscard]] std::size_t released(Clock::time_point now) const noexcept;

  DirectionFaults faults_;
  std::mt19937_64 random_;
  Clock::time_point opened_;
  std::size_t capacity_;
  codec::ByteBuffer queue_;
  // Latency: each push is a batch released at its own time, oldest first; batches before
  // `first_batch_` have gone out.
  struct Batch {
    std::uint64_t end;  // the pipe's byte count at the end of this batch
    Clock::time_point due;
  };
  std::vector<Batch> batches_;
  std::size_t first_batch_ = 0;
  mutable std::size_t due_upto_ = 0;  // batches before it are due (a cache for released())
  std::uint64_t pushed_ = 0;          // bytes pushed in so far
  std::uint64_t forwarded_ = 0;       // bytes written out so far
  Clock::time_point last_due_{};
  // The bandwidth bucket and the slicer.
  double tokens_ = 0;
  Clock::time_point tokens_at_{};
  std::size_t slice_ = 0;  // the size of the slice in progress (0: pick the next)
  Clock::time_point next_slice_at_{};
  std::optional<Clock::time_point> input_ended_;
  Clock::time_point drained_at_{};  // when the last byte went out
};

}  // namespace sockkit::app
