#include "sockkit/sys/resources.hpp"

#include <gtest/gtest.h>

namespace sockkit::sys {
namespace {

TEST(MachineCpu, ParsesProcStatsFirstLine) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  const auto cpu = parse_machine_cpu("cpu  1585321 7 440061 4284695 451493 0 157550 81311 12 0");
  EXPECT_EQ(cpu.steal, 81311u);
  EXPECT_EQ(cpu.total, 1585321u + 7 + 440061 + 4284695 + 451493 + 0 + 157550 + 81311);
}

TEST(MachineCpu, AnythingElseIsZeroNotAGuess) {
  for (const auto* line :
       {"", "cpu0 1 2 3 4 5 6 7 8", "cpu  1 2 3", "intr 1 2 3 4 5 6 7 8", "cpu  1 2 x 4 5 6 7 8"}) {
    const auto cpu = parse_machine_cpu(line);
    EXPECT_EQ(cpu.total, 0u) << line;
    EXPECT_EQ(cpu.steal, 0u) << line;
  }
}

TEST(MachineCpu, StealIsAShareOfTheTimeBetweenTwoReadings) {
  EXPECT_DOUBLE_EQ(steal_fraction({1000, 10}, {1400, 30}), 0.05);
  EXPECT_EQ(steal_fraction({1000, 10}, {1000, 10}), 0.0) << "no time passed";
  EXPECT_DOUBLE_EQ(steal_fraction({}, {1000, 10}), 0.01);
  const auto now = machine_cpu();  // this machine's own: it has run, and steal is part of it
  EXPECT_GT(now.total, 0u);
  EXPECT_LE(now.steal, now.total);
}

}  // namespace
}  // namespace sockkit::sys
