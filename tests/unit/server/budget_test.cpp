// The engines' shared buffer budget and each thread's share of it (engine_support.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "engine_support.hpp"
#include "session.hpp"

namespace sockkit::server::detail {
namespace {

TEST(BufferBudget, GivesBackOnceAPeakHasEmptiedAndAgainAsTheRestDoes) {
  BufferBudget budget(0);
  budget.stored(1 << 20);
  budget.unstored(1 << 20);
  EXPECT_FALSE(budget.take_give_back(false)) << "a peak below 4 MiB is not worth it";
  budget.stored(64 << 20);
  EXPECT_FALSE(budget.take_give_back(false)) << "still held";
  budget.unstored(60 << 20);
  EXPECT_TRUE(budget.take_give_back(false)) << "down to a sixteenth of the peak";
  EXPECT_FALSE(budget.take_give_back(false)) << "once per peak";
  budget.unstored(3 << 20);
  EXPECT_TRUE(budget.take_give_back(false)) << "what was still held is freed later: again";
  budget.unstored(1 << 20);
  EXPECT_FALSE(budget.take_give_back(false)) << "down to less than 4 MiB: not worth it";
  EXPECT_TRUE(budget.take_give_back(true)) << "once more when the last client has gone";
  EXPECT_FALSE(budget.take_give_back(true)) << "once";
  budget.stored(1 << 20);
  budget.unstored(1 << 20);
  EXPECT_FALSE(budget.take_give_back(true)) << "nothing worth it grew since";
}

TEST(BudgetShare, KeepsASpareSoSteadyReadsLeaveTheSharedCounterAlone) {
  BufferBudget budget(1 << 20);
  {
    BudgetShare share(budget, 64 * 1024);
    EXPECT_EQ(share.take(10'000), 10'000u);
    EXPECT_EQ(budget.left(), (1u << 20) - 10'000 - 64 * 1024) << "a spare came with it";
    share.put_back(10'000);
    for (int i = 0; i < 100; ++i) {  // a read's worth each time: from the spare, back to it
      EXPECT_EQ(share.take(60'000), 60'000u);
      share.put_back(60'000);
    }
    EXPECT_EQ(budget.left(), (1u << 20) - 10'000 - 64 * 1024) << "the counter was not touched";
    EXPECT_EQ(share.take(2u << 20), (1u << 20)) << "no more than the whole budget";
    share.put_back(1u << 20);
    EXPECT_EQ(budget.left(), (1u << 20) - 64 * 1024) << "past twice the spare, back to it";
    share.put_back_spare();
    EXPECT_EQ(budget.left(), 1u << 20);
    EXPECT_EQ(share.take(100), 100u);
  }
  EXPECT_EQ(budget.left(), (1u << 20) - 100) << "a share puts its spare back when it goes";
}

// Threads each serving one client (the threaded engine) read at once, each checking the
// budget on its own: what they store together stays within the limit and one trickle each.
TEST(BufferBudget, ReadersOnManyThreadsCannotTogetherGoPastTheLimit) {
  constexpr std::size_t kLimit = 1 << 20;
  constexpr int kThreads = 8;
  ServerConfig config;
  config.high_water_mark = 4 << 20;
  BufferBudget budget(kLimit);
  std::atomic<std::size_t> peak{0};
  {
    std::vector<std::jthread> readers;
    for (int t = 0; t < kThreads; ++t) {
      readers.emplace_back([&] {
        BudgetShare share(budget);
        Session s(config, share, Clock::now());
        const std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
        for (int i = 0; i < 400; ++i) {  // a client that never reads its replies
          const auto n = s.begin_read(chunk.size());
          if (n == 0) break;
          s.on_input(std::span(chunk).first(n), Clock::now());
          s.end_read();
          auto seen = peak.load();
          while (budget.used() > seen && !peak.compare_exchange_weak(seen, budget.used())) {
          }
        }
      });
    }
  }
  EXPECT_GT(budget.pauses(), 0u) << "they did spend it";
  EXPECT_LE(peak.load(), kLimit + kThreads * Session::kTrickleRead);
}

}  // namespace
}  // namespace sockkit::server::detail
