#include "session.hpp"

#include <algorithm>

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

// At stop(), a connection quiet for this long (and owing nothing) counts as idle and is
// closed at once; busier ones get the drain time.
constexpr auto kQuietAtStop = 100ms;

}  // namespace

Session::Session(const ServerConfig& config, Clock::time_point now)
    : config_(config),
      protocol_(proto::make_protocol(config.protocol, config.frames)),
      last_traffic_(now),
      last_progress_(now) {}

void Session::on_input(std::span<const std::byte> bytes, Clock::time_point now) {
  last_traffic_ = now;
  if (out_.empty()) last_progress_ = now;  // the send clock starts when replies are owed
  const auto verdict = protocol_->on_data(bytes, out_);
  if (verdict.close && !ending_) ending_ = verdict.reason;
  if (!protocol_->mid_message()) {
    message_started_.reset();
  } else if (!message_started_) {
    message_started_ = now;
  }
}

void Session::on_end_of_stream() {
  if (!ending_) ending_ = protocol_->on_end_of_stream();
}

void Session::on_sent(std::size_t count, Clock::time_point now) {
  out_.consume(count);
  if (count > 0) last_traffic_ = last_progress_ = now;
}

std::optional<proto::CloseReason> Session::due(Clock::time_point now, bool draining,
                                               Clock::time_point drain_deadline) {
  using proto::CloseReason;
  if (draining && !saw_drain_) {
    saw_drain_ = true;
    if (out_.empty() && !protocol_->mid_message() && now - last_traffic_ >= kQuietAtStop) {
      return CloseReason::server_stopping;
    }
  }
  if (ending_ && out_.empty()) return ending_;
  if (draining && now >= drain_deadline) return CloseReason::server_stopping;
  if (!out_.empty() && now - last_progress_ >= config_.send_timeout)
    return CloseReason::send_timeout;
  if (out_.empty() && now - last_traffic_ >= config_.idle_timeout) return CloseReason::idle;
  if (message_started_ && now - *message_started_ >= config_.frame_timeout) {
    return CloseReason::frame_timeout;
  }
  return std::nullopt;
}

Clock::time_point Session::next_deadline(bool draining,
                                         Clock::time_point drain_deadline) const noexcept {
  auto wake =
      out_.empty() ? last_traffic_ + config_.idle_timeout : last_progress_ + config_.send_timeout;
  if (message_started_) wake = std::min(wake, *message_started_ + config_.frame_timeout);
  if (draining) wake = std::min(wake, drain_deadline);
  return wake;
}

}  // namespace sockkit::server::detail
