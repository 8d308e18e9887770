#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>

#include "sockkit/reactor/time_source.hpp"

namespace sockkit::reactor {

/// What a descriptor is watched for, and what it was found ready for (flags).
enum class Ready : std::uint32_t {
  none = 0,
  read = 1,    ///< bytes (or a connection) to take, or the peer's end of stream
  write = 2,   ///< room to send
  hangup = 4,  ///< the peer hung up (reported whether watched for or not)
  error = 8,   ///< an error is pending on it (likewise)
};
[[nodiscard]] constexpr Ready operator|(Ready a, Ready b) noexcept {
  return static_cast<Ready>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
[[nodiscard]] constexpr bool any(Ready set, Ready of) noexcept {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(of)) != 0;
}

/// A timer, as `after()` and `every()` return it, for `cancel()`. 0 is no timer.
using TimerId = std::uint64_t;
/// A watched descriptor, as `watch()` returns it. 0 is none.
using WatchId = std::uint64_t;

/// One event loop: it waits on the descriptors it watches, runs timers when they are due,
/// and runs functions posted to it from any thread, all on the one thread that calls
/// `run()`. Callbacks run one at a time and may call anything here (watch, unwatch, add and
/// cancel timers, post, stop). An exception that escapes a callback ends `run()` with it;
/// the loop stays usable. Its time comes from a TimeSource: the steady clock, or a
/// ManualClock that a test moves by hand.
///
/// Thread-safety: `post()`, `call()`, `stop()` and `in_loop_thread()` from any thread;
/// everything else on the loop's thread (or before `run()` starts, or after it returns).
class EventLoop {
 public:
  struct Options {
    /// The clock for timers and `now()`; it must outlive the loop. Null: the steady clock.
    TimeSource* time = nullptr;
  };
  /// Throws std::system_error when the kernel refuses (epoll, eventfd).
  explicit EventLoop(Options options);
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Runs on this thread until `stop()`. Throws what a callback threw, or std::system_error
  /// if waiting fails.
  void run();
  /// One round: waits up to `most` (less if a timer falls due first; never on a clock that
  /// does not move by itself, once a timer is due) for anything to do, and does it.
  void run_once(Duration most);
  /// Ends `run()` after the round under way; from any thread, before or while it runs. A
  /// later `run()` runs again.
  void stop() noexcept;
  [[nodiscard]] bool in_loop_thread() const noexcept;

  /// Runs `function` on the loop's thread, after what is under way, in the order posted.
  /// From any thread; the loop must outlive the threads that post to it. Functions still
  /// waiting when the loop is destroyed are dropped, not run.
  void post(std::function<void()> function);
  /// Runs `function` on the loop's thread and returns its result (or throws what it
  /// threw), waiting for it: at once when called on the loop's thread; else the loop must
  /// be running on another one.
  template <class Function>
  auto call(Function function) -> std::invoke_result_t<Function&> {
    if (in_loop_thread()) return function();
    auto task = std::make_shared<std::packaged_task<std::invoke_result_t<Function&>()>>(
        std::move(function));
    auto result = task->get_future();
    post([task] { (*task)(); });
    return result.get();
  }

  /// The loop's time: its TimeSource's.
  [[nodiscard]] TimePoint now() const noexcept;
  /// Runs `callback` once, `delay` from now.
  TimerId after(Duration delay, std::function<void()> callback);
  /// Runs `callback` every `period` (at least 1 ns), the first time a period from now. One
  /// that falls behind runs once and goes on a period later, not once per period missed.
  TimerId every(Duration period, std::function<void()> callback);
  /// False if it had already run (a one-shot) or been cancelled.
  bool cancel(TimerId timer) noexcept;

  /// Watches `fd` (not owned: unwatch it before closing it) for `interest`; `callback` gets
  /// what it was found ready for (hangup and error even when not asked for). Level-
  /// triggered: it is called again while the descriptor stays ready. Throws
  /// std::system_error (an fd already watched, or not one that can be).
  WatchId watch(int fd, Ready interest, std::function<void(Ready)> callback);
  /// What a watch is for from now on (Ready::none: nothing but hangup and error). Asking
  /// for what it is for already costs no system call, so a caller may say it every time.
  void change(WatchId watch, Ready interest);
  /// Stops watching (its callback is not called again, even for events already
  /// gathered); safe from its own callback. An unknown or stale id does nothing.
  void unwatch(WatchId watch) noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sockkit::reactor
