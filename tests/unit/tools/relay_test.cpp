#include "sockkit/tools/relay.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::tools {
namespace {

using namespace std::chrono_literals;
using Why = RelayEnd::Why;

std::pair<sys::Fd, sys::Fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  return {sys::Fd(fds[0]), sys::Fd(fds[1])};
}

std::pair<sys::Fd, sys::Fd> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category());
  }
  return {sys::Fd(fds[0]), sys::Fd(fds[1])};
}

void write_text(const sys::Fd& fd, std::string_view text) {
  std::error_code ec;
  sys::write_all(fd.get(), std::as_bytes(std::span(text)), ec);
  ASSERT_FALSE(ec) << ec.message();
}

std::string read_all(const sys::Fd& fd) {
  std::string all;
  std::array<std::byte, 4096> buffer{};
  std::error_code ec;
  while (const auto n = sys::read(fd.get(), buffer, ec)) {
    all.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  return all;
}

// The relay under test on a thread of its own, with its input and output as pipes, and the
// far end of its connection (the peer) in the test's hands.
class StreamRelay {
 public:
  explicit StreamRelay(RelayOptions options = {}) {
    auto [in_read, in_write] = make_pipe();
    auto [out_read, out_write] = make_pipe();
    auto [ours, theirs] = socket_pair();
    input = std::move(in_write);
    output = std::move(out_read);
    peer = std::move(theirs);
    options.input = in_read.get();
    options.output = out_write.get();
    end_ = std::async(std::launch::async,
                      [options, in = std::move(in_read), out = std::move(out_write),
                       s = std::move(ours)] { return relay_stream(s.get(), options); });
  }
  RelayEnd end() {
    if (end_.wait_for(20s) != std::future_status::ready) throw std::runtime_error("hung");
    return end_.get();
  }
  std::future<RelayEnd>& pending() { return end_; }
  sys::Fd input;   // what we write here goes to the peer
  sys::Fd output;  // what the peer sends comes out here
  sys::Fd peer;

 private:
  std::future<RelayEnd> end_;
};

TEST(StreamRelay, MovesBytesBothWaysAndHalfClosesAtTheEndOfItsInput) {
  StreamRelay relay;
  const std::string all_bytes = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  }();
  write_text(relay.input, all_bytes);
  relay.input.reset();  // the end of the input: the peer sees EOF
  EXPECT_EQ(read_all(relay.peer), all_bytes);
  write_text(relay.peer, "the reply, after the EOF");
  ::shutdown(relay.peer.get(), SHUT_WR);
  EXPECT_EQ(relay.end().why, Why::done);
  EXPECT_EQ(read_all(relay.output), "the reply, after the EOF");
}

// On a ManualClock the idle timeout is reached by moving the clock: nothing waits for it.
TEST(StreamRelay, EndsWhenNothingMovesForTheIdleTimeout) {
  reactor::ManualClock clock;
  const auto start = clock.now();
  StreamRelay relay({.idle_timeout = 5s, .time = &clock});
  write_text(relay.input, "x");  // traffic; then silence
  char byte = 0;
  ASSERT_EQ(::recv(relay.peer.get(), &byte, 1, 0), 1);
  for (int i = 0; i < 200 && relay.pending().wait_for(10ms) != std::future_status::ready; ++i) {
    clock.advance(1s);  // (the relay may still be starting: time goes on until it ends)
  }
  EXPECT_EQ(relay.end().why, Why::idle);
  EXPECT_GE(clock.now() - start, 5s) << "not before the timeout";
}

std::string frame(std::string_view payload) {
  std::error_code ec;
  codec::FrameEncoder encoder;  // (the header it gives lives in it)
  const auto header = encoder.header(payload.size(), ec);
  return std::string(reinterpret_cast<const char*>(header.data()), header.size()) +
         std::string(payload);
}

TEST(StreamRelay, FramedLinesGoOutAsFramesAndFramesComeOutAsEscapedLines) {
  StreamRelay relay({.framed = true});
  write_text(relay.input, "one\ntwo");
  relay.input.reset();
  EXPECT_EQ(read_all(relay.peer), frame("one") + frame("two")) << "the last line, too";
  write_text(relay.peer, frame("a\nb\x1b[31m"));
  ::shutdown(relay.peer.get(), SHUT_WR);
  EXPECT_EQ(relay.end().why, Why::done);
  EXPECT_EQ(read_all(relay.output), "a\\nb\\x1b[31m\n") << "one line, nothing raw";
}

TEST(StreamRelay, FramedSaysWhyItStopped) {
  {
    StreamRelay relay({.framed = true, .format = {.max_frame = 10}});
    write_text(relay.input, std::string(11, 'l'));
    const auto end = relay.end();
    EXPECT_EQ(end.why, Why::line_too_long);
  }
  {
    StreamRelay relay({.framed = true, .format = {.max_frame = 10}});
    write_text(relay.peer, frame("eleven byte"));
    const auto end = relay.end();
    EXPECT_EQ(end.why, Why::frame_too_large);
    EXPECT_EQ(end.declared, 11u);
  }
  {
    StreamRelay relay({.framed = true});
    write_text(relay.peer, frame("whole").substr(0, 6));  // the header and 2 of 5 bytes
    relay.peer.reset();
    const auto end = relay.end();
    EXPECT_EQ(end.why, Why::cut_mid_frame);
    EXPECT_FALSE(end.cut.in_header);
    EXPECT_EQ(end.cut.have, 2u);
    EXPECT_EQ(end.cut.need, 5u);
  }
}

TEST(StreamRelay, ARegularFileForInputIsReadToItsEnd) {
  // epoll refuses regular files (always ready): read whenever there is room, all of it.
  char path[] = "/tmp/sockkit-relay-XXXXXX";
  sys::Fd file(::mkstemp(path));
  ASSERT_TRUE(file);
  ::unlink(path);
  const std::string content(600 * 1024, 'f');  // more than the relay holds at once
  write_text(file, content);
  ASSERT_EQ(::lseek(file.get(), 0, SEEK_SET), 0);

  auto [out_read, out_write] = make_pipe();
  auto [ours, theirs] = socket_pair();
  auto end = std::async(std::launch::async, [&, out = std::move(out_write), s = std::move(ours)] {
    return relay_stream(s.get(), {.input = file.get(), .output = out.get()});
  });
  EXPECT_EQ(read_all(theirs), content);
  theirs.reset();
  EXPECT_EQ(end.get().why, Why::done);
}

TEST(DatagramRelay, SendsEachReadAsADatagramWritesRepliesAndEndsAfterTheLinger) {
  reactor::ManualClock clock;
  auto peer = net::UdpSocket::bind(net::Address::ipv4_loopback(0));
  auto ours = net::UdpSocket::connect(peer.local_address());
  auto [in_read, in_write] = make_pipe();
  auto [out_read, out_write] = make_pipe();
  auto end =
      std::async(std::launch::async, [&, in = std::move(in_read), out = std::move(out_write)] {
        return relay_datagrams(
            ours, peer.local_address(),
            {.datagram_linger = 1s, .input = in.get(), .output = out.get(), .time = &clock});
      });
  write_text(in_write, "a datagram");
  std::array<std::byte, 100> buffer{};
  net::Address from;
  const auto n = peer.recv_from(buffer, from);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), n), "a datagram");
  peer.send_to(std::as_bytes(std::span(std::string_view("a reply"))), from);
  in_write.reset();  // the input ends: replies are still written out for the linger
  for (int i = 0; i < 200 && end.wait_for(10ms) != std::future_status::ready; ++i) {
    clock.advance(500ms);
  }
  EXPECT_EQ(end.get().why, Why::done);
  EXPECT_EQ(read_all(out_read), "a reply");
}

}  // namespace
}  // namespace sockkit::tools
