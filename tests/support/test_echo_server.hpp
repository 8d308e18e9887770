#pragma once

// An echo server for tests, on 127.0.0.1 port 0, with faults to inject: it corrupts bytes,
// closes early, answers in 1-byte pieces, or stalls once. A small epoll loop on its own
// thread, so it holds thousands of connections. Runs from construction to destruction.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "sockkit/net/stream_listener.hpp"
#include "sockkit/proto/protocol.hpp"

namespace sockkit::test {

struct Faults {
  /// Flip one byte in every `corrupt_every` bytes echoed (0: never).
  std::uint64_t corrupt_every = 0;
  /// Close each connection once it has received this many bytes (0: never).
  std::uint64_t close_after = 0;
  /// Send replies one byte per send().
  bool one_byte_pieces = false;
  /// Stop serving everyone for `stall_for`, once, `stall_at` after the server starts.
  std::chrono::milliseconds stall_at{0};
  std::chrono::milliseconds stall_for{0};
};

class TestEchoServer {
 public:
  explicit TestEchoServer(Faults faults = {},
                          proto::ProtocolKind protocol = proto::ProtocolKind::echo);
  TestEchoServer(const TestEchoServer&) = delete;
  TestEchoServer& operator=(const TestEchoServer&) = delete;
  ~TestEchoServer();

  [[nodiscard]] const net::Address& address() const noexcept { return listener_.local_address(); }
  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_.load(); }

 private:
  void loop();

  Faults faults_;
  proto::ProtocolKind protocol_;
  net::StreamListener listener_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace sockkit::test
