#include "accept_balance.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <thread>

namespace sockkit::server::detail {
namespace {

bool rang(const AcceptBalance& balance, std::size_t loop) {
  pollfd p{.fd = balance.doorbell(loop), .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(AcceptBalance, OneLoopAlwaysHasTheTurn) {
  AcceptBalance balance(1);
  for (std::size_t open = 0; open < 1000; open += 100) {
    balance.set_open(0, open);
    EXPECT_TRUE(balance.take_turn(0)) << open;
  }
}

TEST(AcceptBalance, ALoopAheadByMoreThanTheMarginWaitsWhileAnotherHasTheTurn) {
  AcceptBalance balance(2);
  ASSERT_TRUE(balance.take_turn(0));
  ASSERT_TRUE(balance.take_turn(1));
  const auto lead = AcceptBalance::margin(0);
  balance.set_open(0, lead);
  EXPECT_TRUE(balance.take_turn(0)) << "within the margin";
  balance.set_open(0, lead + 1);
  EXPECT_FALSE(balance.take_turn(0)) << "ahead by more: loop 1 takes the next client";
  EXPECT_FALSE(rang(balance, 0));
  // Loop 1 catches up: loop 0 leads no more, and is given the turn at once.
  balance.set_open(1, 1);
  EXPECT_TRUE(rang(balance, 0));
  balance.clear_doorbell(0);
  EXPECT_FALSE(rang(balance, 0));
  EXPECT_TRUE(balance.take_turn(0));
}

TEST(AcceptBalance, ALoopWithoutTheTurnNeverLeavesTheOthersWaiting) {
  AcceptBalance balance(2);
  balance.set_open(0, 50);
  // Nobody else has the turn: the loop ahead takes it, or no client would be accepted.
  EXPECT_TRUE(balance.take_turn(0));
  ASSERT_TRUE(balance.take_turn(1));
  EXPECT_FALSE(balance.take_turn(0));
  // Loop 1 cannot accept (out of descriptors, or draining): the waiting loop gets the turn.
  balance.pass(1);
  EXPECT_TRUE(rang(balance, 0));
  EXPECT_TRUE(balance.take_turn(0));
}

TEST(AcceptBalance, ATurnThatLapsesKeepsNobodyWaiting) {
  using namespace std::chrono_literals;
  AcceptBalance balance(2, 500ms);
  ASSERT_TRUE(balance.take_turn(1));
  balance.set_open(0, 50);
  EXPECT_FALSE(balance.take_turn(0)) << "loop 1 has the turn";
  // Loop 1 decides no more (its thread stopped, or its accept never completes): after the
  // lapse, the loop ahead accepts again rather than leave clients in the backlog.
  std::this_thread::sleep_for(600ms);
  EXPECT_TRUE(balance.take_turn(0));
  // Loop 1 comes back: its fresh turn makes the loop ahead wait again.
  ASSERT_TRUE(balance.take_turn(1));
  EXPECT_FALSE(balance.take_turn(0));
}

TEST(AcceptBalance, TheMarginGrowsWithTheLoad) {
  AcceptBalance balance(3);
  ASSERT_TRUE(balance.take_turn(1));
  balance.set_open(1, 800);
  balance.set_open(2, 800);
  balance.set_open(0, 800 + AcceptBalance::margin(800));
  EXPECT_TRUE(balance.take_turn(0));
  balance.set_open(0, 801 + AcceptBalance::margin(800));
  EXPECT_FALSE(balance.take_turn(0));
  EXPECT_GT(AcceptBalance::margin(800), AcceptBalance::margin(0));
}

}  // namespace
}  // namespace sockkit::server::detail
