// The iterative engine serves one client at a time: what keeps one client from holding it.
#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "sockkit/net/stream_socket.hpp"
#include "sockkit/server/engine.hpp"

namespace sockkit::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An iterative server with a short turn limit, on a thread of its own for the test.
struct TurnTakingServer {
  explicit TurnTakingServer(std::chrono::milliseconds turn_limit) {
    ServerConfig config;
    config.listen = net::Address::ipv4_loopback();
    config.turn_limit = turn_limit;
    engine = make_engine(EngineKind::iterative, config);
    thread = std::jthread([this] { engine->run(); });
  }
  ~TurnTakingServer() {
    engine->stop();
    thread.join();
  }
  [[nodiscard]] net::StreamSocket connect() const {
    return net::StreamSocket::connect(engine->local_address(), 2s);
  }
  std::unique_ptr<Engine> engine;
  std::jthread thread;
};

// Sends one byte and reads its echo: the slow sender the idle timeout never catches.
bool dribble(net::StreamSocket& client) {
  std::error_code ec;
  client.send_all(std::as_bytes(std::span("x", 1)), ec);
  std::array<std::byte, 1> echo{};
  return !ec && client.recv_some(echo, ec) == 1 && !ec;
}

TEST(IterativeEngine, AClientThatDribblesIsClosedOnceItsTurnIsOverAndAnotherWaits) {
  TurnTakingServer server(500ms);
  auto holder = server.connect();
  holder.set_read_timeout(5s);
  ASSERT_TRUE(dribble(holder));
  auto waiting = server.connect();  // queued in the backlog behind the holder
  waiting.set_read_timeout(5s);
  const auto queued = Clock::now();
  std::size_t dribbles = 0;
  while (dribble(holder) && Clock::now() - queued < 5s) {
    ++dribbles;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(Clock::now() - queued, 3s) << "the holder must lose its turn";
  EXPECT_GE(dribbles, 1u) << "it was served until its turn was over";
  waiting.send_all("next");
  std::array<std::byte, 4> echo{};
  waiting.recv_exact(echo);
  EXPECT_EQ(server.engine->stats().closed_by(proto::CloseReason::turn_over), 1u);
}

TEST(IterativeEngine, AClientAloneKeepsItsTurnPastTheLimit) {
  TurnTakingServer server(200ms);
  auto alone = server.connect();
  alone.set_read_timeout(5s);
  const auto started = Clock::now();
  while (Clock::now() - started < 1s) {
    ASSERT_TRUE(dribble(alone)) << "a client nobody waits behind is never cut";
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(server.engine->stats().closed_by(proto::CloseReason::turn_over), 0u);
}

}  // namespace
}  // namespace sockkit::server
