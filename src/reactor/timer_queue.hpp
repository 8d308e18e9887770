#pragma once

// An event loop's timers, without the loop: which is due next, and running those that are
// due by a given time. Private to the library; one thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sockkit/reactor/time_source.hpp"

namespace sockkit::reactor::detail {

class TimerQueue {
 public:
  using Callback = std::function<void()>;

  /// A timer due at `due`; with a `period`, due again every period after that (0: once).
  /// Returns its id (never 0). Throws std::bad_alloc.
  std::uint64_t add(TimePoint due, Duration period, Callback callback);
  /// False if it had already run (a one-shot) or was cancelled. Safe from a callback.
  bool cancel(std::uint64_t id) noexcept;
  /// When the next timer is due, if any.
  [[nodiscard]] std::optional<TimePoint> next_due();
  /// Runs every timer due by `now`, earliest first (in the order added when due together),
  /// and returns how many ran. Timers added by the callbacks run in a later call, even if
  /// they are due already, so a timer that re-adds itself cannot hold the loop. A repeating
  /// timer that fell behind runs once and is next due a period after `now`, not once for
  /// each period missed.
  std::size_t run_due(TimePoint now);
  /// Timers waiting (repeating ones count once).
  [[nodiscard]] std::size_t size() const noexcept { return timers_.size(); }
  /// Entries kept to find the next one, cancelled ones included (which are swept out once
  /// they are most of them): what the queue's memory grows with.
  [[nodiscard]] std::size_t entries() const noexcept { return heap_.size(); }

 private:
  struct Timer {
    Duration period;
    Callback callback;
  };
  struct Due {
    TimePoint when;
    std::uint64_t id;  // also the order added, for ties
    bool operator>(const Due& other) const noexcept {
      return when != other.when ? when > other.when : id > other.id;
    }
  };
  void push(Due due);
  void put_back(const std::vector<Due>& again);
  void pop() noexcept;
  void drop_cancelled_on_top() noexcept;

  std::vector<Due> heap_;  // may hold cancelled ids, dropped when they reach the top
  std::unordered_map<std::uint64_t, Timer> timers_;
  std::uint64_t next_id_ = 1;
};

}  // namespace sockkit::reactor::detail
