#include "sockkit/net/framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/unix_stream.hpp"
#include "sockkit/sys/socket.hpp"
#include "support/bytes.hpp"
#include "support/loopback.hpp"

namespace sockkit::net {
namespace {

using test::as_string;
using test::bytes;

TEST(Framing, FramesRoundTripOverTcp) {
  auto [client, server] = test::make_tcp_pair();
  const auto big = test::random_bytes(1024 * 1024, 5);
  std::thread sender([&, &client = client] {
    send_frame(client, bytes("first"));
    send_frame(client, {});
    send_frame(client, big);
    client.close();
  });
  std::vector<std::byte> frame;
  ASSERT_TRUE(recv_frame(server, frame));
  EXPECT_EQ(as_string(frame), "first");
  ASSERT_TRUE(recv_frame(server, frame));
  EXPECT_TRUE(frame.empty());
  ASSERT_TRUE(recv_frame(server, frame));
  EXPECT_TRUE(frame == big);
  EXPECT_FALSE(recv_frame(server, frame)) << "a close between frames is the normal end";
  sender.join();
}

// On a SOCK_SEQPACKET pair every sendmsg is one message, so receiving header and payload
// in a single recv proves they left in one gathered write, not two.
TEST(Framing, HeaderAndPayloadLeaveInOneWrite) {
  sys::Fd a;
  sys::Fd b;
  std::error_code ec;
  sys::open_socket_pair(AF_UNIX, SOCK_SEQPACKET, a, b, ec);
  ASSERT_FALSE(ec) << ec.message();
  StreamSocket sender(std::move(a));
  send_frame(sender, bytes("payload"));
  std::array<std::byte, 64> buffer{};
  const auto n = sys::recv(b.get(), buffer, 0, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(n, 4u + 7u);
  EXPECT_EQ(as_string(std::span(buffer).subspan(4, 7)), "payload");
}

TEST(Framing, WorksWithEachHeaderWidth) {
  for (const std::size_t width : {2u, 4u, 8u}) {
    const codec::FrameFormat format{.header_bytes = width};
    auto [a, b] = UnixStream::pair();
    send_frame(a, bytes("w"), format);
    std::vector<std::byte> frame;
    ASSERT_TRUE(recv_frame(b, frame, format));
    EXPECT_EQ(as_string(frame), "w");
  }
}

TEST(Framing, AHostileLengthIsRefusedBeforeAnyPayloadIsRead) {
  auto [a, b] = UnixStream::pair();
  a.send_all(std::string_view("\xff\xff\xff\xffsixteen more bytes", 22));
  std::vector<std::byte> frame;
  try {
    (void)recv_frame(b, frame);
    FAIL() << "must refuse";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), codec::FrameErrc::too_large);
    EXPECT_NE(std::string(e.what()).find("declared 4294967295 bytes; the maximum is 1048576"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(frame.empty());
  std::array<std::byte, 32> rest{};
  EXPECT_EQ(b.recv_some(rest), 18u) << "the payload must still be unread";
}

TEST(Framing, EndOfStreamInsideAFrameSaysWhatWasMissing) {
  {
    auto [a, b] = UnixStream::pair();
    a.send_all(std::string_view("\x00\x00", 2));
    a.close();
    std::vector<std::byte> frame;
    try {
      (void)recv_frame(b, frame);
      FAIL() << "must report truncation";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), codec::FrameErrc::truncated);
      EXPECT_NE(std::string(e.what()).find("2 of 4 header bytes arrived"), std::string::npos);
    }
  }
  {
    auto [a, b] = UnixStream::pair();
    a.send_all(
        std::string_view("\x00\x00\x00\x0a"
                         "abc",
                         7));
    a.close();
    std::vector<std::byte> frame;
    std::error_code ec;
    EXPECT_FALSE(recv_frame(b, frame, {}, ec));
    EXPECT_EQ(ec, codec::FrameErrc::truncated);
  }
}

TEST(Framing, SendRefusesAnOversizedPayload) {
  auto [a, b] = UnixStream::pair();
  const std::vector<std::byte> big(101);
  std::error_code ec;
  send_frame(a, big, codec::FrameFormat{.max_frame = 100}, ec);
  EXPECT_EQ(ec, codec::FrameErrc::too_large);
  EXPECT_THROW(send_frame(a, big, codec::FrameFormat{.max_frame = 100}), std::system_error);
}

TEST(StreamSocket, GatheredSendAllSurvivesShortWrites) {
  auto [client, server] = test::make_tcp_pair();
  const auto one = test::random_bytes(3 * 1024 * 1024, 1);
  const auto two = test::random_bytes(5, 2);
  const auto three = test::random_bytes(2 * 1024 * 1024 + 7, 3);
  std::thread sender([&, &client = client] {
    const std::array<std::span<const std::byte>, 4> parts{one, std::span<const std::byte>{}, two,
                                                          three};
    client.send_all(parts);
    client.close();
  });
  std::vector<std::byte> all(one.size() + two.size() + three.size());
  server.recv_exact(all);
  sender.join();
  std::vector<std::byte> expected(one);
  expected.insert(expected.end(), two.begin(), two.end());
  expected.insert(expected.end(), three.begin(), three.end());
  EXPECT_TRUE(all == expected);
}

}  // namespace
}  // namespace sockkit::net
