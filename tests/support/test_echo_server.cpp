#include "support/test_echo_server.hpp"

#include <array>
#include <memory>
#include <unordered_map>
#include <vector>

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/sys/epoll.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::test {
namespace {

struct Connection {
  sys::Fd fd;
  std::unique_ptr<proto::Protocol> protocol;
  codec::ByteBuffer out;
  std::uint64_t received = 0;
  bool closing = false;  // flush what is queued, then close
};

}  // namespace

TestEchoServer::TestEchoServer(Faults faults, proto::ProtocolKind protocol)
    : faults_(faults),
      protocol_(protocol),
      listener_(net::StreamListener::bind(net::Address::ipv4_loopback())),
      thread_([this] { loop(); }) {}

TestEchoServer::~TestEchoServer() {
  stopping_ = true;
  thread_.join();
}

void TestEchoServer::loop() {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  bool stalled = false;
  auto epoll = sys::Epoll::create();
  std::error_code ec;
  sys::set_nonblocking(listener_.native_handle(), true, ec);
  epoll.add(listener_.native_handle(), EPOLLIN, 0, ec);
  std::unordered_map<std::uint64_t, Connection> connections;
  std::uint64_t next_token = 1;
  std::vector<std::byte> buffer(64 * 1024);
  std::array<epoll_event, 64> events{};

  const auto update_interest = [&](std::uint64_t token, Connection& c) {
    epoll.modify(c.fd.get(), EPOLLIN | (c.out.empty() ? 0u : EPOLLOUT), token, ec);
  };
  const auto flush = [&](Connection& c) {
    while (!c.out.empty()) {
      auto pending = c.out.readable();
      if (faults_.one_byte_pieces) pending = pending.first(1);
      const auto n = sys::send(c.fd.get(), pending, 0, ec);
      if (ec) return !(ec == std::errc::resource_unavailable_try_again);
      c.out.consume(n);
    }
    return c.closing;  // true: done with this connection
  };

  while (!stopping_) {
    if (!stalled && faults_.stall_for.count() > 0 && Clock::now() - started >= faults_.stall_at) {
      stalled = true;
      std::this_thread::sleep_for(faults_.stall_for);
    }
    const auto ready = epoll.wait(events, std::chrono::milliseconds(10), ec);
    for (std::size_t i = 0; i < ready; ++i) {
      const auto token = events[i].data.u64;
      if (token == 0) {
        for (;;) {
          sys::Fd fd = sys::accept(listener_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK, ec);
          if (ec) break;
          ++accepted_;
          epoll.add(fd.get(), EPOLLIN, next_token, ec);
          connections[next_token++] = {
              std::move(fd), proto::make_protocol(protocol_), {}, 0, false};
        }
        continue;
      }
      auto found = connections.find(token);
      if (found == connections.end()) continue;
      auto& c = found->second;
      bool done = false;
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        const auto n = sys::recv(c.fd.get(), buffer, 0, ec);
        if (ec == std::errc::resource_unavailable_try_again) {
          // spurious wake-up
        } else if (ec || n == 0) {
          done = true;
        } else {
          auto input = std::span(buffer).first(n);
          if (faults_.corrupt_every > 0) {
            for (std::size_t j = 0; j < n; ++j) {
              if ((c.received + j) % faults_.corrupt_every == faults_.corrupt_every - 1) {
                input[j] ^= std::byte{0x20};
              }
            }
          }
          c.received += n;
          const auto verdict = c.protocol->on_data(input, c.out);
          c.closing =
              verdict.close || (faults_.close_after > 0 && c.received >= faults_.close_after);
        }
      }
      if (!done) done = flush(c);
      if (done) {
        connections.erase(found);
      } else {
        update_interest(token, c);
      }
    }
  }
}

}  // namespace sockkit::test
