#include "sockkit/net/tcp_stream.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sockkit/net/error.hpp"
#include "sockkit/net/tcp_listener.hpp"
#include "sockkit/sys/socket_options.hpp"
#include "support/bytes.hpp"
#include "support/loopback.hpp"

namespace sockkit::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::make_tcp_pair;

using test::as_string;

// The lesson's first warning: send() may take only some of the bytes. With a 4 KiB send
// buffer, a reader taking random 1-4096 byte bites, and a storm of signals interrupting the
// sender (so send() returns short counts and EINTR), send_all must still deliver every byte.
TEST(TcpStream, SendAllDeliversEveryByteThroughATinyBufferUnderSignals) {
  constexpr std::size_t kSize = 64 * 1024 * 1024;
  const auto data = test::random_bytes(kSize, 1);
  auto [client, server] = make_tcp_pair();
  sys::set_option(client.native_handle(), sys::SendBufferSize{4096});
  client.set_no_delay(true);

  struct sigaction action {};
  action.sa_handler = [](int) {};  // no SA_RESTART: every signal interrupts the syscall
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);

  std::vector<std::byte> received(kSize);
  std::thread reader([&, &server = server] {
    std::mt19937 engine(2);
    std::uniform_int_distribution<std::size_t> bite(1, 4096);
    std::size_t got = 0;
    while (got < kSize) {
      const auto n =
          server.recv_some(std::span(received).subspan(got, std::min(bite(engine), kSize - got)));
      if (n == 0) break;
      got += n;
      // With an 8 KiB send buffer every segment is small, and the receiver would delay each
      // acknowledgement by a clock tick; acknowledging at once keeps the test quick.
      sys::set_option(server.native_handle(), sys::QuickAck{true});
    }
  });

  const pthread_t sender = ::pthread_self();
  std::atomic<bool> sending{true};
  std::atomic<int> signals{0};
  std::thread storm([&] {
    for (int i = 0; i < 20000 && sending; ++i) {
      ::pthread_kill(sender, SIGUSR1);
      ++signals;
      std::this_thread::sleep_for(50us);
    }
  });

  client.send_all(data);
  sending = false;
  storm.join();
  reader.join();
  ::sigaction(SIGUSR1, &previous, nullptr);

  EXPECT_GT(signals.load(), 0);
  EXPECT_TRUE(received == data) << "the received stream differs from what was sent";
}

TEST(TcpStream, RecvExactCollectsManySmallWrites) {
  auto [client, server] = make_tcp_pair();
  client.set_no_delay(true);
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "msg" + std::to_string(i % 10) + "-";
  std::thread writer([&, &client = client] {
    for (std::size_t i = 0; i < expected.size(); i += 5) {
      client.send_all(std::string_view(expected).substr(i, 5));
    }
  });
  std::vector<std::byte> buffer(expected.size());
  server.recv_exact(buffer);
  writer.join();
  EXPECT_EQ(as_string(buffer), expected);
}

TEST(TcpStream, RecvSomeReturnsZeroWhenThePeerCloses) {
  auto [client, server] = make_tcp_pair();
  client.send_all("bye");
  client.close();
  std::array<std::byte, 16> buffer{};
  EXPECT_EQ(server.recv_some(buffer), 3u);
  EXPECT_EQ(server.recv_some(buffer), 0u);
  EXPECT_EQ(server.recv_some(buffer), 0u);
}

TEST(TcpStream, RecvExactReportsEarlyCloseWithTheByteCount) {
  {
    auto [client, server] = make_tcp_pair();
    client.send_all("abc");
    client.close();
    std::array<std::byte, 10> buffer{};
    try {
      server.recv_exact(buffer);
      FAIL() << "recv_exact must report the early close";
    } catch (const EarlyCloseError& e) {
      EXPECT_EQ(e.received(), 3u);
      EXPECT_EQ(e.expected(), 10u);
      EXPECT_EQ(e.code(), Errc::closed_early);
      const std::string what = e.what();
      EXPECT_NE(what.find("3 of 10 bytes arrived"), std::string::npos) << what;
      EXPECT_NE(what.find("recv_exact from 127.0.0.1:"), std::string::npos) << what;
    }
  }
  {
    auto [client, server] = make_tcp_pair();
    client.send_all("abcd");
    client.close();
    std::array<std::byte, 10> buffer{};
    std::error_code ec;
    EXPECT_EQ(server.recv_exact(buffer, ec), 4u);
    EXPECT_EQ(ec, Errc::closed_early);
  }
}

TEST(TcpStream, SendingToAResetPeerIsAnErrorNotSigpipe) {
  // main() leaves SIGPIPE at its default disposition: without MSG_NOSIGNAL this test
  // binary would be killed instead of failing politely.
  auto [client, server] = make_tcp_pair();
  server.set_linger(0s);
  server.close();  // linger 0: the close sends a reset
  const std::vector<std::byte> chunk(64 * 1024);
  std::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) {
    client.send_all(chunk, ec);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(ec == std::errc::broken_pipe || ec == std::errc::connection_reset) << ec.message();
  EXPECT_THROW(client.send_all(chunk), std::system_error);
}

TEST(TcpStream, ConnectRefusedNamesTheAddress) {
  Address closed;
  {
    auto listener = TcpListener::bind(Address::ipv4_loopback());
    closed = listener.local_address();
  }
  try {
    (void)TcpStream::connect(closed);
    FAIL() << "connect to a closed port must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
    EXPECT_EQ(std::string(e.what()), "connect " + closed.to_string() + ": Connection refused");
  }
  std::error_code ec;
  auto stream = TcpStream::connect(closed, Timeout::zero(), ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_FALSE(stream.is_open());
}

// A listener whose accept queue is full drops new SYNs (Linux checks this before anything
// else, syncookies or not), so a further connect hangs until its timeout: a deterministic
// black hole on loopback, with no routing tricks.
TEST(TcpStream, ConnectTimeoutFiresOnTime) {
  auto listener = TcpListener::bind(Address::ipv4_loopback(), ListenOptions{.backlog = 0});
  std::vector<TcpStream> queued;
  std::error_code ec;
  Clock::duration elapsed{};
  for (int i = 0; i < 8; ++i) {
    const auto start = Clock::now();
    auto stream = TcpStream::connect(listener.local_address(), 300ms, ec);
    elapsed = Clock::now() - start;
    if (ec) break;
    queued.push_back(std::move(stream));
  }
  ASSERT_EQ(ec, std::errc::timed_out) << ec.message();
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 2s);
  try {
    (void)TcpStream::connect(listener.local_address(), 100ms);
    FAIL() << "must time out";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "connect " + listener.local_address().to_string() + ": Connection timed out");
  }
}

TEST(TcpStream, ConnectByNameTriesEachResolvedAddress) {
  auto listener = TcpListener::bind(Address::ipv4_loopback());
  const auto port = listener.local_address().port();
  // "localhost" may resolve to ::1 first, where nobody listens: connect must go on to
  // 127.0.0.1 rather than give up on the first address.
  auto stream = TcpStream::connect(Endpoint("localhost", port));
  EXPECT_EQ(stream.peer_address(), Address::ipv4_loopback(port));
  listener.close();
  try {
    (void)TcpStream::connect(Endpoint("localhost", port));
    FAIL() << "must fail once nothing listens";
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("connect localhost:" + std::to_string(port) + " (tried "),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
  }
}

TEST(TcpStream, WorksOverIpv6Loopback) {
  auto [client, server] = make_tcp_pair(Address::ipv6_loopback());
  EXPECT_EQ(client.peer_address().family(), Address::Family::ipv6);
  EXPECT_EQ(server.peer_address().host(), "::1");
  client.send_all("v6");
  std::array<std::byte, 2> buffer{};
  server.recv_exact(buffer);
  EXPECT_EQ(as_string(buffer), "v6");
}

TEST(TcpStream, ReadTimeoutFiresOnTime) {
  auto [client, server] = make_tcp_pair();
  server.set_read_timeout(200ms);
  std::array<std::byte, 4> buffer{};
  const auto start = Clock::now();
  std::error_code ec;
  EXPECT_EQ(server.recv_some(buffer, ec), 0u);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_THROW(server.recv_exact(buffer), std::system_error);
}

TEST(TcpStream, ShutdownWriteHalfClosesAndRepliesStillArrive) {
  auto [client, server] = make_tcp_pair();
  client.send_all("request");
  client.shutdown_write();
  std::vector<std::byte> request(7);
  server.recv_exact(request);
  std::array<std::byte, 1> more{};
  EXPECT_EQ(server.recv_some(more), 0u);  // the client said it is done
  server.send_all("reply");
  server.close();
  std::array<std::byte, 5> reply{};
  client.recv_exact(reply);
  EXPECT_EQ(as_string(reply), "reply");
  EXPECT_EQ(client.recv_some(more), 0u);
}

TEST(TcpStream, OptionsReachTheSocket) {
  auto [client, server] = make_tcp_pair();
  client.set_no_delay(true);
  client.set_keepalive({.idle = 2s, .interval = 1s, .count = 3});
  client.set_user_timeout(4s);
  client.set_linger(5s);
  const int fd = client.native_handle();
  EXPECT_TRUE(sys::get_option<sys::NoDelay>(fd).value);
  EXPECT_TRUE(sys::get_option<sys::KeepAlive>(fd).value);
  EXPECT_EQ(sys::get_option<sys::KeepAliveIdle>(fd).value, 2s);
  EXPECT_EQ(sys::get_option<sys::KeepAliveInterval>(fd).value, 1s);
  EXPECT_EQ(sys::get_option<sys::KeepAliveCount>(fd).value, 3);
  EXPECT_EQ(sys::get_option<sys::UserTimeout>(fd).value, 4s);
  EXPECT_TRUE(sys::get_option<sys::Linger>(fd).enabled);
  client.set_linger(std::nullopt);
  EXPECT_FALSE(sys::get_option<sys::Linger>(fd).enabled);
}

TEST(TcpStream, KnowsBothEnds) {
  auto [client, server] = make_tcp_pair();
  EXPECT_EQ(client.local_address(), server.peer_address());
  EXPECT_EQ(server.local_address(), client.peer_address());
}

TEST(TcpStream, RejectsUnixAddresses) {
  std::error_code ec;
  (void)TcpStream::connect(Address::unix_abstract("x"), Timeout::zero(), ec);
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
}

}  // namespace
}  // namespace sockkit::net
