#include "blocking_session.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <optional>

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

// At stop(), a connection quiet for this long (and owing nothing) counts as idle and is
// closed at once; busier ones get the drain time.
constexpr auto kQuietAtStop = 100ms;
constexpr std::size_t kReadsPerWakeup = 4;

}  // namespace

proto::CloseReason serve_blocking(sys::Fd fd, const SessionContext& context) {
  const auto& config = context.config;
  auto protocol = proto::make_protocol(config.protocol, config.frames);
  codec::ByteBuffer out;
  std::array<std::byte, 64 * 1024> buffer;  // NOLINT: filled by recv before any read

  std::error_code ec;
  sys::set_nonblocking(fd.get(), true, ec);
  if (config.socket_send_buffer > 0) {
    sys::set_option(fd.get(), sys::SendBufferSize{static_cast<int>(config.socket_send_buffer)}, ec);
  }
  auto now = Clock::now();
  auto last_traffic = now;   // any byte in or out
  auto last_progress = now;  // a write that moved bytes (or nothing owed)
  std::optional<Clock::time_point> message_started;
  std::optional<proto::CloseReason> ending;  // set: read no more, flush, then close
  bool draining = false;

  const auto finish = [&](proto::CloseReason reason) {
    context.stats.closed(reason);
    return reason;
  };

  for (;;) {
    now = Clock::now();
    if (!draining && context.stop.requested()) {
      draining = true;
      if (out.empty() && !protocol->mid_message() && now - last_traffic >= kQuietAtStop) {
        return finish(proto::CloseReason::server_stopping);
      }
    }
    if (ending && out.empty()) return finish(*ending);
    if (draining && now >= context.stop.deadline())
      return finish(proto::CloseReason::server_stopping);
    if (!out.empty() && now - last_progress >= config.send_timeout) {
      return finish(proto::CloseReason::send_timeout);
    }
    if (out.empty() && now - last_traffic >= config.idle_timeout)
      return finish(proto::CloseReason::idle);
    if (message_started && now - *message_started >= config.frame_timeout) {
      return finish(proto::CloseReason::frame_timeout);
    }

    // Sleep until the socket or the doorbell is ready, or the nearest deadline.
    auto wake =
        out.empty() ? last_traffic + config.idle_timeout : last_progress + config.send_timeout;
    if (message_started) wake = std::min(wake, *message_started + config.frame_timeout);
    if (draining) wake = std::min(wake, context.stop.deadline());
    const bool reading = !ending && out.size() < config.high_water_mark;
    std::array<pollfd, 2> watched{
        pollfd{fd.get(), static_cast<short>((reading ? POLLIN : 0) | (out.empty() ? 0 : POLLOUT)),
               0},
        pollfd{draining ? -1 : context.stop.fd(), POLLIN, 0}};
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    if (::poll(watched.data(), watched.size(),
               static_cast<int>(std::clamp<long long>(wait, 0, 60'000))) < 0 &&
        errno != EINTR) {
      return finish(proto::CloseReason::error);
    }
    now = Clock::now();
    const short events = watched[0].revents;

    if (reading && (events & (POLLIN | POLLHUP | POLLERR))) {
      for (std::size_t reads = 0; reads < kReadsPerWakeup && !ending; ++reads) {
        const auto n = sys::recv(fd.get(), buffer, 0, ec);
        if (ec == std::errc::resource_unavailable_try_again) break;
        if (ec) return finish(reason_for(ec));
        if (n == 0) {  // the peer is done sending: answer what it sent, then close
          ending = protocol->on_end_of_stream();
          break;
        }
        context.stats.bytes_in(n);
        last_traffic = now;
        const auto verdict = protocol->on_data(std::span(buffer).first(n), out);
        if (verdict.close) ending = verdict.reason;
        if (!protocol->mid_message()) {
          message_started.reset();
        } else if (!message_started) {
          message_started = now;
        }
        if (out.size() >= config.high_water_mark || n < buffer.size()) break;
      }
    }
    if (!out.empty()) {
      const auto n = sys::send(fd.get(), out.readable(), 0, ec);
      if (ec && ec != std::errc::resource_unavailable_try_again) return finish(reason_for(ec));
      if (n > 0) {
        out.consume(n);
        context.stats.bytes_out(n);
        last_traffic = last_progress = now;
      }
    } else {
      last_progress = now;
    }
  }
}

}  // namespace sockkit::server::detail
