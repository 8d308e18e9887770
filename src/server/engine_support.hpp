#pragma once

// What every engine shares: the stop doorbell, accept-error handling, the throttled log,
// and the stats counters. Private to the library.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sockkit/net/stream_listener.hpp"
#include "sockkit/server/server_config.hpp"
#include "sockkit/server/stats.hpp"
#include "sockkit/sys/event_fd.hpp"

namespace sockkit::server::detail {

using Clock = std::chrono::steady_clock;

/// The event engines check every connection's deadlines this often (after each event they
/// ask only whether it has ended: Session::finished).
inline constexpr std::chrono::milliseconds kDeadlineTick{50};
/// Out of descriptors: how long an event engine stops accepting after shedding the waiting
/// clients.
inline constexpr std::chrono::milliseconds kAcceptPause{100};

/// stop(), as every engine thread sees it: a flag, a doorbell fd to poll, and the drain
/// deadline. `request()` is thread-safe and idempotent.
class StopSignal {
 public:
  explicit StopSignal(std::chrono::milliseconds drain) : drain_(drain) {}
  void request() noexcept;
  [[nodiscard]] bool requested() const noexcept {
    return requested_.load(std::memory_order_acquire);
  }
  /// When draining ends; meaningful once `requested()`.
  [[nodiscard]] Clock::time_point deadline() const noexcept;
  [[nodiscard]] int fd() const noexcept { return bell_.native_handle(); }

 private:
  std::chrono::milliseconds drain_;
  sys::EventFd bell_ = sys::EventFd::create();
  std::atomic<bool> requested_{false};
  std::atomic<Clock::rep> deadline_{0};
};

/// Says a thing at most once a second, and how many were held back since.
class ThrottledLog {
 public:
  explicit ThrottledLog(const ServerConfig& config) : config_(config) {}
  void say(const std::string& message);

 private:
  const ServerConfig& config_;
  std::atomic<Clock::rep> last_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

/// The memory all of an engine's connections may hold for replies together
/// (`max_buffer_memory`), shared by its threads. What counts against the limit is *taken*
/// (`take()`, atomically for every thread, so no two readers can both spend what was left):
/// the storage the reply buffers hold, plus what reads about to come have set aside for the
/// storage they may make grow. A read is sized to what it could take; once nothing is left,
/// a client that owes nothing may still read a trickle (Session::kTrickleRead), counted
/// past the limit (`take_anyway`): that is the only way past it. Without a limit nothing is
/// taken, only the storage counted. Sessions reach it through a BudgetShare.
class BufferBudget {
 public:
  explicit BufferBudget(std::size_t limit) noexcept : limit_(limit) {}
  [[nodiscard]] bool limited() const noexcept { return limit_ != 0; }
  /// Up to `want` bytes of what is left, or all of `want` without a limit: what it grants.
  [[nodiscard]] std::size_t take(std::size_t want) noexcept {
    if (!limited() || want == 0) return want;
    auto taken = taken_.load(std::memory_order_relaxed);
    std::size_t granted = 0;
    do {
      granted = taken >= limit_ ? 0 : std::min(want, limit_ - taken);
      if (granted == 0) return 0;
    } while (!taken_.compare_exchange_weak(taken, taken + granted, std::memory_order_relaxed));
    return granted;
  }
  /// Takes `bytes` even past the limit (the trickle).
  void take_anyway(std::size_t bytes) noexcept {
    if (limited()) taken_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void put_back(std::size_t bytes) noexcept {
    if (limited()) taken_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  /// The reply buffers' storage grew or shrank (within what was taken): for the stats and
  /// for giving memory back, not for the limit.
  void stored(std::size_t bytes) noexcept {
    const auto now = used_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    auto peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    if (now >= kGiveBackAfter && !grown_.load(std::memory_order_relaxed)) {
      grown_.store(true, std::memory_order_relaxed);
    }
  }
  void unstored(std::size_t bytes) noexcept { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  /// True (to one caller) once the storage has fallen to a quarter of a peak of at least
  /// 4 MiB: the buffers a burst or an attack grew are free, and the caller gives the memory
  /// back to the system (sys::give_back_free_memory), which the allocator would otherwise
  /// keep. What is still held is the next peak, so memory freed later goes back too. And
  /// once more when the engine is `idle` (no connection open) after the storage reached
  /// 4 MiB: what the connections held besides their replies (a thread's stack and arena,
  /// a session) is free only once they are all gone.
  [[nodiscard]] bool take_give_back(bool idle) noexcept {
    const auto used = used_.load(std::memory_order_relaxed);
    if (idle && grown_.load(std::memory_order_relaxed) &&
        grown_.exchange(false, std::memory_order_relaxed)) {
      peak_.store(used, std::memory_order_relaxed);
      return true;
    }
    auto peak = peak_.load(std::memory_order_relaxed);
    if (peak < kGiveBackAfter || used > peak / 4) return false;
    return peak_.compare_exchange_strong(peak, used, std::memory_order_relaxed);
  }
  static constexpr std::size_t kGiveBackAfter = 4 * 1024 * 1024;
  /// Everything is taken: clients holding unsent replies are not read until they go.
  [[nodiscard]] bool exhausted() const noexcept {
    return limited() && taken_.load(std::memory_order_relaxed) >= limit_;
  }
  /// The reply buffers' storage.
  [[nodiscard]] std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  /// Taken but not (yet) storage: set aside by reads to come and the loops' spares.
  [[nodiscard]] std::size_t set_aside() const noexcept {
    const auto taken = taken_.load(std::memory_order_relaxed);
    const auto stored = used();
    return taken > stored ? taken - stored : 0;
  }
  /// What may still be taken (all there is, without a limit).
  [[nodiscard]] std::size_t left() const noexcept {
    const auto taken = taken_.load(std::memory_order_relaxed);
    return !limited() ? ~std::size_t{0} : limit_ > taken ? limit_ - taken : 0;
  }
  void count_pause() noexcept { pauses_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t pauses() const noexcept {
    return pauses_.load(std::memory_order_relaxed);
  }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> taken_{0};  // counted against the limit (only with one)
  std::atomic<std::size_t> used_{0};   // the reply buffers' storage
  std::atomic<std::size_t> peak_{0};   // the most used since memory was last given back
  std::atomic<bool> grown_{false};     // used reached kGiveBackAfter since the engine was idle
  std::atomic<std::uint64_t> pauses_{0};
};

/// One thread's way to the BufferBudget. What its sessions take and put back passes through
/// a spare of at most `spare_most` bytes that it keeps, so an event loop in steady traffic
/// sets aside and returns each read's share without touching the shared counter (an atomic
/// update per read would move its cache line between the loops' cores every time). The
/// spare counts as taken; `put_back_spare()` returns it (an event loop does on each tick,
/// so a quiet loop keeps none). A thread serving one client keeps no spare. One thread.
class BudgetShare {
 public:
  explicit BudgetShare(BufferBudget& budget, std::size_t spare_most = 0) noexcept
      : budget_(budget), spare_most_(spare_most) {}
  ~BudgetShare() { put_back_spare(); }
  BudgetShare(const BudgetShare&) = delete;
  BudgetShare& operator=(const BudgetShare&) = delete;

  [[nodiscard]] BufferBudget& budget() const noexcept { return budget_; }
  /// Up to `want` bytes: what it grants.
  [[nodiscard]] std::size_t take(std::size_t want) noexcept {
    if (want <= spare_) {
      spare_ -= want;
      return want;
    }
    const auto have = spare_ + budget_.take(want - spare_ + spare_most_);
    const auto granted = std::min(want, have);
    spare_ = have - granted;
    return granted;
  }
  void put_back(std::size_t bytes) noexcept {
    spare_ += bytes;
    if (spare_ > 2 * spare_most_) {
      budget_.put_back(spare_ - spare_most_);
      spare_ = spare_most_;
    }
  }
  void put_back_spare() noexcept {
    budget_.put_back(spare_);
    spare_ = 0;
  }

 private:
  BufferBudget& budget_;
  std::size_t spare_most_;
  std::size_t spare_ = 0;
};

/// An event loop's connections, each in a slot kept for reuse: an event or a completion
/// names a slot by index (and the engine's generation count tells a stale one). Only
/// `acquire()` allocates; giving a slot back never does, so a close cannot fail.
template <class Slot>
class SlotTable {
 public:
  /// A free slot's index, a reused one first. Throws std::bad_alloc (the table unchanged).
  std::size_t acquire() {
    if (!free_.empty()) {
      const auto slot = free_.back();
      free_.pop_back();
      return slot;
    }
    free_.reserve(slots_.size() + 1);  // room for every slot to come back
    slots_.emplace_back();
    return slots_.size() - 1;
  }
  void release(std::size_t slot) noexcept { free_.push_back(slot); }

  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  [[nodiscard]] Slot& operator[](std::size_t slot) noexcept { return slots_[slot]; }
  [[nodiscard]] const Slot& operator[](std::size_t slot) const noexcept { return slots_[slot]; }

  /// With many connections, the slot and session an event names are cold by the time it
  /// is served: at 1,000 connections in ping-pong, those two cache misses were three
  /// quarters of the epoll engine's on_event. A loop asks for the slot of the event two
  /// ahead and the session of the one after this (its slot is in by then); on_event's part
  /// of the server's CPU went from 2.1% to 1.1% (medians of 4 `perf record` runs). Any
  /// index: one that names no slot is ignored.
  void prefetch(std::size_t slot) const noexcept {
    if (slot < slots_.size()) __builtin_prefetch(&slots_[slot]);
  }
  void prefetch_session(std::size_t slot) const noexcept {
    if (slot < slots_.size() && slots_[slot].session) {
      __builtin_prefetch(slots_[slot].session.get());
    }
  }
  [[nodiscard]] std::size_t index_of(const Slot& slot) const noexcept {
    return static_cast<std::size_t>(&slot - slots_.data());
  }

 private:
  std::vector<Slot> slots_;
  std::vector<std::size_t> free_;
};

/// Errors from accept() that say nothing about the listener: the client went away first,
/// a signal, a firewall rule. The server just accepts the next one.
[[nodiscard]] bool is_transient_accept_error(const std::error_code& ec) noexcept;
/// Errors that mean "out of descriptors or memory for now": shed the client, pause, recover.
[[nodiscard]] bool is_resource_exhaustion(const std::error_code& ec) noexcept;

/// Stops a listener taking clients at once, from any thread: a new connect is refused and
/// a thread blocked in poll() on it wakes, while the fd stays valid (closing it under a
/// thread that may still call accept() on it could hit a reused descriptor number).
void stop_listening(const net::StreamListener& listener) noexcept;

/// Event-loop threads for `config`: its `threads`, or one per core.
[[nodiscard]] std::size_t loop_count(const ServerConfig& config) noexcept;

/// Sets up an accepted client socket as `config` says: its kernel send buffer, and for TCP
/// keepalive and TCP_USER_TIMEOUT. A socket that keeps a default still works, so failures
/// are ignored (a Unix socket has no TCP options).
void prepare_client_socket(int fd, const ServerConfig& config) noexcept;

/// The close reason for a failed recv or send.
[[nodiscard]] proto::CloseReason reason_for(const std::error_code& ec) noexcept;

}  // namespace sockkit::server::detail
