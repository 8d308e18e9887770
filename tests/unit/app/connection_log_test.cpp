#include "connection_log.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/bytes.hpp"

namespace sockkit::app {
namespace {

using server::ConnectionEvent;

using test::bytes;

TEST(ConnectionLog, NamesThePeerLikeTheTutorial) {
  const auto peer = net::Address::parse("127.0.0.1:54321");
  EXPECT_EQ(describe({.kind = ConnectionEvent::Kind::opened, .peer = peer}),
            "Connected by 127.0.0.1:54321");
  EXPECT_EQ(
      describe(
          {.kind = ConnectionEvent::Kind::first_data, .peer = peer, .data = bytes("Hello, world")}),
      "127.0.0.1:54321 sent b'Hello, world'");
  EXPECT_EQ(describe({.kind = ConnectionEvent::Kind::closed,
                      .peer = peer,
                      .reason = proto::CloseReason::idle,
                      .bytes_in = 12,
                      .bytes_out = 2048}),
            "Closed 127.0.0.1:54321: idle (in 12 B, out 2 KiB)");
  EXPECT_EQ(describe({.kind = ConnectionEvent::Kind::opened, .peer = net::Address()}),
            "Connected by a client");
}

TEST(ConnectionLog, PeerDataIsEscapedNeverRaw) {
  // Terminal escapes, NUL, a newline that could forge a log line, bytes that are not UTF-8.
  constexpr char kHostile[] = "\x1b[2J\0\nClosed 1.2.3.4:5: idle\r\xff\\";
  const std::string hostile(kHostile, sizeof kHostile - 1);
  const auto line = quoted_prefix(bytes(hostile));
  EXPECT_EQ(line, R"(b'\x1b[2J\x00\nClosed 1.2.3.4:5: idle\r\xff\\')");
  for (const char c : line) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << static_cast<int>(c) << " in " << line;
  }
}

TEST(ConnectionLog, PeerDataIsCutAt64Bytes) {
  const std::string long_text(100, 'a');
  EXPECT_EQ(quoted_prefix(bytes(long_text)), "b'" + std::string(64, 'a') + "'... (36 more bytes)");
  EXPECT_EQ(quoted_prefix(bytes(std::string(64, 'b'))), "b'" + std::string(64, 'b') + "'");
}

}  // namespace
}  // namespace sockkit::app
