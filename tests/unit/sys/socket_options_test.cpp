#include "sockkit/sys/socket_options.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "sockkit/sys/socket.hpp"

namespace sockkit::sys {
namespace {

using namespace std::chrono_literals;

Fd tcp_socket(int domain = AF_INET) {
  std::error_code ec;
  Fd fd = open_socket(domain, SOCK_STREAM, 0, ec);
  EXPECT_FALSE(ec) << ec.message();
  return fd;
}

template <class Option>
void expect_bool_round_trip(int fd) {
  set_option(fd, Option{true});
  EXPECT_TRUE(get_option<Option>(fd).value) << Option::label;
  set_option(fd, Option{false});
  EXPECT_FALSE(get_option<Option>(fd).value) << Option::label;
}

TEST(SocketOptions, BooleanOptionsRoundTrip) {
  const Fd fd = tcp_socket();
  expect_bool_round_trip<ReuseAddress>(fd.get());
  expect_bool_round_trip<ReusePort>(fd.get());
  expect_bool_round_trip<KeepAlive>(fd.get());
  expect_bool_round_trip<NoDelay>(fd.get());
  const Fd v6 = tcp_socket(AF_INET6);
  expect_bool_round_trip<V6Only>(v6.get());
}

TEST(SocketOptions, KeepAliveTimingUsesSecondsAndACount) {
  const Fd fd = tcp_socket();
  set_option(fd.get(), KeepAliveIdle{7s});
  set_option(fd.get(), KeepAliveInterval{3s});
  set_option(fd.get(), KeepAliveCount{4});
  EXPECT_EQ(get_option<KeepAliveIdle>(fd.get()).value, 7s);
  EXPECT_EQ(get_option<KeepAliveInterval>(fd.get()).value, 3s);
  EXPECT_EQ(get_option<KeepAliveCount>(fd.get()).value, 4);
}

TEST(SocketOptions, UserTimeoutUsesMilliseconds) {
  const Fd fd = tcp_socket();
  set_option(fd.get(), UserTimeout{4500ms});
  EXPECT_EQ(get_option<UserTimeout>(fd.get()).value, 4500ms);
}

TEST(SocketOptions, LingerRoundTrips) {
  const Fd fd = tcp_socket();
  set_option(fd.get(), Linger{true, 0s});
  const auto linger = get_option<Linger>(fd.get());
  EXPECT_TRUE(linger.enabled);
  EXPECT_EQ(linger.timeout, 0s);
  set_option(fd.get(), Linger{false, 5s});
  EXPECT_FALSE(get_option<Linger>(fd.get()).enabled);
}

TEST(SocketOptions, BufferSizesAreDoubledByTheKernel) {
  const Fd fd = tcp_socket();
  set_option(fd.get(), SendBufferSize{64 * 1024});
  set_option(fd.get(), ReceiveBufferSize{32 * 1024});
  EXPECT_EQ(get_option<SendBufferSize>(fd.get()).value, 2 * 64 * 1024);
  EXPECT_EQ(get_option<ReceiveBufferSize>(fd.get()).value, 2 * 32 * 1024);
}

TEST(SocketOptions, TimeoutsRoundTrip) {
  // The kernel keeps these in clock ticks (1, 4 or 10 ms), so the values are multiples of 20 ms.
  const Fd fd = tcp_socket();
  set_option(fd.get(), ReceiveTimeout{1500ms});
  set_option(fd.get(), SendTimeout{260ms});
  EXPECT_EQ(get_option<ReceiveTimeout>(fd.get()).value, 1500ms);
  EXPECT_EQ(get_option<SendTimeout>(fd.get()).value, 260ms);
}

TEST(SocketOptions, ErrorNamesTheOption) {
  try {
    set_option(-1, NoDelay{true});
    FAIL() << "setting an option on fd -1 must throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
    EXPECT_NE(std::string(e.what()).find("setsockopt TCP_NODELAY"), std::string::npos) << e.what();
  }
  std::error_code ec;
  (void)get_option<Linger>(-1, ec);
  EXPECT_EQ(ec, std::errc::bad_file_descriptor);
}

}  // namespace
}  // namespace sockkit::sys
