#include "sockkit/net/tcp_listener.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sockkit/sys/socket_options.hpp"
#include "support/loopback.hpp"

namespace sockkit::net {
namespace {

using namespace std::chrono_literals;

TEST(TcpListener, PortZeroReportsThePortTheKernelChose) {
  auto listener = TcpListener::bind(Endpoint::parse("127.0.0.1:0"));
  EXPECT_NE(listener.local_address().port(), 0);
  EXPECT_EQ(listener.local_address().host(), "127.0.0.1");
}

TEST(TcpListener, AcceptGivesThePeerAddress) {
  auto listener = TcpListener::bind(Address::ipv4_loopback());
  auto client = TcpStream::connect(listener.local_address());
  Address peer;
  auto server = listener.accept(&peer);
  EXPECT_EQ(peer, client.local_address());
  EXPECT_EQ(server.peer_address(), peer);
}

TEST(TcpListener, SecondServerOnAPortInUseFailsClearly) {
  auto first = TcpListener::bind(Address::ipv4_loopback());
  const auto taken = first.local_address();
  try {
    (void)TcpListener::bind(taken);
    FAIL() << "binding a port in use must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_EQ(std::string(e.what()), "bind " + taken.to_string() + ": Address already in use");
  }
}

TEST(TcpListener, ReusePortIsOptIn) {
  const ListenOptions shared{.reuse_port = true};
  auto first = TcpListener::bind(Address::ipv4_loopback(), shared);
  auto second = TcpListener::bind(first.local_address(), shared);
  EXPECT_EQ(second.local_address(), first.local_address());
  EXPECT_FALSE(
      sys::get_option<sys::ReusePort>(TcpListener::bind(Address::ipv4_loopback()).native_handle())
          .value);
}

// The server closing first leaves its side in TIME_WAIT; SO_REUSEADDR lets a restarted
// server bind the same port at once.
TEST(TcpListener, RestartBindsAPortWithConnectionsInTimeWait) {
  Address address;
  {
    auto listener = TcpListener::bind(Address::ipv4_loopback());
    address = listener.local_address();
    auto client = TcpStream::connect(address);
    auto server = listener.accept();
    server.send_all("x");
    server.close();  // the server closes first: its end goes to TIME_WAIT
    std::array<std::byte, 1> buffer{};
    (void)client.recv_some(buffer);
  }
  auto restarted = TcpListener::bind(address);
  EXPECT_EQ(restarted.local_address(), address);
}

TEST(TcpListener, DualStackIsAnOption) {
  // [::] with dual_stack accepts an IPv4 client (seen as ::ffff:127.0.0.1); the traffic
  // stays on loopback.
  auto dual = TcpListener::bind(Address::ipv6_any(), ListenOptions{.dual_stack = true});
  const auto port = dual.local_address().port();
  auto client = TcpStream::connect(Address::ipv4_loopback(port));
  Address peer;
  auto server = dual.accept(&peer);
  EXPECT_EQ(peer.host(), "::ffff:127.0.0.1");

  auto v6_only = TcpListener::bind(Address::ipv6_any());
  std::error_code ec;
  (void)TcpStream::connect(Address::ipv4_loopback(v6_only.local_address().port()), Timeout::zero(),
                           ec);
  EXPECT_EQ(ec, std::errc::connection_refused);
}

TEST(TcpListener, BacklogIsPassedToTheKernel) {
  auto listener = TcpListener::bind(Address::ipv4_loopback(), ListenOptions{.backlog = 3});
  std::vector<TcpStream> clients;
  std::error_code ec;
  // backlog 3 queues 4 connections (Linux allows backlog + 1); the 5th is not accepted
  // by the kernel, so its connect times out.
  for (int i = 0; i < 6 && !ec; ++i) {
    clients.push_back(TcpStream::connect(listener.local_address(), 200ms, ec));
  }
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_EQ(clients.size(), 5u);  // 4 connected + the one that timed out
}

TEST(TcpListener, ErrorOverloadDoesNotThrow) {
  auto first = TcpListener::bind(Address::ipv4_loopback());
  std::error_code ec;
  auto second = TcpListener::bind(first.local_address(), {}, ec);
  EXPECT_EQ(ec, std::errc::address_in_use);
  EXPECT_FALSE(second.is_open());
}

}  // namespace
}  // namespace sockkit::net
