// The engine suite's descriptors and memory, on every engine: out of descriptors, clients that
// never read, no memory for a client, the accept turns, the buffer budget, the kernel's unsent
// limit (engine_suite.hpp).
#include "engine_suite.hpp"

namespace sockkit::server::engine_suite {
namespace {

// Out of descriptors at accept (ROBUSTNESS L3): the server must not spin on a listener that
// stays readable, clients it cannot take must see EOF rather than hang, and it recovers.
TEST_P(EngineTest, OutOfDescriptorsShedsClientsWithoutSpinningAndRecovers) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine holds one connection at a time";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer runtime needs descriptors of its own (UBSan's vptr check "
                  "probes memory through a pipe) and reports false errors when the process "
                  "has none; this test runs in the dev and release builds";
#endif
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  // The test's 30 client sockets exist before the limit drops (connect() needs no new
  // descriptor). The limit drops before the server starts, as under `prlimit`: io_uring
  // reads the limit when an accept is armed, so a multishot accept armed earlier would
  // go on accepting up to the old one. 20 descriptors leave the server, after its own
  // (listener, stop doorbell, a spare and an epoll fd or a ring per loop), room for about
  // a dozen of the 30.
  std::vector<net::StreamSocket> clients;
  for (int i = 0; i < 30; ++i) {
    std::error_code ec;
    clients.emplace_back(sys::open_socket(AF_INET, SOCK_STREAM, 0, ec));
    ASSERT_FALSE(ec);
  }
  rlimit low = original;
  low.rlim_cur = test::open_fd_count() + 20;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  RunningServer server(GetParam(), base_config());
  for (auto& c : clients) {
    std::error_code ec;
    sys::connect(c.native_handle(), server.address().data(), server.address().size(), ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  const auto cpu_before = sys::process_cpu_time();
  std::this_thread::sleep_for(1s);
  const auto cpu_spent = sys::process_cpu_time() - cpu_before;
  EXPECT_LT(cpu_spent, 300ms) << "busy loop on a readable listener while out of descriptors";

  std::size_t shed = 0;
  for (auto& c : clients) {
    c.set_read_timeout(50ms);
    std::array<std::byte, 1> b{};
    std::error_code ec;
    if (c.recv_some(b, ec) == 0 && !ec) ++shed;  // EOF: shed by the spare descriptor
  }
  EXPECT_GT(shed, 0u);
  clients.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.active() == 0; }));
  auto fresh = server.connect();
  EXPECT_TRUE(echo_round_trip(fresh, test::random_bytes(100, 4)) == test::random_bytes(100, 4));
}

// ROBUSTNESS S1 in small: clients that write and never read. The server stops reading them
// at the high-water mark (so its memory stays bounded), keeps serving everyone else, and
// closes them when the send timeout passes with no progress.
TEST_P(EngineTest, ClientsThatNeverReadAreBoundedAndClosedWhileOthersAreServed) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine serves one client at a time";
  auto config = base_config();
  config.high_water_mark = 64 * 1024;
  config.send_timeout = 1500ms;
  RunningServer server(GetParam(), config);
  auto probe = server.connect();
  EXPECT_TRUE(echo_round_trip(probe, test::random_bytes(64, 1)) == test::random_bytes(64, 1));
  const auto rss_before = resident_kib();

  constexpr std::size_t kGreedy = 200;
  auto greedy = non_reading_clients(server, kGreedy);
  const std::vector<std::byte> chunk(64 * 1024);
  // Up to 1 MiB each, as far as the kernel takes it; then they just sit there.
  for (int round = 0; round < 16; ++round) {
    for (auto& g : greedy) {
      std::error_code ec;
      (void)sys::send(g.native_handle(), chunk, 0, ec);
    }
  }
  // While they are stuck, the probe is still answered promptly.
  for (int i = 0; i < 5; ++i) {
    probe.set_read_timeout(1s);
    const auto data = test::random_bytes(64, static_cast<unsigned>(i));
    EXPECT_TRUE(echo_round_trip(probe, data) == data) << "probe " << i;
  }
  const auto grown_kib = resident_kib() - std::min(rss_before, resident_kib());
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::cout << "[   NOTE   ] memory bound not checked: sanitizer shadow memory and fake "
               "stacks inflate RSS (grew "
            << grown_kib << " KiB)\n";
#else
  // N x (high-water mark + one read buffer + a send copy) x 1.25 + 32 MiB of slack.
  EXPECT_LT(grown_kib, kGreedy * (64 + 64 + 64) * 5 / 4 + 32 * 1024) << "KiB";
#endif
  EXPECT_TRUE(server.wait_for_stats(
      [](const Stats& s) { return s.closed_by(CloseReason::send_timeout) == kGreedy; }, 6s))
      << "closed by send timeout: " << server.engine().stats().closed_by(CloseReason::send_timeout);
}

// Out of memory for a new client's state: that client is closed at once (EOF, not a hang
// and not a crash), it is said in the log, and the server goes on serving the next one.
TEST_P(EngineTest, NoMemoryForANewClientClosesOnlyItAndTheServerGoesOn) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine is covered by the threaded one";
  auto config = base_config();
  const CapturedLog log(config);
  RunningServer server(GetParam(), config);
  auto before = server.connect();
  EXPECT_TRUE(echo_round_trip(before, test::random_bytes(10, 1)) == test::random_bytes(10, 1));
  {
    std::vector<net::StreamSocket> refused;
    refused.reserve(3);  // this thread allocates nothing while sessions cannot be made
    const test::FailingAllocations no_sessions(sizeof(detail::Session), 3);
    for (int i = 0; i < 3; ++i) refused.push_back(server.connect());
    for (auto& r : refused) EXPECT_TRUE(closes_within(r, 2s)) << "EOF, not a hang";
    EXPECT_EQ(no_sessions.left(), 0);
  }
  auto after = server.connect();
  EXPECT_TRUE(echo_round_trip(after, test::random_bytes(10, 2)) == test::random_bytes(10, 2));
  EXPECT_TRUE(echo_round_trip(before, test::random_bytes(10, 3)) == test::random_bytes(10, 3));
  const auto stats = server.engine().stats();
  if (GetParam() == EngineKind::threaded) {  // its thread had started: accepted, then closed
    EXPECT_EQ(stats.closed_by(CloseReason::error), 3u);
  } else {
    EXPECT_EQ(stats.rejected, 3u);
    const auto lines = log.lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(lines[0].starts_with("cannot serve a new client on ")) << lines[0];
  }
}

// Two event loops on one listener: a burst of clients spreads over both, however the
// kernel picks the accept to wake and however the loops' threads are scheduled
// (AcceptBalance). Before it, one loop took all 200 in 9 of 60 runs (io_uring) and
// below 10 of them in 23 of 60 (epoll).
TEST_P(EngineTest, ABurstOfClientsSpreadsOverTheEventLoops) {
  if (GetParam() != EngineKind::epoll && GetParam() != EngineKind::uring) {
    GTEST_SKIP() << "one loop per thread only (the iterative and threaded engines have none)";
  }
  auto config = base_config();
  config.threads = 2;
  RunningServer server(GetParam(), config);
  constexpr std::size_t kClients = 200;
  std::vector<net::StreamSocket> clients;
  for (std::size_t i = 0; i < kClients; ++i) clients.push_back(server.connect());
  for (auto& c : clients) {
    EXPECT_TRUE(echo_round_trip(c, test::random_bytes(8, 1)) == test::random_bytes(8, 1));
  }
  const auto* loops = dynamic_cast<const detail::MultiLoopEngine*>(&server.engine());
  ASSERT_NE(loops, nullptr);
  const auto each = loops->loop_stats();
  ASSERT_EQ(each.size(), 2u);
  std::cout << "[   NOTE   ] accepted per loop: " << each[0].accepted << ", " << each[1].accepted
            << "\n";
  EXPECT_EQ(each[0].accepted + each[1].accepted, kClients);
  // Neither loop leads the other by more than AcceptBalance's margin, and a little for the
  // accepts still completing as a loop stops (the loop in the lead ends its turn only
  // after the accept it had armed).
  const auto least = std::min(each[0].accepted, each[1].accepted);
  const auto most = std::max(each[0].accepted, each[1].accepted);
  EXPECT_LE(most - least, detail::AcceptBalance::margin(least) + 2) << "clients piled on one loop";
}

// max_buffer_memory: 40 clients that never read could make the server hold 40 x 256 KiB;
// with a 2 MiB budget it holds about 2 MiB, counts the pauses, and a client that reads its
// replies is still answered while the budget is spent. Closing the greedy ones gives it back.
TEST_P(EngineTest, TheBufferBudgetBoundsAllClientsTogetherAndAReaderIsStillServed) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine serves one client at a time";
  auto config = base_config();
  config.high_water_mark = 256 * 1024;
  config.max_buffer_memory = 2 << 20;
  config.socket_send_buffer = 4096;  // so the replies pile up in the server, not the kernel
  config.send_timeout = 1500ms;
  config.threads = 2;
  RunningServer server(GetParam(), config);
  auto probe = server.connect();

  constexpr std::size_t kGreedy = 40;
  auto greedy = non_reading_clients(server, kGreedy);
  const std::vector<std::byte> chunk(64 * 1024);
  std::uint64_t peak = 0;
  for (int round = 0; round < 16; ++round) {  // up to 1 MiB each, as far as it is taken
    for (auto& g : greedy) {
      std::error_code ec;
      (void)sys::send(g.native_handle(), chunk, 0, ec);
    }
    peak = std::max(peak, server.engine().stats().buffered);
  }

  // Spent: the clients are held back for the budget, most of which is held. (Not quite all
  // on io_uring, where a client's read in flight may grow its reply storage only within its
  // share of what is left, and growing doubles the storage.)
  ASSERT_TRUE(server.wait_for_stats(
      [](const Stats& s) {
        return s.buffered + s.promised >= (3u << 20) / 2 && s.budget_pauses > 0;
      },
      3s))
      << "buffered " << server.engine().stats().buffered;
  for (int i = 0; i < 20; ++i) {  // spent, and the reader is answered all the same
    probe.set_read_timeout(1s);
    const auto data = test::random_bytes(64, static_cast<unsigned>(i));
    EXPECT_TRUE(echo_round_trip(probe, data) == data) << "probe " << i;
    peak = std::max(peak, server.engine().stats().buffered);
    std::this_thread::sleep_for(10ms);
  }
  // Exactly the budget, and the trickle each client owing nothing may still take past it
  // (Session::kTrickleRead: 4 KiB of storage). Without setting growth aside before a read, a
  // doubling reply buffer and the threaded engine's 40 readers each checking on their own took it
  // far past.
  const std::uint64_t bound = (2u << 20) + (kGreedy + 1) * 4096;
  std::cout << "[   NOTE   ] peak " << peak << " B held, bound " << bound << "\n";
  EXPECT_LE(peak, bound);
  EXPECT_TRUE(server.wait_for_stats(
      [](const Stats& s) { return s.closed_by(CloseReason::send_timeout) == kGreedy; }, 6s));
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.buffered < 64 * 1024; }))
      << "given back: " << server.engine().stats().buffered;
}

// socket_unsent_limit: for a client that does not read, the kernel keeps at most that
// much of the replies unsent (plus the one segment that crossed it), and the rest waits in
// the server's buffer, where the high-water mark and the budget count it. Without the
// limit the kernel's send buffer (512 KiB here) takes most of the 192 KiB.
TEST_P(EngineTest, TheKernelHoldsNoMoreThanTheUnsentLimitForAClientThatDoesNotRead) {
  constexpr std::size_t kSent = 192 * 1024;
  const auto held_by_kernel = [&](std::size_t limit) {
    auto config = base_config();
    config.socket_unsent_limit = limit;
    RunningServer server(GetParam(), config);
    auto clients = non_reading_clients(server, 1);
    const int fd = clients[0].native_handle();
    const std::vector<std::byte> chunk(kSent);
    std::size_t sent = 0;
    for (int i = 0; i < 200 && sent < kSent; ++i) {  // as fast as the server takes it
      std::error_code ec;
      sent += sys::send(fd, std::span(chunk).subspan(sent), 0, ec);
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(sent, kSent);
    EXPECT_TRUE(server.wait_for_stats([&](const Stats& s) { return s.bytes_in == kSent; }));
    std::this_thread::sleep_for(100ms);  // the replies settle where they will stay
    int delivered = 0;                   // what reached the client's receive buffer
    EXPECT_EQ(::ioctl(fd, FIONREAD, &delivered), 0);
    return server.engine().stats().bytes_out - static_cast<std::uint64_t>(delivered);
  };
  const auto without = held_by_kernel(0);
  const auto with = held_by_kernel(16 * 1024);
  std::cout << "[   NOTE   ] the kernel held " << without << " B unsent without the limit, " << with
            << " B with 16 KiB\n";
  EXPECT_GE(without, 96u * 1024);
  EXPECT_LE(with, (16 + 64 + 4) * 1024u);
}

}  // namespace
}  // namespace sockkit::server::engine_suite
