// The io_uring engine's own cases: its rings and receive buffers (engine_suite.hpp).
#include "engine_suite.hpp"

namespace sockkit::server::engine_suite {
namespace {

// The io_uring engine with a 4-entry queue and 2 receive buffers: the full-queue path
// (submit to make room) and the out-of-buffers path (ENOBUFS, wait, then receive again)
// must carry every byte of 50 clients at once, without spinning on the buffers.
TEST(UringEngine, ATinyRingAndTwoBuffersStillEchoEveryByte) {
  if (const auto ec = check_engine(EngineKind::uring)) {
    GTEST_SKIP() << "the kernel refuses the uring engine here: " << ec.message();
  }
  auto config = base_config();
  config.uring = {.queue_depth = 4, .buffer_count = 2, .buffer_size = 4096};
  const CapturedLog log(config);
  RunningServer server(EngineKind::uring, config);
  constexpr int kClients = 50;
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto stream = server.connect();
      ++ready;
      while (ready < kClients) std::this_thread::yield();  // all at once: buffers run out
      std::mt19937 random(static_cast<unsigned>(i));
      for (int m = 0; m < 5; ++m) {
        const auto data =
            test::random_bytes(1 + random() % (64 * 1024), static_cast<unsigned>(random()));
        if (echo_round_trip(stream, data) != data) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  // A receive that found no buffer waits for the end of the round and tries again then,
  // no more of them than there are buffers; armed again at once, each found none again
  // (25 times for each buffer filled, before).
  const auto stats = server.engine().stats();
  const auto filled = stats.bytes_in / 4096;  // at least this many receives filled one
  std::cout << "[   NOTE   ] " << stats.buffer_waits << " receives waited for a buffer; " << filled
            << " or more filled one\n";
  EXPECT_GT(stats.buffer_waits, 0u)
      << "the out-of-buffers path was never taken, so this test proved nothing about it";
  EXPECT_LE(stats.buffer_waits, 4 * filled);
  EXPECT_TRUE(std::ranges::any_of(log.lines(), [](const std::string& line) {
    return line.find("receive buffers were in use") != line.npos;
  })) << "running out of buffers is logged";
}

// 100 clients with data waiting at once, on one loop that starts with 16 receive buffers:
// the loop provides more as receives run out, once a round, so it never comes to all 512
// in use. (It used to grow once for each receive that ran out: from 16 to 512 in one
// round, with every one of them logged as in use while fewer than 100 were.)
TEST(UringEngine, AHundredClientsAtOnceGrowTheBuffersWithoutRunningOut) {
  if (const auto ec = check_engine(EngineKind::uring)) {
    GTEST_SKIP() << "the kernel refuses the uring engine here: " << ec.message();
  }
  auto config = base_config();
  config.threads = 1;
  const CapturedLog log(config);
  RunningServer server(EngineKind::uring, config);
  constexpr std::size_t kClients = 100;
  std::vector<net::StreamSocket> clients;
  for (std::size_t i = 0; i < kClients; ++i) clients.push_back(server.connect());
  const auto message = test::random_bytes(64 * 1024, 7);
  for (int round = 0; round < 10; ++round) {
    for (auto& c : clients) c.send_all(message);  // every client's, before any reply is read
    for (auto& c : clients) {
      std::vector<std::byte> back(message.size());
      c.recv_exact(back);
      EXPECT_TRUE(back == message);
    }
  }
  EXPECT_GT(server.engine().stats().buffer_waits, 0u)
      << "the 16 buffers it starts with never ran out, so this test proved nothing";
  for (const auto& line : log.lines()) {
    EXPECT_EQ(line.find("receive buffers were in use"), line.npos);
  }
}

// A receive waiting in the kernel sets aside from the budget what the reply storage may
// grow by as its bytes come (`promised`): at most twice its limit for a multishot receive
// (its bytes come in pieces), its length for a single one. What it did not use goes back
// when it ends: nothing is left set aside once the clients are gone, or the budget would
// shrink with every connection. Half the clients close; the server closes the other half
// (idle) with receives armed.
TEST(UringEngine, ReceivesSetAsideTheGrowthTheyMayCauseAndGiveItBack) {
  if (const auto ec = check_engine(EngineKind::uring)) {
    GTEST_SKIP() << "the kernel refuses the uring engine here: " << ec.message();
  }
  constexpr std::size_t kClients = 20;
  for (const bool single : {false, true}) {
    auto config = base_config();
    config.threads = 1;
    config.idle_timeout = 500ms;
    RunningServer server(Variant(EngineKind::uring, single), config);
    std::vector<net::StreamSocket> clients;
    for (std::size_t i = 0; i < kClients; ++i) clients.push_back(server.connect());
    for (auto& c : clients) {
      EXPECT_TRUE(echo_round_trip(c, test::random_bytes(64, 3)) == test::random_bytes(64, 3));
    }
    // Each receive's part, and the loop's spare (at most twice 128 KiB).
    const auto promised = server.engine().stats().promised;
    EXPECT_GT(promised, 0u);
    EXPECT_LE(promised, kClients * 2 * 64 * 1024 + 256 * 1024);
    clients.resize(kClients / 2);  // these close; the server closes the rest when idle
    EXPECT_TRUE(server.wait_for_stats([](const Stats& s) {
      return s.closed_by(CloseReason::peer_closed) == kClients / 2 &&
             s.closed_by(CloseReason::idle) == kClients / 2 && s.promised == 0 && s.buffered == 0;
    })) << "single receives: "
        << single << ", still promised " << server.engine().stats().promised << ", buffered "
        << server.engine().stats().buffered;
  }
}

TEST(UringEngine, RefusesSizesItCannotUse) {
  if (const auto ec = check_engine(EngineKind::uring)) {
    GTEST_SKIP() << "the kernel refuses the uring engine here: " << ec.message();
  }
  auto config = base_config();
  config.listen = net::Address::ipv4_loopback();
  config.uring.buffer_count = 3;  // the buffer ring needs a power of two
  EXPECT_THROW((void)make_engine(EngineKind::uring, config), std::invalid_argument);
  config.uring = {.queue_depth = 1};
  EXPECT_THROW((void)make_engine(EngineKind::uring, config), std::invalid_argument);
}

}  // namespace
}  // namespace sockkit::server::engine_suite
