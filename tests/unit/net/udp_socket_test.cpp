#include "sockkit/net/udp_socket.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "sockkit/net/error.hpp"
#include "support/bytes.hpp"

namespace sockkit::net {
namespace {

using namespace std::chrono_literals;

using test::bytes;

TEST(UdpSocket, SendToAndRecvFromOverIpv4AndIpv6) {
  for (const auto& loopback : {Address::ipv4_loopback(), Address::ipv6_loopback()}) {
    auto server = UdpSocket::bind(loopback);
    auto client = UdpSocket::bind(loopback);
    EXPECT_EQ(client.send_to(bytes("hello"), server.local_address()), 5u);
    std::array<std::byte, 64> buffer{};
    Address from;
    const auto n = server.recv_from(buffer, from);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), n), "hello");
    EXPECT_EQ(from, client.local_address());
  }
}

TEST(UdpSocket, ConnectedSocketsSendAndReceive) {
  auto server = UdpSocket::bind(Address::ipv4_loopback());
  auto client = UdpSocket::connect(server.local_address());
  client.send(bytes("ping"));
  std::array<std::byte, 16> buffer{};
  Address from;
  EXPECT_EQ(server.recv_from(buffer, from), 4u);
  server.send_to(bytes("pong!"), from);
  EXPECT_EQ(client.recv(buffer), 5u);
}

TEST(UdpSocket, EmptyDatagramsAreDatagrams) {
  auto server = UdpSocket::bind(Address::ipv4_loopback());
  auto client = UdpSocket::connect(server.local_address());
  EXPECT_EQ(client.send({}), 0u);
  std::array<std::byte, 4> buffer{};
  Address from;
  EXPECT_EQ(server.recv_from(buffer, from), 0u);
}

TEST(UdpSocket, ATruncatedDatagramIsAnError) {
  auto server = UdpSocket::bind(Address::ipv4_loopback());
  auto client = UdpSocket::connect(server.local_address());
  client.send(bytes("0123456789"));
  std::array<std::byte, 4> small{};
  Address from;
  std::error_code ec;
  EXPECT_EQ(server.recv_from(small, from, ec), 4u);
  EXPECT_EQ(ec, Errc::datagram_truncated);
  EXPECT_EQ(ec, std::errc::message_size);
  client.send(bytes("0123456789"));
  EXPECT_THROW(server.recv_from(small, from), std::system_error);
}

TEST(UdpSocket, ReadTimeoutFires) {
  auto server = UdpSocket::bind(Address::ipv4_loopback());
  server.set_read_timeout(100ms);
  std::array<std::byte, 4> buffer{};
  Address from;
  std::error_code ec;
  (void)server.recv_from(buffer, from, ec);
  EXPECT_EQ(ec, std::errc::timed_out);
}

}  // namespace
}  // namespace sockkit::net
