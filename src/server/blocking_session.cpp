#include "blocking_session.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <memory>

#include "session.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::server::detail {
namespace {

constexpr std::size_t kReadsPerWakeup = 4;

}  // namespace

proto::CloseReason serve_blocking(sys::Fd fd, const SessionContext& context) noexcept {
  prepare_client_socket(fd.get(), context.config);
  BudgetShare budget(context.budget);  // (no spare: a thread for one client)
  std::unique_ptr<Session> made;       // on the heap, as in the event-loop engines
  try {
    made = std::make_unique<Session>(context.config, budget, Clock::now(), fd.get());
  } catch (const std::exception&) {  // no memory for it: this client is closed, only it
    context.stats.closed(proto::CloseReason::error);
    return proto::CloseReason::error;
  }
  Session& session = *made;
  std::array<std::byte, 64 * 1024> buffer;  // NOLINT: filled by recv before any read
  std::error_code ec;
  const bool takes_turns = context.turns_on >= 0 && context.config.turn_limit.count() > 0;
  const auto turn_over = Clock::now() + context.config.turn_limit;

  const auto finish = [&](proto::CloseReason reason) {
    end_session(fd.get(), session, reason);
    context.stats.closed(reason);
    return reason;
  };

  for (;;) {
    auto now = Clock::now();
    const bool draining = context.stop.requested();
    check_unsent(fd.get(), session, now);
    if (const auto reason = session.due(now, draining, context.stop.deadline())) {
      return finish(*reason);
    }

    // Sleep until the socket or the doorbell is ready, or the nearest deadline; once the
    // turn is over, a client arriving on the listener wakes it too (and ends this one).
    const bool reading = session.wants_read();
    const bool turn_is_over = takes_turns && now >= turn_over;
    std::array<pollfd, 3> watched{
        pollfd{fd.get(),
               static_cast<short>((reading ? POLLIN : 0) | (session.wants_write() ? POLLOUT : 0)),
               0},
        pollfd{draining ? -1 : context.stop.fd(), POLLIN, 0},
        pollfd{turn_is_over && !draining ? context.turns_on : -1, POLLIN, 0}};
    auto deadline = session.next_deadline(draining, context.stop.deadline());
    if (takes_turns && !turn_is_over) deadline = std::min(deadline, turn_over);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    std::error_code waiting;
    (void)sys::poll(watched, static_cast<int>(std::clamp<long long>(wait, 0, 60'000)), waiting);
    if (waiting) return finish(proto::CloseReason::error);
    now = Clock::now();
    if (watched[2].revents & POLLIN) return finish(proto::CloseReason::turn_over);

    if (reading && (watched[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      for (std::size_t reads = 0; reads < kReadsPerWakeup && session.wants_read(); ++reads) {
        const auto want = session.begin_read(buffer.size());
        if (want == 0) break;  // held back for the budget
        const auto n = sys::recv(fd.get(), std::span(buffer).first(want), 0, ec);
        if (n > 0) {
          context.stats.bytes_in(n);
          session.on_input(std::span(buffer).first(n), now);
        }
        session.end_read();
        if (ec) {
          if (ec == std::errc::resource_unavailable_try_again) break;
          return finish(reason_for(ec));
        }
        if (n == 0) {
          session.on_end_of_stream();
          break;
        }
        if (n < want) break;
      }
    }
    if (session.wants_write()) {
      const auto n = sys::send(fd.get(), session.pending_output(), 0, ec);
      if (ec && ec != std::errc::resource_unavailable_try_again) return finish(reason_for(ec));
      context.stats.bytes_out(n);
      session.on_sent(n, now);
    }
  }
}

}  // namespace sockkit::server::detail
