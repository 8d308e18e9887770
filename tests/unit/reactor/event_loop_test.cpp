#include "sockkit/reactor/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "sockkit/sys/fd.hpp"

namespace sockkit::reactor {
namespace {

using namespace std::chrono_literals;

// Two connected stream sockets, as a client and its server would hold them.
std::pair<sys::Fd, sys::Fd> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {sys::Fd(fds[0]), sys::Fd(fds[1])};
}

void send_byte(const sys::Fd& fd) {
  ASSERT_EQ(::send(fd.get(), "x", 1, MSG_NOSIGNAL), 1);
}

// On a ManualClock nothing waits: a round with no wait runs what the clock made due.
TEST(EventLoop, ATimerRunsWhenTheClockReachesItAndNotBefore) {
  ManualClock clock;
  EventLoop loop({.time = &clock});
  int ran = 0;
  loop.after(1s, [&] { ++ran; });
  clock.advance(999ms);
  loop.run_once(0s);
  EXPECT_EQ(ran, 0);
  clock.advance(1ms);
  loop.run_once(0s);
  EXPECT_EQ(ran, 1);
  clock.advance(1h);
  loop.run_once(0s);
  EXPECT_EQ(ran, 1) << "once";
}

TEST(EventLoop, ARepeatingTimerRunsEveryPeriodUntilCancelled) {
  ManualClock clock;
  EventLoop loop({.time = &clock});
  int ran = 0;
  const auto timer = loop.every(100ms, [&] { ++ran; });
  for (int i = 0; i < 5; ++i) {
    clock.advance(100ms);
    loop.run_once(0s);
  }
  EXPECT_EQ(ran, 5);
  EXPECT_TRUE(loop.cancel(timer));
  clock.advance(1s);
  loop.run_once(0s);
  EXPECT_EQ(ran, 5);
  EXPECT_FALSE(loop.cancel(timer));
}

// A loop running on its own thread sleeps through the hour its timer is set for on a
// ManualClock, and wakes when the clock is moved.
TEST(EventLoop, MovingAManualClockWakesALoopThatIsWaitingForIt) {
  ManualClock clock;
  EventLoop loop({.time = &clock});
  std::promise<TimePoint> fired;
  loop.after(1h, [&] { fired.set_value(loop.now()); });
  std::jthread runner([&] { loop.run(); });
  auto when = fired.get_future();
  EXPECT_EQ(when.wait_for(50ms), std::future_status::timeout) << "an hour has not passed";
  const auto start = clock.now();
  clock.advance(1h);
  ASSERT_EQ(when.wait_for(10s), std::future_status::ready) << "not woken by the clock";
  EXPECT_EQ(when.get(), start + 1h);
  loop.stop();
}

TEST(EventLoop, OnTheSteadyClockATimerWaitsItsDelay) {
  EventLoop loop;
  const auto start = Clock::now();
  TimePoint fired{};
  loop.after(30ms, [&] {
    fired = Clock::now();
    loop.stop();
  });
  loop.run();
  EXPECT_GE(fired - start, 30ms);
}

TEST(EventLoop, AWatchedSocketIsReportedReadableWritableAndHungUp) {
  EventLoop loop;
  auto [ours, theirs] = socket_pair();
  std::vector<Ready> seen;
  const auto id = loop.watch(ours.get(), Ready::read, [&](Ready r) { seen.push_back(r); });
  loop.run_once(0s);
  EXPECT_TRUE(seen.empty()) << "nothing to read yet";
  send_byte(theirs);
  loop.run_once(1s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(any(seen[0], Ready::read));
  loop.run_once(0s);
  EXPECT_EQ(seen.size(), 2u) << "level-triggered: still unread, so reported again";

  seen.clear();
  char byte = 0;
  ASSERT_EQ(::recv(ours.get(), &byte, 1, 0), 1);
  loop.change(id, Ready::write);
  loop.run_once(1s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(any(seen[0], Ready::write));
  EXPECT_FALSE(any(seen[0], Ready::read));

  seen.clear();
  loop.change(id, Ready::read);
  theirs.reset();  // the peer goes
  loop.run_once(1s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(any(seen[0], Ready::read)) << "end of stream is something to read";
  loop.unwatch(id);
}

TEST(EventLoop, AnUnwatchedDescriptorIsNotReportedEvenInTheSameRound) {
  EventLoop loop;
  auto [a, a_peer] = socket_pair();
  auto [b, b_peer] = socket_pair();
  int calls = 0;
  WatchId first = 0;
  WatchId second = 0;
  // Whichever is reported first unwatches the other; the other's event, already gathered
  // in the same round, must not reach it.
  first = loop.watch(a.get(), Ready::read, [&](Ready) {
    ++calls;
    loop.unwatch(second);
    loop.unwatch(first);
  });
  second = loop.watch(b.get(), Ready::read, [&](Ready) {
    ++calls;
    loop.unwatch(first);
    loop.unwatch(second);
  });
  send_byte(a_peer);
  send_byte(b_peer);
  loop.run_once(1s);
  EXPECT_EQ(calls, 1);
  loop.unwatch(first);  // stale ids do nothing
  loop.unwatch(12345);
  // The freed slots are reused under new ids; the old ones stay dead.
  const auto again = loop.watch(a.get(), Ready::read, [&](Ready) { ++calls; });
  EXPECT_NE(again, first);
  EXPECT_NE(again, second);
  loop.run_once(1s);
  EXPECT_EQ(calls, 2);
  loop.unwatch(again);
}

TEST(EventLoop, WatchingWhatCannotBeWatchedThrowsAndChangesNothing) {
  EventLoop loop;
  auto [a, peer] = socket_pair();
  EXPECT_THROW(loop.watch(-1, Ready::read, [](Ready) {}), std::system_error);
  const auto id = loop.watch(a.get(), Ready::read, [](Ready) {});
  EXPECT_THROW(loop.watch(a.get(), Ready::read, [](Ready) {}), std::system_error)
      << "watched already";
  loop.unwatch(id);
  EXPECT_NE(loop.watch(a.get(), Ready::read, [](Ready) {}), 0u);
}

TEST(EventLoop, FunctionsPostedFromManyThreadsAllRunOnTheLoopInTheOrderEachPosted) {
  EventLoop loop;
  constexpr std::size_t kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::vector<int>> seen(kThreads);  // touched on the loop's thread only
  std::atomic<int> done{0};
  std::jthread runner([&] { loop.run(); });
  {
    std::vector<std::jthread> posters;
    for (std::size_t t = 0; t < kThreads; ++t) {
      posters.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          loop.post([&, t, i] {
            EXPECT_TRUE(loop.in_loop_thread());
            seen[t].push_back(i);
            if (done.fetch_add(1) + 1 == static_cast<int>(kThreads) * kEach) loop.stop();
          });
        }
      });
    }
  }
  runner.join();
  for (std::size_t t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kEach));
    for (std::size_t i = 0; i < seen[t].size(); ++i) {
      ASSERT_EQ(seen[t][i], static_cast<int>(i)) << "poster " << t;
    }
  }
  EXPECT_FALSE(loop.in_loop_thread());
}

TEST(EventLoop, CallRunsOnTheLoopAndReturnsItsResultOrItsException) {
  EventLoop loop;
  std::jthread runner([&] { loop.run(); });
  const auto loop_thread = loop.call([] { return std::this_thread::get_id(); });
  EXPECT_NE(loop_thread, std::this_thread::get_id());
  EXPECT_EQ(loop.call([] { return 42; }), 42);
  EXPECT_THROW(loop.call([]() -> int { throw std::runtime_error("inside"); }), std::runtime_error);
  EXPECT_EQ(loop.call([&] { return loop.call([] { return 7; }); }), 7) << "nested: at once";
  loop.stop();
}

TEST(EventLoop, StopBeforeRunEndsTheNextRunAndALaterRunGoesOn) {
  EventLoop loop;
  loop.stop();
  loop.run();  // returns at once
  int ran = 0;
  loop.post([&] {
    ++ran;
    loop.stop();
  });
  loop.run();
  EXPECT_EQ(ran, 1);
}

TEST(EventLoop, AnExceptionFromACallbackEndsRunAndTheLoopStillWorks) {
  EventLoop loop;
  int after = 0;
  loop.post([] { throw std::runtime_error("boom"); });
  loop.post([&] { ++after; });
  EXPECT_THROW(loop.run(), std::runtime_error);
  EXPECT_EQ(after, 0);
  loop.post([&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(after, 1) << "what was posted after the throw still ran, in order";
}

}  // namespace
}  // namespace sockkit::reactor
