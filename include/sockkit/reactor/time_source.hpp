#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

namespace sockkit::reactor {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

/// Where event loops read the time: the steady clock (`steady_time()`), or in a test a
/// ManualClock that moves only when told, so that a test of a timeout waits for nothing.
/// Thread-safe.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  [[nodiscard]] virtual TimePoint now() const noexcept = 0;
  /// False for a clock moved by hand: a loop on it never sleeps until a timer is due (the
  /// time would not come), only until I/O, a posted function, or the clock moves.
  [[nodiscard]] virtual bool moves_by_itself() const noexcept = 0;
  /// Called (from the thread that moves it) each time the clock moves; a loop on a clock
  /// that does not move by itself rings its doorbell with it. Returns a key for
  /// `forget()`. The steady clock calls nobody.
  virtual std::size_t on_move(std::function<void()> wake) = 0;
  virtual void forget(std::size_t key) noexcept = 0;

 protected:
  TimeSource() = default;
  TimeSource(const TimeSource&) = default;
  TimeSource& operator=(const TimeSource&) = default;
};

/// The steady clock, shared by every loop that is given no other.
[[nodiscard]] TimeSource& steady_time() noexcept;

/// A clock a test moves by hand. `advance()` wakes every loop on it, which then runs the
/// timers that have come due, in order, at once. Starts an hour after the steady clock's
/// epoch, so that "an hour ago" is a time too.
class ManualClock final : public TimeSource {
 public:
  ManualClock() = default;
  [[nodiscard]] TimePoint now() const noexcept override;
  [[nodiscard]] bool moves_by_itself() const noexcept override { return false; }
  std::size_t on_move(std::function<void()> wake) override;
  void forget(std::size_t key) noexcept override;
  /// Moves the time on by `by` (not back: a negative duration is taken as zero) and wakes
  /// the loops on this clock.
  void advance(Duration by);

 private:
  mutable std::mutex mutex_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  std::vector<std::pair<std::size_t, std::function<void()>>> woken_;
  std::size_t next_key_ = 0;
};

}  // namespace sockkit::reactor
