#include "relay.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <vector>

#include "exit_status.hpp"
#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/codec/text.hpp"
#include "sockkit/sys/socket.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxPending = 256 * 1024;  // stop reading the input above this
constexpr std::size_t kMaxDatagram = 65507;      // the most one IPv4 UDP datagram carries

int report(ExitStatus status, const std::string& message) {
  fmt::print(stderr, "sockkit connect: {}\n", message);
  return status;
}

int report(const std::error_code& ec, const std::string& context) {
  return report(exit_status_for(ec), fmt::format("{}: {}", context, ec.message()));
}

// read(2) on the input; EINTR retried. 0 at end of input.
std::size_t read_input(int fd, std::span<std::byte> buffer, std::error_code& ec) {
  for (;;) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) {
      ec.assign(errno, std::system_category());
      return 0;
    }
  }
}

// The whole of `bytes` to the output, whatever it takes.
void write_output(int fd, std::span<const std::byte> bytes, std::error_code& ec) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ec.assign(errno, std::system_category());
      return;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

// Milliseconds poll() may sleep before the idle deadline; -1 for none.
int poll_wait(const RelayOptions& options, Clock::time_point last_traffic, Clock::time_point now) {
  if (options.idle_timeout.count() == 0) return -1;
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(last_traffic + options.idle_timeout - now);
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 60'000));
}

// Input lines as frames: gathers a line, frames it at its newline.
class LineFramer {
 public:
  explicit LineFramer(const codec::FrameFormat& format) : encoder_(format) {}

  /// Appends a frame to `out` for each line completed by `bytes`.
  void feed(std::span<const std::byte> bytes, codec::ByteBuffer& out, std::error_code& ec) {
    for (const auto b : bytes) {
      if (b == std::byte{'\n'}) {
        finish(out, ec);
        if (ec) return;
      } else {
        line_.push_back(b);
        if (line_.size() > encoder_.format().max_frame) {
          ec = make_error_code(codec::FrameErrc::too_large);
          return;
        }
      }
    }
  }
  /// At end of input: a last line without a newline is a frame too.
  void end(codec::ByteBuffer& out, std::error_code& ec) {
    if (!line_.empty()) finish(out, ec);
  }

 private:
  void finish(codec::ByteBuffer& out, std::error_code& ec) {
    out.append(encoder_.header(line_.size(), ec));
    if (ec) return;
    out.append(line_);
    line_.clear();
  }

  codec::FrameEncoder encoder_;
  std::vector<std::byte> line_;
};

}  // namespace

int relay_stream(int socket, const net::Address& peer, const RelayOptions& options) {
  const auto peer_name = peer.to_string();
  std::error_code ec;
  sys::set_nonblocking(socket, true, ec);
  if (ec) return report(ec, "fcntl on the connection to " + peer_name);

  codec::ByteBuffer to_peer;
  LineFramer framer(options.format);
  codec::FrameDecoder decoder(options.format);
  std::string line;  // --framed: one frame's line of output, reused
  std::array<std::byte, 64 * 1024> buffer{};
  bool input_open = true;
  bool write_shut = false;
  auto last_traffic = Clock::now();

  for (;;) {
    if (!input_open && to_peer.empty() && !write_shut) {
      sys::shutdown(socket, SHUT_WR, ec);  // the peer sees EOF; its replies still come
      if (ec) {
        // Not connected any more: the reason (a reset, most likely) is the socket's error.
        if (const auto why = sys::pending_error(socket)) ec = why;
        return report(ec, "connection to " + peer_name);
      }
      write_shut = true;
    }
    std::array<pollfd, 2> watched{
        pollfd{input_open && to_peer.size() < kMaxPending ? options.input : -1, POLLIN, 0},
        pollfd{socket, static_cast<short>(POLLIN | (to_peer.empty() ? 0 : POLLOUT)), 0}};
    const int ready =
        ::poll(watched.data(), watched.size(), poll_wait(options, last_traffic, Clock::now()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return report({errno, std::system_category()}, "poll");
    const auto now = Clock::now();
    if (ready == 0) {
      return report(kExitTimedOut, fmt::format("no traffic with {} for {}; closing", peer_name,
                                               format_duration(options.idle_timeout)));
    }

    if (watched[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const auto n = read_input(options.input, buffer, ec);
      if (ec) return report(kExitFailed, "reading the input: " + ec.message());
      if (n == 0) {
        input_open = false;
        if (options.framed) framer.end(to_peer, ec);
      } else if (options.framed) {
        framer.feed(std::span(buffer).first(n), to_peer, ec);
      } else {
        to_peer.append(std::span(buffer).first(n));
      }
      if (ec) {
        return report(kExitBadInput, fmt::format("an input line is longer than --max-frame ({})",
                                                 format_size(options.format.max_frame)));
      }
      last_traffic = now;
    }

    if (watched[1].revents & POLLOUT) {
      const auto n = sys::send(socket, to_peer.readable(), 0, ec);
      if (ec && ec != std::errc::resource_unavailable_try_again) {
        return report(ec, "sending to " + peer_name);
      }
      ec.clear();
      to_peer.consume(n);
      if (n > 0) last_traffic = now;
    }

    if (watched[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      const auto n = sys::recv(socket, buffer, 0, ec);
      if (ec == std::errc::resource_unavailable_try_again) {
        ec.clear();
        continue;
      }
      if (ec) return report(ec, "receiving from " + peer_name);
      if (n == 0) {  // the peer closed: nobody is left to talk to
        if (const auto cut = decoder.truncation()) {
          return report(
              kExitReset,
              fmt::format("{} closed in the middle of a frame ({} of {} {} bytes)", peer_name,
                          cut->have, cut->need, cut->in_header ? "header" : "payload"));
        }
        return kExitOk;
      }
      last_traffic = now;
      if (!options.framed) {
        write_output(options.output, std::span(buffer).first(n), ec);
      } else {
        std::span<const std::byte> input = std::span(buffer).first(n);
        for (;;) {
          const auto result = decoder.decode(input);
          if (result.status == codec::DecodeResult::Status::need_more) break;
          if (result.status == codec::DecodeResult::Status::error) {
            return report(
                kExitBadData,
                fmt::format("{} sent a frame of {} bytes, above --max-frame ({})", peer_name,
                            result.declared_size, format_size(options.format.max_frame)));
          }
          // One line per frame, escaped as send prints bytes (\n, \xNN, \\), so a frame
          // holding a newline stays one line and no escape sequence reaches a terminal. The
          // quote given is the backslash, escaped anyway: quotes themselves print as they are.
          line.clear();
          codec::append_python_bytes_escaped(line, result.frame, '\\');
          line += '\n';
          write_output(options.output, std::as_bytes(std::span(line)), ec);
          if (ec) break;
        }
      }
      if (ec) return report(kExitFailed, "writing the output: " + ec.message());
    }
  }
}

int relay_datagrams(net::UdpSocket& socket, std::optional<net::Address> peer,
                    const RelayOptions& options) {
  std::vector<std::byte> buffer(64 * 1024);
  bool input_open = true;
  auto last_traffic = Clock::now();
  std::error_code ec;
  for (;;) {
    const auto now = Clock::now();
    int wait = poll_wait(options, last_traffic, now);
    if (!input_open) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(last_traffic +
                                                                     options.datagram_linger - now);
      if (left.count() <= 0) return kExitOk;
      wait = wait < 0 ? static_cast<int>(left.count())
                      : std::min(wait, static_cast<int>(left.count()));
    }
    // Until a listener has heard from someone, there is nobody to send the input to.
    std::array<pollfd, 2> watched{pollfd{input_open && peer ? options.input : -1, POLLIN, 0},
                                  pollfd{socket.native_handle(), POLLIN, 0}};
    const int ready = ::poll(watched.data(), watched.size(), wait);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return report({errno, std::system_category()}, "poll");
    if (ready == 0) {
      if (!input_open) continue;  // the linger check above ends it
      return report(kExitTimedOut, fmt::format("no datagrams for {}; closing",
                                               format_duration(options.idle_timeout)));
    }
    if (watched[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const auto n = read_input(options.input, std::span(buffer).first(kMaxDatagram), ec);
      if (ec) return report(kExitFailed, "reading the input: " + ec.message());
      if (n == 0) {
        input_open = false;
      } else {
        (void)socket.send_to(std::span(buffer).first(n), *peer, ec);
        if (ec) return report(ec, "sending to " + peer->to_string());
      }
      last_traffic = Clock::now();
    }
    if (watched[1].revents & (POLLIN | POLLERR)) {
      net::Address from;
      const auto n = socket.recv_from(buffer, from, ec);
      if (ec == std::errc::connection_refused) {
        return report(kExitFailed, "nothing listens at " + (peer ? peer->to_string() : "the peer") +
                                       " (the host answered: port unreachable)");
      }
      if (ec) return report(ec, "receiving");
      if (!peer) peer = from;  // a listener's first sender is its peer
      if (from != *peer) continue;
      write_output(options.output, std::span(buffer).first(n), ec);
      if (ec) return report(kExitFailed, "writing the output: " + ec.message());
      last_traffic = Clock::now();
    }
  }
}

}  // namespace sockkit::app
