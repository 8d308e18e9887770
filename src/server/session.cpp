#include "session.hpp"

#include <algorithm>

#include "sockkit/sys/socket.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

// At stop(), a connection quiet for this long (and owing nothing) counts as idle and is
// closed at once; busier ones get the drain time.
constexpr auto kQuietAtStop = 100ms;

net::Address peer_of(int fd) noexcept {
  if (fd < 0) return {};
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::error_code ec;
  sys::peer_address(fd, storage, length, ec);
  if (ec) return {};  // reset before we asked: the log says "a client"
  return net::Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
}

}  // namespace

struct Session::Watch {
  net::Address peer;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

Session::Session(const ServerConfig& config, Clock::time_point now, int peer_fd)
    : config_(config),
      protocol_(proto::make_protocol(config.protocol, config.frames)),
      last_traffic_(now),
      last_progress_(now) {
  if (config_.on_connection) {
    watch_ = std::make_unique<Watch>(Watch{.peer = peer_of(peer_fd)});
    notify({.kind = ConnectionEvent::Kind::opened, .peer = watch_->peer});
  }
}

void Session::notify(const ConnectionEvent& event) const noexcept {
  try {
    config_.on_connection(event);
  } catch (...) {  // a log that fails must not take the connection down
  }
}

Session::~Session() = default;

void Session::on_close(proto::CloseReason reason) noexcept {
  if (!watch_) return;
  notify({.kind = ConnectionEvent::Kind::closed,
          .peer = watch_->peer,
          .reason = reason,
          .bytes_in = watch_->bytes_in,
          .bytes_out = watch_->bytes_out});
  watch_.reset();  // reported once
}

void Session::on_input(std::span<const std::byte> bytes, Clock::time_point now) noexcept {
  try {
    take_input(bytes, now);
  } catch (const std::exception&) {
    // Out of memory for this client's replies (or a protocol that failed): the stream can
    // no longer be answered byte for byte, so it ends now, owing nothing, and only it.
    out_.clear();
    message_started_.reset();
    ending_ = proto::CloseReason::error;
  }
}

void Session::take_input(std::span<const std::byte> bytes, Clock::time_point now) {
  if (watch_) {
    if (watch_->bytes_in == 0 && !bytes.empty()) {
      notify({.kind = ConnectionEvent::Kind::first_data, .peer = watch_->peer, .data = bytes});
    }
    watch_->bytes_in += bytes.size();
  }
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
  if (watch_) watch_->bytes_out += count;
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
