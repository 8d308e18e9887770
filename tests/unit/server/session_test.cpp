// The per-connection rules every engine applies, checked without sockets or real time.
#include "session.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/bytes.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;
using proto::CloseReason;

using test::bytes;

class SessionTest : public testing::Test {
 protected:
  SessionTest() {
    config_.idle_timeout = 10s;
    config_.send_timeout = 2s;
    config_.frame_timeout = 3s;
    config_.high_water_mark = 100;
  }
  std::optional<CloseReason> due(Session& s, Clock::duration at) {
    return s.due(t0_ + at, false, {});
  }

  ServerConfig config_;
  BufferBudget budget_{0};  // no limit, unless a test makes its own
  BudgetShare share_{budget_};
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(SessionTest, IdleMeansNoTrafficEitherWay) {
  Session s(config_, share_, t0_);
  EXPECT_FALSE(due(s, 9s));
  s.on_input(bytes("hi"), t0_ + 9s);
  s.on_sent(2, t0_ + 9s);
  // 250 ms on, the engine is to ask whether the kernel delivered the reply; it has.
  EXPECT_EQ(s.next_deadline(false, {}), t0_ + 9s + 250ms);
  s.on_unsent(0, t0_ + 9s + 250ms);
  EXPECT_FALSE(due(s, 18s));
  EXPECT_EQ(due(s, 19s), CloseReason::idle);
  EXPECT_EQ(s.next_deadline(false, {}), t0_ + 19s);
}

TEST_F(SessionTest, SendTimeoutCountsFromTheLastProgress) {
  Session s(config_, share_, t0_);
  s.on_input(bytes("0123456789"), t0_);
  EXPECT_TRUE(s.wants_write());
  s.on_sent(4, t0_ + 1500ms);  // progress resets the clock
  EXPECT_FALSE(due(s, 3s));
  EXPECT_EQ(due(s, 3500ms), CloseReason::send_timeout);
}

TEST_F(SessionTest, AboveTheHighWaterMarkItStopsReading) {
  Session s(config_, share_, t0_);
  const std::string big(150, 'x');
  s.on_input(bytes(big), t0_);
  EXPECT_FALSE(s.wants_read());
  s.on_sent(100, t0_);
  EXPECT_TRUE(s.wants_read());
}

TEST_F(SessionTest, TheFrameTimeoutIsAbsoluteFromTheFirstByte) {
  config_.protocol = proto::ProtocolKind::framed_echo;
  Session s(config_, share_, t0_);
  // One byte of a header every second: the frame never completes, and dripping does not
  // restart the clock.
  for (int i = 0; i < 3; ++i) {
    s.on_input(bytes(std::string_view("\0", 1)), t0_ + std::chrono::seconds(i));
    EXPECT_FALSE(due(s, std::chrono::seconds(i)));
  }
  EXPECT_EQ(due(s, 3s), CloseReason::frame_timeout);
}

TEST_F(SessionTest, EndOfStreamFlushesBeforeClosing) {
  Session s(config_, share_, t0_);
  s.on_input(bytes("last words"), t0_);
  s.on_end_of_stream();
  EXPECT_FALSE(s.wants_read());
  EXPECT_FALSE(due(s, 1s)) << "the echo is still owed";
  EXPECT_FALSE(s.finished());
  s.on_sent(4, t0_ + 1s);
  EXPECT_FALSE(s.finished()) << "part of the echo is still owed";
  s.on_sent(6, t0_ + 1s);
  EXPECT_EQ(s.finished(), CloseReason::peer_closed);
  EXPECT_EQ(due(s, 1s), CloseReason::peer_closed);
}

TEST_F(SessionTest, FinishedIsOnlyTheEndingNotTheClocks) {
  Session s(config_, share_, t0_);
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(due(s, 11s), CloseReason::idle);
  EXPECT_FALSE(s.finished()) << "timeouts are the timer's to find, through due()";
  s.on_end_of_stream();
  EXPECT_EQ(s.finished(), CloseReason::peer_closed);
}

TEST_F(SessionTest, EndOfStreamInsideAFrameIsTruncated) {
  config_.protocol = proto::ProtocolKind::framed_echo;
  Session s(config_, share_, t0_);
  s.on_input(bytes(std::string_view("\0\0\0\x05"
                                    "ab",
                                    6)),
             t0_);
  s.on_end_of_stream();
  EXPECT_EQ(due(s, 0s), CloseReason::truncated);
}

TEST_F(SessionTest, AProtocolVerdictClosesAfterTheFlush) {
  config_.protocol = proto::ProtocolKind::framed_echo;
  Session s(config_, share_, t0_);
  s.on_input(bytes(std::string_view("\0\0\0\x01"
                                    "aGET ",
                                    9)),
             t0_);
  EXPECT_FALSE(due(s, 0s)) << "the good frame's echo goes out first";
  s.on_sent(s.queued(), t0_);
  EXPECT_EQ(due(s, 0s), CloseReason::frame_too_large);
}

TEST_F(SessionTest, DrainClosesAQuietConnectionAtOnceAndABusyOneAtTheDeadline) {
  Session quiet(config_, share_, t0_);
  EXPECT_EQ(quiet.due(t0_ + 1s, true, t0_ + 6s), CloseReason::server_stopping);

  Session busy(config_, share_, t0_);
  busy.on_input(bytes("x"), t0_ + 990ms);
  busy.on_sent(1, t0_ + 990ms);
  EXPECT_FALSE(busy.due(t0_ + 1s, true, t0_ + 6s)) << "active 10 ms ago: it may finish";
  // It keeps talking: kept until the deadline, then closed.
  for (auto t = t0_ + 1s; t < t0_ + 6s; t += 50ms) {
    busy.on_input(bytes("x"), t);
    busy.on_sent(1, t);
    ASSERT_FALSE(busy.due(t + 10ms, true, t0_ + 6s));
  }
  EXPECT_EQ(busy.due(t0_ + 6s, true, t0_ + 6s), CloseReason::server_stopping);
}

// Regression: a connection busy when stop() came and quiet after it was kept for the whole
// drain (5 s with the tutorial's client, which had just been answered).
TEST_F(SessionTest, DrainClosesAConnectionOnceItFallsQuiet) {
  Session s(config_, share_, t0_);
  s.on_input(bytes("x"), t0_ + 990ms);
  EXPECT_FALSE(s.due(t0_ + 1s, true, t0_ + 6s)) << "it owes the echo";
  s.on_sent(1, t0_ + 1s);
  EXPECT_FALSE(s.due(t0_ + 1050ms, true, t0_ + 6s));
  EXPECT_LE(s.next_deadline(true, t0_ + 6s), t0_ + 1100ms);
  EXPECT_EQ(s.due(t0_ + 1100ms, true, t0_ + 6s), CloseReason::server_stopping);
}

// A connection that has ended for a reason of its own keeps that reason when the stop finds
// it quiet: the stats say why it really closed.
TEST_F(SessionTest, AnEndingConnectionKeepsItsReasonWhileDraining) {
  Session s(config_, share_, t0_);
  s.on_input(bytes("bye"), t0_);
  s.on_sent(3, t0_);
  s.on_end_of_stream();
  EXPECT_EQ(s.due(t0_ + 1s, true, t0_ + 6s), CloseReason::peer_closed);
}

// The send timeout counts progress the kernel reports (its send queue shrinking) as well as
// writes: a slow reader frees too little for the socket to be writable, but it reads.
TEST_F(SessionTest, AShrinkingKernelQueueIsProgress) {
  Session s(config_, share_, t0_);
  s.on_input(bytes("0123456789"), t0_);
  EXPECT_FALSE(s.wants_unsent_check(t0_ + 100ms)) << "too soon to ask";
  ASSERT_TRUE(s.wants_unsent_check(t0_ + 500ms));
  s.on_unsent(5000, t0_ + 500ms);  // the first answer only sets the mark
  EXPECT_FALSE(s.wants_unsent_check(t0_ + 520ms)) << "asked at most every 50 ms";
  s.on_unsent(4000, t0_ + 1900ms);  // less held: the client took some
  EXPECT_FALSE(due(s, 3500ms));
  s.on_unsent(4000, t0_ + 3800ms);  // no change: no progress
  EXPECT_EQ(due(s, 3900ms), CloseReason::send_timeout);
}

TEST_F(SessionTest, ItsReplyBufferIsChargedToTheBudgetAndGivenBackWhenItEnds) {
  BufferBudget budget(0);
  BudgetShare share(budget);
  {
    Session s(config_, share, t0_);
    EXPECT_EQ(budget.used(), 0u);
    s.on_input(bytes("0123456789"), t0_);
    EXPECT_GE(budget.used(), 10u);  // the storage, as allocated
    const auto charged = budget.used();
    s.on_sent(10, t0_);
    s.on_input(bytes("abcdefghij"), t0_);
    EXPECT_EQ(budget.used(), charged) << "steady traffic reuses the storage, charges nothing";
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(SessionTest, AReadSetsAsideTheGrowthItMayCauseUntilItEnds) {
  BufferBudget budget(100'000);
  BudgetShare share(budget);
  Session s(config_, share, t0_);
  EXPECT_EQ(s.begin_read(200'000), 100'000u) << "no read brings more than the budget can store";
  EXPECT_EQ(budget.left(), 0u) << "set aside while the read is under way";
  EXPECT_TRUE(budget.exhausted());
  s.on_input(bytes("abc"), t0_);
  s.end_read();
  EXPECT_EQ(budget.left(), 100'000 - budget.used()) << "what it did not use went back";
  EXPECT_EQ(budget.set_aside(), 0u);
  EXPECT_GE(budget.used(), 3u);
}

TEST_F(SessionTest, WithTheBudgetSpentOnlyAClientOwingNothingIsReadAndOnlyATrickle) {
  BufferBudget budget(100'000);
  BudgetShare share(budget);
  Session owing(config_, share, t0_);
  Session owes_nothing(config_, share, t0_);
  owing.on_input(bytes("abc"), t0_);
  EXPECT_TRUE(owing.wants_read());
  EXPECT_EQ(budget.pauses(), 0u);

  const auto others = budget.take(budget.left());  // the other clients spend it
  EXPECT_TRUE(budget.exhausted());
  EXPECT_FALSE(owing.wants_read()) << "it holds replies: not read until they go";
  EXPECT_TRUE(owes_nothing.wants_read()) << "a client that reads its replies is served";
  EXPECT_EQ(owes_nothing.begin_read(65'536), Session::kTrickleRead);
  owes_nothing.on_input(bytes("xyz"), t0_);
  owes_nothing.end_read();
  EXPECT_FALSE(owes_nothing.wants_read()) << "until its reply has gone";
  EXPECT_EQ(budget.pauses(), 1u);
  owes_nothing.on_sent(3, t0_);  // its storage goes back to the spent budget
  EXPECT_TRUE(owes_nothing.wants_read());

  owing.on_sent(3, t0_);
  EXPECT_TRUE(owing.wants_read());
  budget.put_back(others);
  EXPECT_EQ(budget.used(), 0u) << "both gave their storage back";
  EXPECT_EQ(owing.begin_read(200'000), 100'000u);
}

// The limit holds exactly: a read that would make a full reply buffer grow (to twice what
// it holds) past what is left waits until the replies have gone, and reads from any number
// of threads cannot together spend more than there is, as each sets its growth aside first.
TEST_F(SessionTest, AReadThatWouldGrowTheStoragePastTheBudgetWaits) {
  config_.high_water_mark = 1 << 20;
  BufferBudget budget(10'000);
  BudgetShare share(budget);
  Session s(config_, share, t0_);
  ASSERT_EQ(s.begin_read(6'000), 6'000u);
  s.on_input(bytes(std::string(6'000, 'x')), t0_);  // 6,000 held in 6,000
  s.end_read();
  ASSERT_EQ(budget.used(), 6'000u);
  EXPECT_EQ(s.begin_read(8'000), 0u) << "any more would double it: 6,000 more, 4,000 left";
  EXPECT_FALSE(s.wants_read());
  EXPECT_EQ(budget.pauses(), 1u);
  EXPECT_EQ(budget.left(), 4'000u) << "nothing kept set aside for a read that waits";
  s.on_sent(6'000, t0_);
  EXPECT_TRUE(s.wants_read());
  EXPECT_EQ(s.begin_read(8'000), 8'000u) << "into 6,000 of storage: 2,000 more";
  EXPECT_EQ(budget.left(), 2'000u);
}

// A frame's reply holds the frame: the bytes a read brings and those of the frame's beginning
// the protocol holds already. The read is sized so that both fit in what is left.
TEST_F(SessionTest, AFramesHeldBeginningCountsTowardsWhatItsReplyMayGrow) {
  config_.protocol = proto::ProtocolKind::framed_echo;
  config_.high_water_mark = 1 << 20;
  BufferBudget budget(20'000);
  BudgetShare share(budget);
  Session s(config_, share, t0_);
  std::string frame = {'\0', '\0', '\x17', '\x70'};  // a 6,000-byte frame's header
  frame += std::string(6'000, 'f');
  s.on_input(bytes(frame.substr(0, 5'004)), t0_);  // its header and 5,000 of its payload
  EXPECT_FALSE(s.wants_write());
  // A frame's reply is appended in pieces (its header, then its payload), each of which may
  // double the storage: twice what is held and read must fit in what is left.
  EXPECT_EQ(s.begin_read(8'000), 20'000u / 2 - 5'004u) << "the reply holds what is held, too";
  s.on_input(bytes(frame.substr(5'004)), t0_);
  s.end_read();
  EXPECT_EQ(s.queued(), 6'004u);
  EXPECT_LE(budget.used(), 20'000u);
}

// What fits in the room without growing the storage is the room less what the frame under
// way holds already: its reply will need both.
TEST_F(SessionTest, TheRoomLeftForAReadIsLessWhatTheFrameUnderWayHolds) {
  using enum Session::Arrival;
  config_.protocol = proto::ProtocolKind::framed_echo;
  config_.high_water_mark = 1 << 20;
  Session s(config_, share_, t0_);
  std::string first = {'\0', '\0', '\x03', '\xe8'};  // a 1,000-byte frame
  first += std::string(1'000, 'a');
  s.on_input(bytes(first), t0_);                      // its reply: 1,004 bytes in 1,004 of storage
  s.on_sent(1'000, t0_);                              // 4 unread behind 1,000 sent: 1,000 of room
  std::string second = {'\0', '\0', '\x07', '\xd0'};  // a 2,000-byte frame, 900 of it
  second += std::string(900, 'b');
  s.on_input(bytes(second), t0_);  // held: 904
  EXPECT_EQ(s.begin_read(8'000, at_once, 0), 96u) << "1,000 of room, less the 904 held";
  s.end_read();
}

// Reads in flight together (io_uring) each keep the reply storage they make grow to their
// share of the budget: a read is cut to what grows it no further, and with no room at all
// the client waits for its replies to go. Bytes that come in pieces may double the storage
// with each one: they set aside twice what they may bring.
TEST_F(SessionTest, AReadIsCutSoThatItsRepliesGrowTheirStorageOnlyWithinAnAllowance) {
  using enum Session::Arrival;
  config_.high_water_mark = 1 << 20;
  Session s(config_, share_, t0_);
  EXPECT_EQ(s.begin_read(8'000, at_once, 8'000), 8'000u) << "into an empty buffer: by the read";
  s.on_input(bytes(std::string(10'000, 'x')), t0_);  // 10,000 held in 10,000
  EXPECT_EQ(s.begin_read(30'000, in_pieces, 50'000), 20'000u)
      << "in pieces, up to twice what it would hold: 2 x 30,000, less the 10,000 there";
  EXPECT_EQ(s.begin_read(30'000, at_once, 30'000), 30'000u) << "grows to 40,000: by 30,000";
  EXPECT_EQ(s.begin_read(30'000, at_once, 29'999), 29'999u) << "cut to grow by the allowance";
  EXPECT_EQ(budget_.pauses(), 0u);
  EXPECT_EQ(s.begin_read(30'000, at_once, 9'999), 0u) << "full, and even doubling is too much";
  EXPECT_EQ(budget_.pauses(), 1u) << "counted as a pause for the budget";

  s.on_sent(6'000, t0_);  // 4,000 unread behind 6,000 sent: the front is room again
  EXPECT_EQ(s.begin_read(30'000, at_once, 0), 6'000u) << "cut to the room there is";
  EXPECT_EQ(s.begin_read(5'000, at_once, 0), 5'000u);
  s.on_sent(4'000, t0_);
  EXPECT_EQ(s.begin_read(30'000, at_once, 0), 10'000u + Session::kTrickleRead)
      << "all the storage once the replies have gone, and the trickle past the allowance";
  s.end_read();
}

TEST_F(SessionTest, RepliesTheKernelHoldsButNeverDeliversMeetTheSendTimeout) {
  // Every reply went to the kernel (our buffer is empty), but the client never reads: the
  // kernel's queue does not shrink, and the send timeout (2 s) closes the connection.
  Session stuck(config_, share_, t0_);
  stuck.on_input(bytes("0123456789"), t0_);
  stuck.on_sent(10, t0_);
  EXPECT_FALSE(stuck.wants_write());
  EXPECT_FALSE(stuck.wants_unsent_check(t0_ + 100ms));
  EXPECT_TRUE(stuck.wants_unsent_check(t0_ + 600ms)) << "checked from 250 ms on";
  stuck.on_unsent(10, t0_ + 600ms);
  stuck.on_unsent(10, t0_ + 1s);
  EXPECT_FALSE(due(stuck, 1900ms));
  EXPECT_EQ(due(stuck, 2s), CloseReason::send_timeout);

  // One whose kernel delivers them owes nothing, and is checked no more.
  Session reader(config_, share_, t0_);
  reader.on_input(bytes("0123456789"), t0_);
  reader.on_sent(10, t0_);
  reader.on_unsent(0, t0_ + 600ms);
  EXPECT_FALSE(reader.wants_unsent_check(t0_ + 1s));
  EXPECT_FALSE(due(reader, 5s));
  EXPECT_EQ(due(reader, 10s), CloseReason::idle);
}

// A client that takes nothing is asked less and less often, so stalled clients cost few
// wake-ups (the threaded engine's thread per client wakes for each check), yet one last
// look before the send timeout still saves a client that read meanwhile.
TEST_F(SessionTest, AStalledClientIsCheckedLessAndLessOftenAndOnceMoreAtItsTimeout) {
  config_.send_timeout = 30s;
  config_.high_water_mark = 1 << 20;
  Session s(config_, share_, t0_);
  s.on_input(bytes(std::string(50'000, 'x')), t0_);
  int checks = 0;
  auto now = t0_;
  while (now < t0_ + 20s) {
    now = s.next_deadline(false, {});
    if (s.wants_unsent_check(now)) {
      ++checks;
      s.on_unsent(50'000, now);  // never less: the client reads nothing
    }
  }
  // 50 ms, doubling to a second: 6 checks in the first 2 s, then one a second. At a fixed
  // 50 ms it was 395.
  EXPECT_LE(checks, 26);
  EXPECT_GE(checks, 18);
  // The client reads just before its timeout: the check made at the timeout sees it.
  Session slow(config_, share_, t0_);
  slow.on_input(bytes(std::string(50'000, 'x')), t0_);
  auto last = t0_;
  for (auto next = slow.next_deadline(false, {}); next < t0_ + 30s;
       next = slow.next_deadline(false, {})) {
    ASSERT_TRUE(slow.wants_unsent_check(next));
    slow.on_unsent(50'000, next);
    last = next;
  }
  ASSERT_LT(t0_ + 30s - last, 1s) << "the last check, a second apart by now, was not long ago";
  EXPECT_EQ(slow.next_deadline(false, {}), t0_ + 30s);
  ASSERT_TRUE(slow.wants_unsent_check(t0_ + 30s)) << "one look when the timeout falls due";
  slow.on_unsent(40'000, t0_ + 30s);
  EXPECT_EQ(slow.due(t0_ + 30s, false, {}), std::nullopt) << "it read: not closed";
}

}  // namespace
}  // namespace sockkit::server::detail
