#include "sockkit/tools/relay.hpp"

#include <array>
#include <string>
#include <vector>

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/codec/text.hpp"
#include "sockkit/reactor/event_loop.hpp"
#include "sockkit/sys/fd.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::tools {
namespace {

using reactor::EventLoop;
using reactor::Ready;
using Why = RelayEnd::Why;

constexpr std::size_t kMaxPending = 256 * 1024;  // stop reading the input above this
constexpr std::size_t kMaxDatagram = 65507;      // the most one IPv4 UDP datagram carries

// Input lines as frames: gathers a line, frames it at its newline.
class LineFramer {
 public:
  explicit LineFramer(const codec::FrameFormat& format) : encoder_(format) {}

  /// Appends a frame to `out` for each line completed by `bytes`; false for a line longer
  /// than the format allows.
  bool feed(std::span<const std::byte> bytes, codec::ByteBuffer& out) {
    for (const auto b : bytes) {
      if (b == std::byte{'\n'}) {
        if (!finish(out)) return false;
      } else {
        line_.push_back(b);
        if (line_.size() > encoder_.format().max_frame) return false;
      }
    }
    return true;
  }
  /// At the end of the input: a last line without a newline is a frame too.
  bool end(codec::ByteBuffer& out) { return line_.empty() || finish(out); }

 private:
  bool finish(codec::ByteBuffer& out) {
    std::error_code ec;
    const auto header = encoder_.header(line_.size(), ec);
    if (ec) return false;
    out.append(header);
    out.append(line_);
    line_.clear();
    return true;
  }

  codec::FrameEncoder encoder_;
  std::vector<std::byte> line_;
};

// The input: watched on the loop while it is wanted, and not at all while it is not (a
// pipe whose writer has gone is always ready: watched for nothing, it would wake the loop
// for ever). A regular file, which epoll refuses since it is always ready, is read whenever
// it is wanted, a read a round.
class Input {
 public:
  Input(EventLoop& loop, int fd, std::function<void()> on_ready)
      : loop_(loop), fd_(fd), on_ready_(std::move(on_ready)) {}
  ~Input() { loop_.unwatch(watch_); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  void want(bool wanted) {
    if (wanted == wanted_ || closed_) return;
    wanted_ = wanted;
    if (!wanted) {
      loop_.unwatch(watch_);
      watch_ = 0;
    } else if (!always_ready_) {
      try {
        watch_ = loop_.watch(fd_, Ready::read, [this](Ready) { ready(); });
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::operation_not_permitted) throw;
        always_ready_ = true;
      }
    }
    if (wanted_ && always_ready_) schedule();
  }
  /// At its end: never read again.
  void close() {
    want(false);
    closed_ = true;
  }

 private:
  void ready() {
    if (wanted_ && !closed_) on_ready_();
  }
  void schedule() {
    loop_.post([this] {
      ready();
      if (wanted_ && !closed_) schedule();
    });
  }

  EventLoop& loop_;
  int fd_;
  std::function<void()> on_ready_;
  reactor::WatchId watch_ = 0;
  bool wanted_ = false;
  bool closed_ = false;
  bool always_ready_ = false;
};

// Ends the relay after `limit` with no traffic: one timer, moved on only when it fires.
class IdleTimer {
 public:
  IdleTimer(EventLoop& loop, std::chrono::milliseconds limit, std::function<void()> expired)
      : loop_(loop), limit_(limit), expired_(std::move(expired)), last_(loop.now()) {
    if (limit_.count() > 0) arm(limit_);
  }
  ~IdleTimer() { loop_.cancel(timer_); }
  IdleTimer(const IdleTimer&) = delete;
  IdleTimer& operator=(const IdleTimer&) = delete;
  void traffic() noexcept { last_ = loop_.now(); }
  [[nodiscard]] reactor::TimePoint last() const noexcept { return last_; }

 private:
  void arm(reactor::Duration after) {
    timer_ = loop_.after(after, [this] {
      const auto quiet = loop_.now() - last_;
      if (quiet >= limit_) return expired_();
      arm(limit_ - quiet);
    });
  }
  EventLoop& loop_;
  std::chrono::milliseconds limit_;
  std::function<void()> expired_;
  reactor::TimePoint last_;
  reactor::TimerId timer_ = 0;
};

RelayEnd because(Why why, std::error_code ec = {}) {
  RelayEnd end;
  end.why = why;
  end.error = ec;
  return end;
}

EventLoop::Options loop_options(const RelayOptions& options) {
  return {.time = options.time};
}

}  // namespace

RelayEnd relay_stream(int socket, const RelayOptions& options) {
  EventLoop loop(loop_options(options));
  std::optional<RelayEnd> end;
  const auto finish = [&](RelayEnd why) {
    if (!end) end = why;
    loop.stop();
  };
  const auto failed = [&](Why why, std::error_code ec) { finish(because(why, ec)); };
  {
    std::error_code ec;
    sys::set_nonblocking(socket, true, ec);
    if (ec) return because(Why::peer_failed, ec);
  }

  codec::ByteBuffer to_peer;
  LineFramer framer(options.format);
  codec::FrameDecoder decoder(options.format);
  std::string line;  // framed: one frame's line of output, reused
  std::array<std::byte, 64 * 1024> buffer{};
  bool input_open = true;
  bool write_shut = false;
  IdleTimer idle(loop, options.idle_timeout, [&] { finish(because(Why::idle)); });
  reactor::WatchId peer = 0;

  // What to wait for now: the input while there is room, the peer's room while bytes wait.
  std::function<void()> update;
  Input input(loop, options.input, [&] {
    std::error_code ec;
    const auto n = sys::read(options.input, buffer, ec);
    if (ec) return failed(Why::input_failed, ec);
    bool ok = true;
    if (n == 0) {
      input_open = false;
      input.close();
      if (options.framed) ok = framer.end(to_peer);
    } else if (options.framed) {
      ok = framer.feed(std::span(buffer).first(n), to_peer);
    } else {
      to_peer.append(std::span(buffer).first(n));
    }
    if (!ok) return finish(because(Why::line_too_long));
    idle.traffic();
    update();
  });

  const auto write_out = [&](std::span<const std::byte> bytes) {
    std::error_code ec;
    sys::write_all(options.output, bytes, ec);
    if (ec) failed(Why::output_failed, ec);
    return !ec;
  };
  const auto on_peer_bytes = [&](std::span<const std::byte> bytes) {
    if (!options.framed) return write_out(bytes);
    for (;;) {
      const auto result = decoder.decode(bytes);
      if (result.status == codec::DecodeResult::Status::need_more) return true;
      if (result.status == codec::DecodeResult::Status::error) {
        auto too_large = because(Why::frame_too_large);
        too_large.declared = result.declared_size;
        finish(too_large);
        return false;
      }
      line.clear();
      codec::append_python_bytes_escaped(line, result.frame, '\\');
      line += '\n';
      if (!write_out(std::as_bytes(std::span(line)))) return false;
    }
  };

  peer = loop.watch(socket, Ready::read, [&](Ready ready) {
    if (any(ready, Ready::write) && !to_peer.empty()) {
      std::error_code ec;
      const auto n = sys::send(socket, to_peer.readable(), 0, ec);
      if (ec && ec != std::errc::resource_unavailable_try_again) {
        return failed(Why::peer_failed, ec);
      }
      to_peer.consume(n);
      if (n > 0) idle.traffic();
    }
    if (any(ready, Ready::read | Ready::hangup | Ready::error)) {
      std::error_code ec;
      const auto n = sys::recv(socket, buffer, 0, ec);
      if (ec == std::errc::resource_unavailable_try_again) return update();
      if (ec) return failed(Why::peer_failed, ec);
      if (n == 0) {  // the peer closed: nobody is left to talk to
        if (const auto cut = decoder.truncation()) {
          auto cut_off = because(Why::cut_mid_frame);
          cut_off.cut = *cut;
          return finish(cut_off);
        }
        return finish(because(Why::done));
      }
      idle.traffic();
      if (!on_peer_bytes(std::span(buffer).first(n))) return;
    }
    update();
  });

  update = [&] {
    if (end) return;
    if (!input_open && to_peer.empty() && !write_shut) {
      std::error_code ec;
      sys::shutdown(socket, SHUT_WR, ec);  // the peer sees EOF; its replies still come
      if (ec) {
        // Not connected any more: the reason (a reset, most likely) is the socket's error.
        if (const auto why = sys::pending_error(socket)) ec = why;
        return failed(Why::peer_failed, ec);
      }
      write_shut = true;
    }
    input.want(input_open && to_peer.size() < kMaxPending);
    loop.change(peer, to_peer.empty() ? Ready::read : Ready::read | Ready::write);
  };

  update();
  loop.run();
  loop.unwatch(peer);
  return *end;
}

RelayEnd relay_datagrams(net::UdpSocket& socket, std::optional<net::Address> peer,
                         const RelayOptions& options) {
  EventLoop loop(loop_options(options));
  std::optional<RelayEnd> end;
  const auto finish = [&](RelayEnd why) {
    if (!end) end = why;
    loop.stop();
  };
  std::vector<std::byte> buffer(64 * 1024);
  bool input_open = true;
  std::optional<IdleTimer> idle;    // until the input ends
  std::optional<IdleTimer> linger;  // once it has
  idle.emplace(loop, options.idle_timeout, [&] { finish(because(Why::idle)); });

  // Until a listener has heard from someone, there is nobody to send the input to.
  Input input(loop, options.input, [&] {
    std::error_code ec;
    const auto n = sys::read(options.input, std::span(buffer).first(kMaxDatagram), ec);
    if (ec) return finish(because(Why::input_failed, ec));
    if (n == 0) {
      input_open = false;
      input.close();
      idle.reset();
      if (options.datagram_linger.count() == 0) return finish(because(Why::done));
      linger.emplace(loop, options.datagram_linger, [&] { finish(because(Why::done)); });
      return;
    }
    (void)socket.send_to(std::span(buffer).first(n), *peer, ec);
    if (ec) return finish(because(Why::peer_failed, ec));
    idle->traffic();
  });
  input.want(peer.has_value());

  const auto watch = loop.watch(socket.native_handle(), Ready::read, [&](Ready) {
    net::Address from;
    std::error_code ec;
    const auto n = socket.recv_from(buffer, from, ec);
    if (ec == std::errc::connection_refused) return finish(because(Why::unreachable, ec));
    if (ec) return finish(because(Why::peer_failed, ec));
    if (!peer) {
      peer = from;  // a listener's first sender is its peer
      if (input_open) input.want(true);
    }
    if (from != *peer) return;
    sys::write_all(options.output, std::span(buffer).first(n), ec);
    if (ec) return finish(because(Why::output_failed, ec));
    if (idle) idle->traffic();
    if (linger) linger->traffic();
  });

  loop.run();
  loop.unwatch(watch);
  return *end;
}

}  // namespace sockkit::tools
