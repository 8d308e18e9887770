#include "timer_queue.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace sockkit::reactor::detail {
namespace {

using namespace std::chrono_literals;

class TimerQueueTest : public testing::Test {
 protected:
  TimerQueue timers_;
  const TimePoint t0_ = TimePoint{} + 1h;
  std::vector<std::string> ran_;
  TimerQueue::Callback note(std::string what) {
    return [this, what = std::move(what)] { ran_.push_back(what); };
  }
};

TEST_F(TimerQueueTest, RunsWhatIsDueEarliestFirstAndTiesInTheOrderAdded) {
  timers_.add(t0_ + 30ms, {}, note("c"));
  timers_.add(t0_ + 10ms, {}, note("a"));
  timers_.add(t0_ + 10ms, {}, note("b"));
  timers_.add(t0_ + 50ms, {}, note("later"));
  EXPECT_EQ(timers_.next_due(), t0_ + 10ms);
  EXPECT_EQ(timers_.run_due(t0_ + 9ms), 0u) << "nothing due yet";
  EXPECT_EQ(timers_.run_due(t0_ + 30ms), 3u);
  EXPECT_EQ(ran_, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(timers_.next_due(), t0_ + 50ms);
  EXPECT_EQ(timers_.size(), 1u);
}

TEST_F(TimerQueueTest, ACancelledTimerNeverRunsAndAOneShotCannotBeCancelledAfter) {
  const auto gone = timers_.add(t0_ + 10ms, {}, note("gone"));
  const auto kept = timers_.add(t0_ + 20ms, {}, note("kept"));
  EXPECT_TRUE(timers_.cancel(gone));
  EXPECT_FALSE(timers_.cancel(gone)) << "once";
  EXPECT_EQ(timers_.next_due(), t0_ + 20ms) << "the cancelled one is not next";
  timers_.run_due(t0_ + 1s);
  EXPECT_EQ(ran_, (std::vector<std::string>{"kept"}));
  EXPECT_FALSE(timers_.cancel(kept)) << "it ran";
  EXPECT_EQ(timers_.next_due(), std::nullopt);
}

TEST_F(TimerQueueTest, ARepeatingTimerRunsEachPeriodAndOnceWhenItFellBehind) {
  const auto id = timers_.add(t0_ + 100ms, 100ms, note("tick"));
  timers_.run_due(t0_ + 100ms);
  timers_.run_due(t0_ + 200ms);
  EXPECT_EQ(ran_.size(), 2u);
  EXPECT_EQ(timers_.next_due(), t0_ + 300ms) << "on its phase";
  EXPECT_EQ(timers_.run_due(t0_ + 1s), 1u) << "seven periods late: once, not seven times";
  EXPECT_EQ(timers_.next_due(), t0_ + 1100ms) << "a period after the late run";
  EXPECT_TRUE(timers_.cancel(id));
  EXPECT_EQ(timers_.run_due(t0_ + 1h), 0u);
}

TEST_F(TimerQueueTest, ACallbackMayCancelItselfOrOthersAndWhatItAddsRunsNextRound) {
  std::uint64_t self = 0;
  std::uint64_t other = 0;
  self = timers_.add(t0_ + 10ms, 10ms, [&] {
    ran_.push_back("self");
    timers_.cancel(self);
    timers_.cancel(other);
    timers_.add(t0_, {}, note("added, due already"));
  });
  other = timers_.add(t0_ + 10ms, {}, note("other"));
  EXPECT_EQ(timers_.run_due(t0_ + 1s), 1u);
  EXPECT_EQ(ran_, (std::vector<std::string>{"self"}));
  EXPECT_EQ(timers_.run_due(t0_ + 1s), 1u) << "a timer added while running waits a round";
  EXPECT_EQ(ran_.back(), "added, due already");
  EXPECT_EQ(timers_.size(), 0u);
}

TEST_F(TimerQueueTest, SettingAndCancellingATimerPerMessageDoesNotGrowIt) {
  timers_.add(t0_ + 1h, {}, note("far"));
  for (int i = 0; i < 100'000; ++i) timers_.cancel(timers_.add(t0_ + 1s, {}, note("idle")));
  EXPECT_EQ(timers_.size(), 1u);
  EXPECT_LE(timers_.entries(), 130u) << "cancelled entries are swept out";
}

TEST_F(TimerQueueTest, AnExceptionFromACallbackGoesOutAndTheRepeatingTimersStay) {
  timers_.add(t0_ + 10ms, 10ms, note("tick"));
  timers_.add(t0_ + 10ms, {}, [] { throw std::runtime_error("boom"); });
  EXPECT_THROW(timers_.run_due(t0_ + 10ms), std::runtime_error);
  EXPECT_EQ(timers_.next_due(), t0_ + 20ms) << "the repeating timer is still there";
  timers_.run_due(t0_ + 20ms);
  EXPECT_EQ(ran_.size(), 2u);
}

}  // namespace
}  // namespace sockkit::reactor::detail
