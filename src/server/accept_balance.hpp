#pragma once

// Keeps the clients of a multi-loop engine spread over its loops. Private to the library.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

#include "sockkit/sys/event_fd.hpp"

namespace sockkit::server::detail {

/// The loops of an engine share one listener, and each arms one accept at a time. The
/// kernel gives a client to whichever armed accept it wakes, and it can wake the same one
/// for a whole burst: 200 clients all went to one of two io_uring loops in 9 of 60 runs.
/// So a loop that holds more clients than the least loaded one, by more than a margin,
/// leaves the next clients to the others while another loop has the turn to accept: it
/// does not arm its accept again, and waits. A loop keeps its turn from arming its accept
/// until it decides again after the accept completed, so one preempted in between (seen:
/// for 2 ms, time enough for 150 accepts elsewhere) still counts. When another loop's
/// clients make a waiting loop lead no more, that loop gives it the turn at once and rings
/// its doorbell; its own clients closing and its ticks also end the wait. A loop waits
/// only while another has the turn, and one that cannot accept (paused, draining) passes
/// the turn on, so some loop always has it: a client never waits longer than a wake-up.
/// A turn lapses when its loop has not decided again for `lapse` (a thread stopped by the
/// host, a round that runs long, an accept that never completes): then it keeps nobody
/// waiting, and a waiting loop takes the turn at its next tick. One stalled loop slows the
/// spreading of clients, never their accepting. Thread-safe; each loop calls it from its own
/// thread, about its own index. One mutex: it is taken as a client comes and goes, never per
/// message.
class AcceptBalance {
 public:
  using Clock = std::chrono::steady_clock;
  /// Twice the engines' tick (a waiting loop looks again at each of its ticks). A loop that
  /// takes clients decides far more often; the turn of one with none coming lapses too, at
  /// no cost: both loops' accepts are then armed, and the next client makes one decide.
  static constexpr std::chrono::milliseconds kLapse{100};

  /// Throws std::system_error (no descriptor for a doorbell).
  explicit AcceptBalance(std::size_t loops, Clock::duration lapse = kLapse);

  /// Loop `loop` holds `open` connections now. Gives the turn to each waiting loop that
  /// no longer leads.
  void set_open(std::size_t loop, std::size_t open);
  /// Loop `loop` has no accept armed and could arm one (at the start, after its accept
  /// completed, on its doorbell, a tick or a close): whether to arm it now. True: the loop
  /// has the turn until it asks again or passes (or it lapses). False: it waits.
  [[nodiscard]] bool take_turn(std::size_t loop);
  /// Loop `loop` cannot accept now (paused, draining): it gives up the turn, if it had it.
  void pass(std::size_t loop);
  /// Readable when loop `loop` was given the turn; clear_doorbell() after it rang.
  [[nodiscard]] int doorbell(std::size_t loop) const noexcept {
    return doorbells_[loop].native_handle();
  }
  void clear_doorbell(std::size_t loop) noexcept { doorbells_[loop].clear(); }
  /// How far a loop may lead the least loaded one and still accept: a few clients, and an
  /// eighth more as the loops fill up (so an uneven burst is not one accept at a time).
  [[nodiscard]] static std::size_t margin(std::size_t least) noexcept { return 4 + least / 8; }

 private:
  struct Loop {
    std::size_t open = 0;
    bool turn = false;               // it may accept: its accept is armed, or it is about to decide
    bool waiting = false;            // for the turn
    Clock::time_point turn_since{};  // when it took the turn or was given it
  };
  [[nodiscard]] bool leads(std::size_t loop) const noexcept;
  /// Whether another loop holds a turn that has not lapsed.
  [[nodiscard]] bool another_has_the_turn(std::size_t loop, Clock::time_point now) const noexcept;
  void give_turn(std::size_t loop, Clock::time_point now) noexcept;

  Clock::duration lapse_;
  std::mutex mutex_;
  std::vector<Loop> loops_;  // guarded by mutex_
  std::vector<sys::EventFd> doorbells_;
};

}  // namespace sockkit::server::detail
