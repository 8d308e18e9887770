#include "engine_support.hpp"

#include <algorithm>
#include <thread>

#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::server::detail {

void StopSignal::request() noexcept {
  if (requested_.exchange(true, std::memory_order_acq_rel)) return;
  deadline_.store((Clock::now() + drain_).time_since_epoch().count(), std::memory_order_release);
  bell_.ring();
}

Clock::time_point StopSignal::deadline() const noexcept {
  return Clock::time_point(Clock::duration(deadline_.load(std::memory_order_acquire)));
}

void ThrottledLog::say(const std::string& message) {
  if (!config_.log) return;
  const auto now = Clock::now().time_since_epoch().count();
  auto last = last_.load(std::memory_order_acquire);  // (pairs with the claim below)
  const auto second = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)).count();
  if (last != 0 && now - last < second) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The count is taken before the claim on the second: a caller held back because this one
  // won the claim counts itself after, so on the next line. (Taken after the claim, the
  // count of a caller held back at the same instant went on this line, as if said before.)
  const auto held_back = suppressed_.exchange(0, std::memory_order_acq_rel);
  if (!last_.compare_exchange_strong(last, now)) {  // another caller just said it
    suppressed_.fetch_add(held_back + 1, std::memory_order_relaxed);
    return;
  }
  config_.log(held_back == 0
                  ? message
                  : message + " (" + std::to_string(held_back) + " similar messages suppressed)");
}

bool is_transient_accept_error(const std::error_code& ec) noexcept {
  return ec == std::errc::resource_unavailable_try_again || ec == std::errc::connection_aborted ||
         ec == std::errc::interrupted || ec == std::errc::protocol_error ||
         ec == std::errc::operation_not_permitted || ec == std::errc::connection_reset;
}

bool is_resource_exhaustion(const std::error_code& ec) noexcept {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

void stop_listening(const net::StreamListener& listener) noexcept {
  std::error_code ignored;  // not listening any more is the goal either way
  sys::shutdown(listener.native_handle(), SHUT_RDWR, ignored);
}

std::size_t loop_count(const ServerConfig& config) noexcept {
  return config.threads > 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
}

void prepare_client_socket(int fd, const ServerConfig& config) noexcept {
  std::error_code ignored;
  if (config.socket_send_buffer > 0) {
    sys::set_option(fd, sys::SendBufferSize{static_cast<int>(config.socket_send_buffer)}, ignored);
  }
  if (!config.listen.is_ip()) return;
  // Replies leave in one send per wakeup already; Nagle would hold a reply until the
  // client acknowledged the one before, which a client with delayed ACKs does only with its
  // next message (docs/performance.md, C1).
  sys::set_option(fd, sys::NoDelay{true}, ignored);
  if (config.socket_unsent_limit > 0) {
    sys::set_option(fd, sys::NotSentLowWater{static_cast<int>(config.socket_unsent_limit)},
                    ignored);
  }
  if (config.keepalive_idle.count() > 0) {
    sys::set_option(fd, sys::KeepAlive{true}, ignored);
    sys::set_option(fd, sys::KeepAliveIdle{config.keepalive_idle}, ignored);
    sys::set_option(fd, sys::KeepAliveInterval{config.keepalive_interval}, ignored);
    sys::set_option(fd, sys::KeepAliveCount{config.keepalive_count}, ignored);
  }
  if (config.tcp_user_timeout.count() > 0) {
    sys::set_option(fd, sys::UserTimeout{config.tcp_user_timeout}, ignored);
  }
}

proto::CloseReason reason_for(const std::error_code& ec) noexcept {
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe) {
    return proto::CloseReason::peer_reset;
  }
  // A non-blocking socket times out only when the kernel gives up on its peer. When the
  // route to the peer went away meanwhile (a cut link), the kernel reports that instead of
  // the timeout: the peer is gone all the same (S5 saw "no route to host" there).
  if (ec == std::errc::timed_out || ec == std::errc::host_unreachable ||
      ec == std::errc::network_unreachable || ec == std::errc::network_down) {
    return proto::CloseReason::peer_gone;
  }
  return proto::CloseReason::error;
}

}  // namespace sockkit::server::detail
