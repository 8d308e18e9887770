#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <array>
#include <atomic>
#include <cstdint>

#include "sockkit/proto/close_reason.hpp"

namespace sockkit::server {

/// A snapshot of a server's counters.
struct Stats {
  std::uint64_t accepted = 0;  // connections taken on (not counting rejected ones)
  std::uint64_t rejected = 0;  // accepted and closed at once: over max_connections
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::array<std::uint64_t, proto::kCloseReasonCount> closed{};
  std::uint64_t buffered = 0;       // bytes the reply buffers hold now (max_buffer_memory)
  std::uint64_t promised = 0;       // set aside from max_buffer_memory, not storage yet: for
                                    // reads under way (io_uring's wait in the kernel) and
                                    // the event loops' spares
  std::uint64_t budget_pauses = 0;  // times a client was left holding replies with the
                                    // budget spent, so not read until they went
  std::uint64_t buffer_waits = 0;   // io_uring: receives that found every receive buffer
                                    // in use and waited for one (raise --uring-buffers)

  [[nodiscard]] std::uint64_t closed_by(proto::CloseReason reason) const noexcept {
    return closed[static_cast<std::size_t>(reason)];
  }
  [[nodiscard]] std::uint64_t closed_total() const noexcept;
  /// Connections open now.
  [[nodiscard]] std::uint64_t active() const noexcept { return accepted - closed_total(); }
};

/// Live counters an engine updates and anyone may read while it runs (relaxed atomics: each
/// counter is exact, a snapshot of several is not one instant). Engines with one loop per
/// thread keep one of these per loop, so no two threads write the same line.
class StatsCounters {
 public:
  /// `one_writer`: only one thread ever updates these (an event loop's), so an update is a
  /// plain load and store instead of a locked read-modify-write; readers are unaffected.
  explicit StatsCounters(bool one_writer = false) noexcept : one_writer_(one_writer) {}

  void accepted() noexcept { bump(accepted_, 1); }
  void rejected() noexcept { bump(rejected_, 1); }
  void bytes_in(std::uint64_t n) noexcept { bump(bytes_in_, n); }
  void bytes_out(std::uint64_t n) noexcept { bump(bytes_out_, n); }
  void buffer_wait() noexcept { bump(buffer_waits_, 1); }
  void closed(proto::CloseReason reason) noexcept {
    bump(closed_[static_cast<std::size_t>(reason)], 1);
  }
  /// Adds these counters into `total`.
  void add_to(Stats& total) const noexcept;

 private:
  void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) const noexcept {
    if (one_writer_) {
      counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      counter.fetch_add(n, std::memory_order_relaxed);
    }
  }
  bool one_writer_;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  std::atomic<std::uint64_t> buffer_waits_{0};
  std::array<std::atomic<std::uint64_t>, proto::kCloseReasonCount> closed_{};
};

}  // namespace sockkit::server
