// FaultPipe with a synthetic clock: each fault, no sockets.
#include "fault_pipe.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace sockkit::app {
namespace {

using namespace std::chrono_literals;
using Clock = FaultPipe::Clock;

const Clock::time_point t0{};

std::vector<std::byte> bytes(std::size_t n, unsigned start = 0) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((start + i) & 0xFF);
  return out;
}

// Takes everything writable at `now`, in as many writes as the pipe allows.
std::vector<std::byte> drain(FaultPipe& pipe, Clock::time_point now) {
  std::vector<std::byte> out;
  for (auto w = pipe.writable(now); !w.empty(); w = pipe.writable(now)) {
    out.insert(out.end(), w.begin(), w.end());
    pipe.consumed(w.size(), now);
  }
  return out;
}

TEST(FaultPipe, WithoutFaultsEverythingPassesAtOnce) {
  FaultPipe pipe({}, 1, t0, 1024);
  EXPECT_EQ(pipe.room(t0), 1024u);
  pipe.push(bytes(100), t0);
  EXPECT_EQ(pipe.room(t0), 924u);
  EXPECT_EQ(drain(pipe, t0), bytes(100));
  EXPECT_EQ(pipe.forwarded(), 100u);
  EXPECT_FALSE(pipe.next_change(t0));
  EXPECT_FALSE(pipe.should_finish(t0));
  pipe.end_of_input(t0);
  EXPECT_EQ(pipe.room(t0), 0u);
  EXPECT_TRUE(pipe.should_finish(t0));
}

TEST(FaultPipe, AFullPipeTakesNoMore) {
  FaultPipe pipe({}, 1, t0, 10);
  pipe.push(bytes(10), t0);
  EXPECT_EQ(pipe.room(t0), 0u);
  pipe.consumed(4, t0);
  EXPECT_EQ(pipe.room(t0), 4u);
}

TEST(FaultPipe, LatencyHoldsEachByteAndTellsWhenItIsDue) {
  DirectionFaults faults;
  faults.latency = 100ms;
  FaultPipe pipe(faults, 1, t0, 1024);
  pipe.push(bytes(10), t0);
  pipe.push(bytes(5, 10), t0 + 30ms);
  EXPECT_TRUE(pipe.writable(t0 + 99ms).empty());
  EXPECT_EQ(pipe.next_change(t0 + 99ms), t0 + 100ms);
  EXPECT_EQ(drain(pipe, t0 + 100ms), bytes(10));
  EXPECT_EQ(pipe.next_change(t0 + 100ms), t0 + 130ms);
  EXPECT_EQ(drain(pipe, t0 + 130ms), bytes(5, 10));
}

TEST(FaultPipe, JitterNeverReordersBytes) {
  DirectionFaults faults;
  faults.latency = 20ms;
  faults.jitter = 20ms;
  FaultPipe pipe(faults, 7, t0, 1 << 20);
  std::vector<std::byte> sent;
  std::vector<std::byte> received;
  auto now = t0;
  for (unsigned i = 0; i < 500; ++i) {
    const auto chunk = bytes(1 + i % 13, i);
    sent.insert(sent.end(), chunk.begin(), chunk.end());
    pipe.push(chunk, now);
    now += 1ms;
    const auto out = drain(pipe, now);
    received.insert(received.end(), out.begin(), out.end());
  }
  const auto rest = drain(pipe, now + 1s);
  received.insert(received.end(), rest.begin(), rest.end());
  EXPECT_EQ(received, sent);
}

TEST(FaultPipe, JitterSpreadsTheDelayWithinItsBounds) {
  DirectionFaults faults;
  faults.latency = 50ms;
  faults.jitter = 10ms;
  std::vector<Clock::duration> delays;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    FaultPipe pipe(faults, seed, t0, 1024);
    pipe.push(bytes(1), t0);
    const auto due = pipe.next_change(t0);
    ASSERT_TRUE(due);
    delays.push_back(*due - t0);
  }
  const auto [low, high] = std::minmax_element(delays.begin(), delays.end());
  EXPECT_GE(*low, 40ms);
  EXPECT_LE(*high, 60ms);
  EXPECT_LT(*high - *low, 20ms + 1ns);
  EXPECT_GT(*high - *low, 5ms) << "the seeds gave no spread at all";
}

TEST(FaultPipe, BandwidthPassesAtTheRateAfterABurst) {
  DirectionFaults faults;
  faults.bytes_per_second = 100'000;  // 2,000 bytes of burst (20 ms)
  FaultPipe pipe(faults, 1, t0, 1 << 20);
  pipe.push(bytes(50'000), t0);
  EXPECT_EQ(drain(pipe, t0).size(), 2000u);
  const auto next = pipe.next_change(t0);
  ASSERT_TRUE(next);
  EXPECT_GT(*next, t0);
  EXPECT_LE(*next, t0 + 6ms);  // a quarter of the burst, not a byte at a time
  std::size_t total = 2000;
  for (auto now = t0 + 1ms; now <= t0 + 300ms; now += 1ms) total += drain(pipe, now).size();
  // 300 ms at 100 kB/s is 30,000 bytes, plus the first burst.
  EXPECT_NEAR(static_cast<double>(total), 32'000.0, 500.0);
}

TEST(FaultPipe, SlicesAreWithinTheirSizesAndSpacedByTheDelay) {
  DirectionFaults faults;
  faults.slice_min = 1;
  faults.slice_max = 7;
  faults.slice_delay = 1ms;
  FaultPipe pipe(faults, 3, t0, 1024);
  pipe.push(bytes(200), t0);
  std::vector<std::byte> received;
  auto now = t0;
  int writes = 0;
  while (received.size() < 200 && now < t0 + 1s) {
    const auto w = pipe.writable(now);
    if (!w.empty()) {
      EXPECT_GE(w.size(), 1u);
      EXPECT_LE(w.size(), 7u);
      received.insert(received.end(), w.begin(), w.end());
      pipe.consumed(w.size(), now);
      ++writes;
      EXPECT_TRUE(pipe.writable(now).empty()) << "the next slice must wait for the delay";
      if (received.size() < 200) {
        EXPECT_EQ(pipe.next_change(now), now + 1ms);
      }
    }
    now += 1ms;
  }
  EXPECT_EQ(received, bytes(200));
  EXPECT_GE(writes, 200 / 7);
}

TEST(FaultPipe, AShortWriteFinishesItsSliceFirst) {
  DirectionFaults faults;
  faults.slice_min = faults.slice_max = 10;
  faults.slice_delay = 5ms;
  FaultPipe pipe(faults, 1, t0, 1024);
  pipe.push(bytes(30), t0);
  ASSERT_EQ(pipe.writable(t0).size(), 10u);
  pipe.consumed(4, t0);  // the kernel took only 4
  EXPECT_EQ(pipe.writable(t0).size(), 6u);
  pipe.consumed(6, t0);
  EXPECT_TRUE(pipe.writable(t0).empty());
  EXPECT_EQ(pipe.writable(t0 + 5ms).size(), 10u);
}

TEST(FaultPipe, CutAfterPassesExactlyThatManyBytes) {
  DirectionFaults faults;
  faults.cut_after = 1000;
  FaultPipe pipe(faults, 1, t0, 4096);
  pipe.push(bytes(3000), t0);
  EXPECT_FALSE(pipe.cut());
  EXPECT_EQ(drain(pipe, t0).size(), 1000u);
  EXPECT_TRUE(pipe.cut());
  EXPECT_EQ(pipe.room(t0), 0u);
}

TEST(FaultPipe, ABlackHolePassesNothingFromItsMomentOn) {
  DirectionFaults faults;
  faults.blackhole_after = 50ms;
  FaultPipe pipe(faults, 1, t0, 1024);
  EXPECT_EQ(pipe.next_change(t0), t0 + 50ms);
  pipe.push(bytes(10), t0 + 10ms);
  EXPECT_EQ(drain(pipe, t0 + 10ms).size(), 10u);
  pipe.push(bytes(10), t0 + 20ms);
  EXPECT_TRUE(pipe.blackholed(t0 + 50ms));
  EXPECT_TRUE(pipe.writable(t0 + 50ms).empty());
  EXPECT_EQ(pipe.room(t0 + 50ms), 0u);
  pipe.end_of_input(t0 + 60ms);
  EXPECT_FALSE(pipe.should_finish(t0 + 10s)) << "a black hole passes no end of stream either";
  EXPECT_FALSE(pipe.next_change(t0 + 60ms));
}

TEST(FaultPipe, SlowClosePassesTheEndLate) {
  DirectionFaults faults;
  faults.slow_close = 2s;
  FaultPipe pipe(faults, 1, t0, 1024);
  pipe.push(bytes(10), t0);
  pipe.end_of_input(t0 + 1s);
  EXPECT_FALSE(pipe.should_finish(t0 + 1s)) << "bytes are still queued";
  drain(pipe, t0 + 1500ms);
  EXPECT_FALSE(pipe.should_finish(t0 + 3s));
  EXPECT_EQ(pipe.next_change(t0 + 3s), t0 + 3500ms);
  EXPECT_TRUE(pipe.should_finish(t0 + 3500ms));
}

TEST(DirectionFaults, AnyIsFalseOnlyForNone) {
  EXPECT_FALSE(DirectionFaults{}.any());
  DirectionFaults f;
  f.slow_close = 1ms;
  EXPECT_TRUE(f.any());
}

}  // namespace
}  // namespace sockkit::app
