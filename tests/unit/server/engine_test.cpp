// The engine suite's echo behaviour, on every engine: every byte back, framed echo, half-close,
// Unix sockets, resets, allocations, what each connection reports (engine_suite.hpp).
#include "engine_suite.hpp"

namespace sockkit::server::engine_suite {
namespace {

TEST_P(EngineTest, EchoesEveryByteForManyClients) {
  RunningServer server(GetParam(), base_config());
  const std::size_t clients = concurrent() ? 50 : 5;
  std::vector<net::StreamSocket> streams;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (std::size_t i = 0; i < clients; ++i) {
    const auto run_one = [&, i] {
      auto stream = server.connect();
      std::mt19937 random(static_cast<unsigned>(i));
      for (int m = 0; m < 5; ++m) {
        const auto data =
            test::random_bytes(1 + random() % (64 * 1024), static_cast<unsigned>(random()));
        if (echo_round_trip(stream, data) != data) ++failures;
      }
    };
    if (concurrent()) {
      threads.emplace_back(run_one);
    } else {
      run_one();
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(server.wait_for_stats(
      [&](const Stats& s) { return s.closed_by(CloseReason::peer_closed) == clients; }));
  const auto stats = server.engine().stats();
  EXPECT_EQ(stats.accepted, clients);
  EXPECT_EQ(stats.bytes_in, stats.bytes_out);
  EXPECT_EQ(stats.active(), 0u);
}

// Many clients at once, random sizes from 1 B to 64 KiB, every echoed byte compared with
// what was sent (the load generator checks them all).
TEST_P(EngineTest, EchoesManyConcurrentClientsByteForByte) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine serves one client at a time";
  auto config = base_config();
  RunningServer server(GetParam(), config);
  client::LoadConfig load;
  load.target = server.address();
  load.connections = GetParam() == EngineKind::epoll ? 1000 : 200;
  load.threads = 2;
  load.min_size = 1;
  load.max_size = 64 * 1024;
  // How many messages fit in the run depends on the build; that every one of them came back
  // intact does not. Under TSan, ten times slower, with a test alongside, the 1,000 clients'
  // first messages (up to 64 KiB each) did not all fit in one second: none was counted.
#if defined(__SANITIZE_THREAD__)
  load.duration = 4s;
#else
  load.duration = 1s;
#endif
  const auto report = client::LoadGenerator(load).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_EQ(report.counters.connects, load.connections);
  EXPECT_GT(report.counters.messages, 0u);
  // Connections still in the listen backlog when the run ended are accepted (and find
  // their client gone) a little later, slowest under TSan.
  EXPECT_TRUE(server.wait_for_stats(
      [&](const Stats& s) { return s.accepted == load.connections && s.active() == 0; }, 20s))
      << "accepted " << server.engine().stats().accepted << ", active "
      << server.engine().stats().active();
}

TEST_P(EngineTest, EchoesA16MiBPayload) {
  RunningServer server(GetParam(), base_config());
  auto stream = server.connect();
  const auto data = test::random_bytes(16 * 1024 * 1024, 16);
  EXPECT_TRUE(echo_round_trip(stream, data) == data);
}

TEST_P(EngineTest, FramedEchoAnswersFramesAndRefusesAHostileOne) {
  auto config = base_config();
  config.protocol = proto::ProtocolKind::framed_echo;
  RunningServer server(GetParam(), config);
  {
    auto stream = server.connect();
    for (const std::size_t size : {0u, 1u, 1000u, 1024u * 1024u}) {
      const auto payload = test::random_bytes(size, static_cast<unsigned>(size));
      std::thread writer([&] { net::send_frame(stream, payload); });
      std::vector<std::byte> back;
      ASSERT_TRUE(net::recv_frame(stream, back));
      writer.join();
      EXPECT_TRUE(back == payload) << size;
    }
  }
  auto hostile = server.connect();
  hostile.send_all("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(closes_within(hostile, 1s));
  EXPECT_TRUE(server.wait_for_stats(
      [](const Stats& s) { return s.closed_by(CloseReason::frame_too_large) == 1; }));
  auto after = server.connect();  // the server goes on serving
  std::vector<std::byte> back;
  net::send_frame(after, std::as_bytes(std::span(std::string_view("still here"))));
  ASSERT_TRUE(net::recv_frame(after, back));
}

TEST_P(EngineTest, HalfCloseStillEchoesEverythingThenCloses) {
  RunningServer server(GetParam(), base_config());
  auto stream = server.connect();
  const auto data = test::random_bytes(10 * 1024 * 1024, 3);
  std::thread writer([&] {
    stream.send_all(data);
    stream.shutdown_write();
  });
  std::vector<std::byte> back(data.size());
  stream.recv_exact(back);
  writer.join();
  EXPECT_TRUE(back == data);
  std::array<std::byte, 1> more{};
  EXPECT_EQ(stream.recv_some(more), 0u) << "the server closes its side after the echo";
}

TEST_P(EngineTest, ServesUnixSockets) {
  auto config = base_config();
  config.listen = net::Address::unix_abstract("sockkit-engine-test-" + std::to_string(::getpid()) +
                                              "-" + GetParam().name());
  RunningServer server(GetParam(), config);
  auto stream = server.connect();
  const auto data = test::random_bytes(100000, 9);
  EXPECT_TRUE(echo_round_trip(stream, data) == data);
}

TEST_P(EngineTest, PeerResetsMidStreamLeaveNothingBehind) {
  RunningServer server(GetParam(), base_config());
  const std::vector<std::byte> chunk(64 * 1024);
  std::array<std::byte, 4096> some{};
  const auto reset_one = [&] {
    auto stream = server.connect();
    stream.send_all(chunk);
    stream.recv_exact(some);
    sys::set_option(stream.native_handle(), sys::Linger{true, 0s});  // close() sends RST
  };
  // Count once the server is serving and warm: engines open descriptors of their own as
  // they start (an io_uring per loop thread, for one), and allocators keep what they freed.
  constexpr std::uint64_t kWarmUp = 100;
  for (std::uint64_t i = 0; i < kWarmUp; ++i) reset_one();
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.active() == 0; }));
  std::this_thread::sleep_for(50ms);
  const auto fds_before = test::open_fd_count();
  const auto rss_before = resident_kib();
  constexpr std::uint64_t kResets = 1'000;
  for (std::uint64_t i = 0; i < kResets; ++i) reset_one();
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.active() == 0; }))
      << "active: " << server.engine().stats().active();
  const auto stats = server.engine().stats();
  EXPECT_EQ(stats.accepted, kWarmUp + kResets);
  EXPECT_EQ(stats.closed_total(), kWarmUp + kResets);
  EXPECT_EQ(test::open_fd_count(), fds_before) << "the server kept descriptors of reset clients";
  const auto grown_kib = resident_kib() - std::min(rss_before, resident_kib());
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::cout << "[   NOTE   ] memory growth not checked: sanitizers hold freed memory in "
               "quarantine (grew "
            << grown_kib << " KiB)\n";
#else
  // A leak of even one 64 KiB buffer or one session per reset would be 64 MiB here.
  EXPECT_LT(grown_kib, 4 * 1024u) << "KiB grown over " << kResets << " resets";
#endif
}

// DESIGN: nothing is allocated per message in steady state. 64-byte ping-pong through raw
// send/recv on arrays (the client allocates nothing either), counted across all threads.
TEST_P(EngineTest, ServingAMessageAllocatesNothingInSteadyState) {
  RunningServer server(GetParam(), base_config());
  auto stream = server.connect();
  std::array<std::byte, 64> message{};
  std::array<std::byte, 64> reply{};
  const auto ping_pong = [&](int count) {
    for (int i = 0; i < count; ++i) {
      message[0] = static_cast<std::byte>(i);
      stream.send_all(message);
      stream.recv_exact(reply);
      if (reply != message) return false;
    }
    return true;
  };
  ASSERT_TRUE(ping_pong(200));  // warm: buffers at their working size
  std::size_t allocations = 0;
  {
    test::AllocationCounter counter;
    ASSERT_TRUE(ping_pong(2'000));
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0u) << "allocations while serving 2,000 messages";
}

// The hook behind `sockkit serve -v`: each connection reported opened, with its first
// bytes, and closed with its reason and byte counts, from whichever thread served it.
TEST_P(EngineTest, ReportsEachConnectionsOpeningFirstBytesAndClose) {
  struct Seen {
    ConnectionEvent::Kind kind;
    net::Address peer;
    std::string data;
    CloseReason reason;
    std::uint64_t bytes_in, bytes_out;
  };
  std::mutex mutex;
  std::vector<Seen> seen;
  auto config = base_config();
  config.on_connection = [&](const ConnectionEvent& e) {
    std::lock_guard lock(mutex);
    seen.push_back({e.kind, e.peer,
                    std::string(reinterpret_cast<const char*>(e.data.data()), e.data.size()),
                    e.reason, e.bytes_in, e.bytes_out});
  };
  RunningServer server(GetParam(), config);
  net::Address client_address;
  {
    auto stream = server.connect();
    client_address = stream.local_address();
    const std::string hello("Hello\0\xff", 7);
    stream.send_all(hello);
    std::array<std::byte, 7> back{};
    stream.recv_exact(back);
    stream.shutdown_write();
    EXPECT_TRUE(closes_within(stream, 2s));
  }
  ASSERT_TRUE(server.wait_for_stats([](const Stats& s) { return s.closed_total() == 1; }));
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kind, ConnectionEvent::Kind::opened);
  EXPECT_EQ(seen[0].peer, client_address);
  EXPECT_EQ(seen[1].kind, ConnectionEvent::Kind::first_data);
  EXPECT_EQ(seen[1].data, std::string("Hello\0\xff", 7));
  EXPECT_EQ(seen[2].kind, ConnectionEvent::Kind::closed);
  EXPECT_EQ(seen[2].peer, client_address);
  EXPECT_EQ(seen[2].reason, CloseReason::peer_closed);
  EXPECT_EQ(seen[2].bytes_in, 7u);
  EXPECT_EQ(seen[2].bytes_out, 7u);
}

// How a failed recv or send is counted: a reset, a peer the kernel gave up on (timed out,
// or its route gone), anything else an error.
TEST(CloseReasons, ASocketErrorIsCountedAsWhatItMeans) {
  const auto of = [](std::errc e) { return detail::reason_for(std::make_error_code(e)); };
  EXPECT_EQ(of(std::errc::connection_reset), CloseReason::peer_reset);
  EXPECT_EQ(of(std::errc::broken_pipe), CloseReason::peer_reset);
  EXPECT_EQ(of(std::errc::timed_out), CloseReason::peer_gone);
  EXPECT_EQ(of(std::errc::host_unreachable), CloseReason::peer_gone);
  EXPECT_EQ(of(std::errc::network_unreachable), CloseReason::peer_gone);
  EXPECT_EQ(of(std::errc::bad_file_descriptor), CloseReason::error);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest,
                         testing::Values(Variant(EngineKind::iterative),
                                         Variant(EngineKind::threaded), Variant(EngineKind::epoll),
                                         Variant(EngineKind::uring),
                                         Variant(EngineKind::uring, true)),
                         [](const testing::TestParamInfo<Variant>& param) {
                           return param.param.name();
                         });

TEST(EngineKind, NamesRoundTrip) {
  for (const auto kind :
       {EngineKind::iterative, EngineKind::threaded, EngineKind::epoll, EngineKind::uring}) {
    EXPECT_EQ(parse_engine_kind(to_string(kind)), kind);
  }
  EXPECT_FALSE(parse_engine_kind("uring-ish"));
}

TEST(Engine, APortInUseIsAClearError) {
  auto taken = net::StreamListener::bind(net::Address::ipv4_loopback());
  ServerConfig config;
  config.listen = taken.local_address();
  try {
    (void)make_engine(EngineKind::threaded, config);
    FAIL() << "must not start";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "bind " + taken.local_address().to_string() + ": Address already in use");
  }
}

}  // namespace
}  // namespace sockkit::server::engine_suite
