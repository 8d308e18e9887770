// The engine suite's timeouts and limits, on every engine: idle, frame and send timeouts, each
// client socket's setup, the connection limit, stop and the drain (engine_suite.hpp).
#include "engine_suite.hpp"

namespace sockkit::server::engine_suite {
namespace {

TEST_P(EngineTest, IdleTimeoutClosesOnlyTheSilentClient) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine serves one client at a time";
  auto config = base_config();
  config.idle_timeout = 400ms;
  RunningServer server(GetParam(), config);
  auto silent = server.connect();
  auto chatty = server.connect();
  const auto start = Clock::now();
  std::atomic<bool> chatty_ok{true};
  std::thread talker([&] {
    std::array<std::byte, 2> back{};
    while (Clock::now() - start < 1200ms) {
      std::error_code ec;
      chatty.send_all(std::as_bytes(std::span(std::string_view("hi"))), ec);
      if (!ec) chatty.recv_exact(back, ec);
      if (ec) chatty_ok = false;
      std::this_thread::sleep_for(100ms);
    }
  });
  EXPECT_TRUE(closes_within(silent, 2s));
  const auto closed_after = Clock::now() - start;
  talker.join();
  EXPECT_GE(closed_after, 390ms);
  EXPECT_LT(closed_after, 1500ms);
  EXPECT_TRUE(chatty_ok);
  EXPECT_EQ(server.engine().stats().closed_by(CloseReason::idle), 1u);
}

TEST_P(EngineTest, FrameTimeoutClosesASlowloris) {
  auto config = base_config();
  config.protocol = proto::ProtocolKind::framed_echo;
  config.frame_timeout = 300ms;
  RunningServer server(GetParam(), config);
  auto slow = server.connect();
  const auto start = Clock::now();
  slow.send_all(std::string_view("\x00\x00", 2));  // half a header, then nothing
  EXPECT_TRUE(closes_within(slow, 2s));
  const auto closed_after = Clock::now() - start;
  EXPECT_GE(closed_after, 290ms);
  EXPECT_LT(closed_after, 1500ms);
  EXPECT_TRUE(server.wait_for_stats(
      [](const Stats& s) { return s.closed_by(CloseReason::frame_timeout) == 1; }));
}

TEST_P(EngineTest, SendTimeoutClosesAClientThatNeverReads) {
  auto config = base_config();
  config.high_water_mark = 64 * 1024;
  config.send_timeout = 500ms;
  RunningServer server(GetParam(), config);
  auto greedy = server.connect();
  // Write as much as the kernel takes, never read: the server's replies pile up.
  sys::set_option(greedy.native_handle(), sys::ReceiveBufferSize{4096});
  std::error_code ec;
  sys::set_nonblocking(greedy.native_handle(), true, ec);
  const std::vector<std::byte> chunk(64 * 1024);
  const auto start = Clock::now();
  while (Clock::now() - start < 3s) {  // until the server gives up on us (reset)
    (void)sys::send(greedy.native_handle(), chunk, 0, ec);
    if (ec == std::errc::resource_unavailable_try_again) {
      std::this_thread::sleep_for(1ms);
    } else if (ec) {
      break;
    }
  }
  EXPECT_TRUE(server.wait_for_stats(
      [](const Stats& s) { return s.closed_by(CloseReason::send_timeout) == 1; }, 4s))
      << "closes: " << testing::PrintToString(server.engine().stats().closed)
      << " in/out: " << server.engine().stats().bytes_in << "/"
      << server.engine().stats().bytes_out;
}

// The server's own socket for `client`: the descriptor of this process whose peer is the
// client's address (the engine runs in this process), or -1.
int server_side_of(const net::StreamSocket& client) {
  sockaddr_storage mine{};
  socklen_t length = sizeof mine;
  if (::getsockname(client.native_handle(), reinterpret_cast<sockaddr*>(&mine), &length) != 0) {
    return -1;
  }
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0 &&
        peer_length == length && std::memcmp(&peer, &mine, length) == 0) {
      return fd;
    }
  }
  return -1;
}

// Every engine sets up each TCP client's socket as ServerConfig says: no Nagle delay (a
// reply would otherwise wait for the client's ACK of the one before: 5 ms per reply in an
// open-loop benchmark), keepalive, the user timeout, the send buffer and the unsent limit.
TEST_P(EngineTest, EachClientSocketIsSetUpAsTheConfigSays) {
  auto config = base_config();
  config.keepalive_idle = std::chrono::seconds(7);
  config.tcp_user_timeout = 9s;
  config.socket_send_buffer = 64 * 1024;
  config.socket_unsent_limit = 32 * 1024;
  RunningServer server(GetParam(), config);
  auto client = server.connect();
  const auto data = test::random_bytes(16, 1);
  ASSERT_TRUE(echo_round_trip(client, data) == data);  // accepted and set up by now
  const int fd = server_side_of(client);
  ASSERT_GE(fd, 0) << "no socket of this process has the client as its peer";
  EXPECT_TRUE(sys::get_option<sys::NoDelay>(fd).value);
  EXPECT_TRUE(sys::get_option<sys::KeepAlive>(fd).value);
  EXPECT_EQ(sys::get_option<sys::KeepAliveIdle>(fd).value, std::chrono::seconds(7));
  EXPECT_EQ(sys::get_option<sys::UserTimeout>(fd).value, 9s);
  EXPECT_EQ(sys::get_option<sys::SendBufferSize>(fd).value, 2 * 64 * 1024);  // (doubled)
  EXPECT_EQ(sys::get_option<sys::NotSentLowWater>(fd).value, 32 * 1024);
}

// A client given up on by the send timeout learns it at once: the server resets the
// connection. A FIN would wait behind the replies the client never takes, so the client
// would never see the close (found by S1: one of 200 clients never saw it), and the
// server's kernel would keep the socket and its replies. Both where the replies wait in
// the server (past the unsent limit) and where the kernel holds them all.
TEST_P(EngineTest, AClientClosedByTheSendTimeoutSeesAResetAtOnce) {
  struct Case {
    std::size_t sent, unsent_limit;
  };
  for (const auto [sent, unsent_limit] : {Case{192 * 1024, 16 * 1024}, Case{96 * 1024, 0}}) {
    auto config = base_config();
    config.socket_unsent_limit = unsent_limit;
    config.send_timeout = 500ms;
    RunningServer server(GetParam(), config);
    auto clients = non_reading_clients(server, 1);
    const int fd = clients[0].native_handle();
    const std::vector<std::byte> chunk(sent);
    std::size_t done = 0;
    for (int i = 0; i < 200 && done < sent; ++i) {  // all of it reaches the server
      std::error_code ec;
      done += sys::send(fd, std::span(chunk).subspan(done), 0, ec);
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(done, sent);
    ASSERT_TRUE(server.wait_for_stats([&](const Stats& s) { return s.bytes_in == sent; }));
    ASSERT_TRUE(server.wait_for_stats(
        [](const Stats& s) { return s.closed_by(CloseReason::send_timeout) == 1; }, 3s))
        << sent << " B: not closed by the send timeout";
    // Without reading (that would be progress): the hang-up shows within 1 s of the close.
    pollfd watched{fd, POLLRDHUP, 0};
    ASSERT_EQ(::poll(&watched, 1, 1000), 1) << sent << " B: the client never saw the close";
    EXPECT_TRUE(watched.revents & POLLERR) << sent << " B: closed with a FIN, not a reset";
  }
}

TEST_P(EngineTest, TheConnectionLimitAcceptsAndClosesTheRest) {
  if (!concurrent()) GTEST_SKIP() << "the iterative engine holds one connection by design";
  auto config = base_config();
  config.max_connections = 3;
  const CapturedLog log(config);
  RunningServer server(GetParam(), config);
  std::vector<net::StreamSocket> kept;
  for (int i = 0; i < 3; ++i) {
    kept.push_back(server.connect());
    EXPECT_TRUE(echo_round_trip(kept.back(), test::random_bytes(10, 1)) ==
                test::random_bytes(10, 1));
  }
  std::vector<net::StreamSocket> extra;
  for (int i = 0; i < 2; ++i) extra.push_back(server.connect());
  for (auto& e : extra) EXPECT_TRUE(closes_within(e, 1s)) << "over the limit: EOF, not a hang";
  EXPECT_EQ(server.engine().stats().rejected, 2u);
  // Said once, not once per client: a flood of clients must not become a flood of lines.
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_TRUE(log.lines()[0].starts_with("connection limit (3) reached on ")) << log.lines()[0];
  std::this_thread::sleep_for(1100ms);  // a second later it may be said again, with a count
  auto another = server.connect();
  EXPECT_TRUE(closes_within(another, 1s));
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.rejected == 3; }));
  ASSERT_EQ(log.lines().size(), 2u);
  EXPECT_TRUE(log.lines()[1].ends_with("(1 similar messages suppressed)")) << log.lines()[1];
  kept.pop_back();  // one leaves, so one more fits
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.active() == 2; }));
  auto late = server.connect();
  EXPECT_TRUE(echo_round_trip(late, test::random_bytes(10, 2)) == test::random_bytes(10, 2));
}

TEST_P(EngineTest, StopRefusesNewClientsClosesIdleOnesAndReturns) {
  auto config = base_config();
  config.drain_timeout = 3s;
  RunningServer server(GetParam(), config);
  auto idle = server.connect();
  EXPECT_TRUE(echo_round_trip(idle, test::random_bytes(100, 1)) == test::random_bytes(100, 1));
  std::this_thread::sleep_for(200ms);  // quiet long enough to count as idle
  const auto stop_at = Clock::now();
  server.engine().stop();
  EXPECT_TRUE(closes_within(idle, 1s));
  std::error_code ec;
  (void)net::StreamSocket::connect(server.address(), 1s, ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_TRUE(server.wait_for_stats([](const Stats& s) { return s.active() == 0; }));
  while (!server.done() && Clock::now() - stop_at < 3s) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(server.done());
  EXPECT_LT(server.returned() - stop_at, 1s) << "nothing active: no need to wait out the drain";
}

TEST_P(EngineTest, TheDrainDeadlineClosesAClientThatNeverReads) {
  auto config = base_config();
  config.drain_timeout = 500ms;
  config.high_water_mark = 64 * 1024;
  // A small kernel send buffer, so the replies cannot all vanish into the kernel: the
  // client must owe the server bytes, or the drain rightly counts it as idle and closes it
  // at once (seen: the uring case returned after 100 ms).
  config.socket_send_buffer = 4096;
  RunningServer server(GetParam(), config);
  auto stuck = server.connect();
  sys::set_option(stuck.native_handle(), sys::ReceiveBufferSize{4096});
  std::error_code ec;
  sys::set_nonblocking(stuck.native_handle(), true, ec);
  const std::vector<std::byte> chunk(64 * 1024);
  for (int i = 0; i < 100; ++i) (void)sys::send(stuck.native_handle(), chunk, 0, ec);
  ASSERT_TRUE(server.wait_for_stats([](const Stats& s) { return s.bytes_out > 0; }));
  const auto stop_at = Clock::now();
  server.engine().stop();
  while (!server.done() && Clock::now() - stop_at < 5s) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(server.done());
  EXPECT_GE(server.returned() - stop_at, 450ms);
  EXPECT_LT(server.returned() - stop_at, 2s);
  EXPECT_EQ(server.engine().stats().closed_by(CloseReason::server_stopping), 1u);
}

}  // namespace
}  // namespace sockkit::server::engine_suite
