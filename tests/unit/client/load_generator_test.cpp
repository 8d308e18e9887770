#include "sockkit/client/load_generator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "support/test_echo_server.hpp"

namespace sockkit::client {
namespace {

using namespace std::chrono_literals;
using test::Faults;
using test::TestEchoServer;

LoadConfig config_for(const TestEchoServer& server, LoadMode mode,
                      std::chrono::milliseconds duration = 300ms) {
  LoadConfig config;
  config.mode = mode;
  config.target = server.address();
  config.duration = duration;
  return config;
}

TEST(LoadGenerator, PingpongAgainstAGoodServerHasNoErrors) {
  TestEchoServer server;
  auto config = config_for(server, LoadMode::pingpong);
  config.connections = 8;
  config.threads = 2;
  config.min_size = 1;
  config.max_size = 4096;
  const auto report = LoadGenerator(config).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_GT(report.counters.messages, 0u);
  EXPECT_EQ(report.latency.count(), report.counters.messages);
  EXPECT_EQ(report.counters.connects, 8u);
  EXPECT_GT(report.counters.bytes_received, report.counters.messages);
  EXPECT_GT(report.messages_per_second(), 0.0);
}

TEST(LoadGenerator, EveryModeRunsCleanAgainstAGoodServer) {
  TestEchoServer server;
  for (const auto mode :
       {LoadMode::pingpong, LoadMode::rate, LoadMode::stream, LoadMode::connect}) {
    auto config = config_for(server, mode);
    config.connections = 4;
    config.rate = 2000;
    config.max_size = 1000;
    config.min_size = 10;
    const auto report = LoadGenerator(config).run();
    EXPECT_EQ(report.counters.errors(), 0u) << to_string(mode) << ": " << report.first_error;
    EXPECT_GT(report.counters.messages, 0u) << to_string(mode);
  }
}

// The open loop sends every message due at each wake, however late the wake: the count
// sent in the window is the rate times the window (a message is due every 25 us here, so
// a late wake sends several; one message a wake sent 5,764 of the 20,000).
TEST(LoadGenerator, RateModeSendsExactlyItsScheduleWhateverItsWakeups) {
  TestEchoServer server;
  auto config = config_for(server, LoadMode::rate, 500ms);
  config.connections = 4;
  config.rate = 40'000;
  config.min_size = config.max_size = 64;
  config.warmup = 0s;
  const auto report = LoadGenerator(config).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_EQ(report.counters.overflows, 0u);
  const auto sent = report.counters.bytes_sent / 64;
  EXPECT_GE(sent, 19'990u) << "due in the last quantum, at most, may go unsent";
  EXPECT_LE(sent, 20'001u);
}

TEST(LoadGenerator, DetectsOneCorruptByteInAMillion) {
  TestEchoServer server(Faults{.corrupt_every = 1'000'000});
  auto config = config_for(server, LoadMode::stream, 2s);
  config.min_size = config.max_size = 64 * 1024;
  config.window = 256 * 1024;
  const auto report = LoadGenerator(config).run();
  EXPECT_GE(report.counters.mismatches, 1u);
  EXPECT_NE(report.first_error.find("echo mismatch"), std::string::npos) << report.first_error;
}

TEST(LoadGenerator, ReportsAServerThatClosesEarly) {
  TestEchoServer server(Faults{.close_after = 10'000});
  auto config = config_for(server, LoadMode::pingpong);
  config.min_size = config.max_size = 3000;
  const auto report = LoadGenerator(config).run();
  // The server's close is an EOF, or a reset when the next message already reached it.
  EXPECT_GE(report.counters.early_closes + report.counters.resets, 1u);
  EXPECT_GT(report.counters.errors(), 0u);
  EXPECT_NE(report.first_error.find("connection 0"), std::string::npos) << report.first_error;
}

// Regression: the stream offsets of a connection were not reset when it failed, so bytes
// sent and never echoed pushed every message on the next connection past what it would ever
// echo, and nothing after the first reconnect was counted.
TEST(LoadGenerator, MessagesAfterAReconnectAreCounted) {
  TestEchoServer server(Faults{.close_after = 10'000});
  auto config = config_for(server, LoadMode::pingpong, 1s);
  config.warmup = 0s;
  config.min_size = config.max_size = 3000;
  const auto report = LoadGenerator(config).run();
  // Each connection echoes 3 whole messages before the server closes it, and the generator
  // reconnects 100 ms after each close: a second holds several connections.
  EXPECT_GE(report.counters.connects, 3u);
  EXPECT_GT(report.counters.messages, 6u) << "connects " << report.counters.connects;
}

TEST(LoadGenerator, OneBytePiecesCauseNoFalseErrors) {
  for (const auto framed : {false, true}) {
    TestEchoServer server(Faults{.one_byte_pieces = true},
                          framed ? proto::ProtocolKind::framed_echo : proto::ProtocolKind::echo);
    auto config = config_for(server, LoadMode::pingpong);
    config.connections = 2;
    config.min_size = 1;
    config.max_size = 300;
    config.framed = framed;
    const auto report = LoadGenerator(config).run();
    EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
    EXPECT_GT(report.counters.messages, 0u);
  }
}

TEST(LoadGenerator, FramedRunsAgainstAFramedEchoServer) {
  TestEchoServer server({}, proto::ProtocolKind::framed_echo);
  auto config = config_for(server, LoadMode::stream);
  config.framed = true;
  config.min_size = 0 + 1;
  config.max_size = 5000;
  config.connections = 3;
  const auto report = LoadGenerator(config).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_GT(report.counters.messages, 0u);
}

// The reason rate mode exists: a server that stalls once for 500 ms. The closed loop sends
// nothing while it waits, so only one message sees the stall and its p99.9 stays low; the
// open loop keeps to its schedule, so every message due during the stall is late by up to
// 500 ms, and p99.9 shows it.
TEST(LoadGenerator, OpenLoopSeesAStallThatClosedLoopHides) {
  const Faults stall{.stall_at = 500ms, .stall_for = 500ms};
  LatencyHistogram closed;
  LatencyHistogram open;
  {
    TestEchoServer server(stall);
    const auto report = LoadGenerator(config_for(server, LoadMode::pingpong, 2s)).run();
    EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
    closed = report.latency;
  }
  {
    TestEchoServer server(stall);
    auto config = config_for(server, LoadMode::rate, 2s);
    config.rate = 1000;
    const auto report = LoadGenerator(config).run();
    EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
    open = report.latency;
  }
  EXPECT_GE(closed.max(), 400ms) << "the one message caught in the stall";
  EXPECT_LT(closed.percentile(99.9), 100ms);
  EXPECT_GE(open.percentile(99.9), 300ms);
  EXPECT_GE(open.max(), 400ms);
}

TEST(LoadGenerator, ConnectModeCountsEachCycle) {
  TestEchoServer server;
  auto config = config_for(server, LoadMode::connect);
  config.connections = 4;
  const auto report = LoadGenerator(config).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_GT(report.counters.messages, 0u);
  // Each cycle is one connection; at the end up to one per slot may be mid-cycle.
  EXPECT_GE(report.counters.connects, report.counters.messages);
  EXPECT_LE(report.counters.connects, report.counters.messages + 4 + 4);
  EXPECT_GE(server.accepted(), report.counters.messages);
}

TEST(LoadGenerator, HoldKeepsThousandsOfConnections) {
  TestEchoServer server;
  auto config = config_for(server, LoadMode::hold, 1s);
  config.connections = 3000;
  config.threads = 2;
  const auto report = LoadGenerator(config).run();
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_EQ(report.counters.held, 3000u);
  EXPECT_EQ(report.counters.messages, 6000u);  // two probes each
}

TEST(LoadGenerator, StopEndsTheRunEarlyAndMeasuresOnlyWhatRan) {
  TestEchoServer server;
  LoadGenerator generator(config_for(server, LoadMode::pingpong, 30s));
  std::jthread stopper([&] {
    std::this_thread::sleep_for(300ms);
    generator.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto report = generator.run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_GT(report.measured, 200ms);
  EXPECT_LT(report.measured, 2s);
  EXPECT_EQ(report.counters.errors(), 0u) << report.first_error;
  EXPECT_GT(generator.progress(), 0u);
}

TEST(LoadGenerator, CountsConnectErrorsWhenNobodyListens) {
  net::Address nobody;
  {
    auto listener = net::StreamListener::bind(net::Address::ipv4_loopback());
    nobody = listener.local_address();
  }
  LoadConfig config;
  config.target = nobody;
  config.duration = 300ms;
  const auto report = LoadGenerator(config).run();
  EXPECT_GT(report.counters.connect_errors, 0u);
  EXPECT_EQ(report.counters.messages, 0u);
  EXPECT_EQ(report.first_error, "connect " + nobody.to_string() + ": Connection refused");
}

TEST(LoadGenerator, RejectsConfigurationsThatCannotRun) {
  TestEchoServer server;
  auto bad = [&](auto change) {
    auto config = config_for(server, LoadMode::pingpong);
    change(config);
    EXPECT_THROW(LoadGenerator{config}, std::invalid_argument);
  };
  bad([](LoadConfig& c) { c.connections = 0; });
  bad([](LoadConfig& c) { c.threads = 3; });
  bad([](LoadConfig& c) { c.min_size = 10, c.max_size = 5; });
  bad([](LoadConfig& c) { c.framed = true, c.max_size = 2 * 1024 * 1024; });
  bad([](LoadConfig& c) { c.connections = 1'000'000; });
  bad([](LoadConfig& c) { c.target = net::Address(); });
}

}  // namespace
}  // namespace sockkit::client
