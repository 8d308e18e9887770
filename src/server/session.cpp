#include "session.hpp"

#include <algorithm>

#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

// While stopping, a connection quiet for this long (and owing nothing) counts as idle and
// is closed; busier ones get the drain time.
constexpr auto kQuietAtStop = 100ms;
// Once replies have waited this long, the kernel is asked this often whether the client
// is taking them.
constexpr auto kUnsentCheckAfter = 250ms;
constexpr auto kUnsentRecheck = 50ms;  // the first recheck; doubles while nothing moves
constexpr auto kUnsentRecheckMost = 1s;

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

Session::Session(const ServerConfig& config, BudgetShare& budget, Clock::time_point now,
                 int peer_fd)
    : config_(config),
      share_(budget),
      budget_(budget.budget()),
      protocol_(proto::make_protocol(config.protocol, config.frames)),
      last_traffic_(now),
      last_progress_(now),
      unsent_recheck_(kUnsentRecheck) {
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

Session::~Session() {
  end_read();
  share_.put_back(charged_);
  budget_.unstored(charged_);
}

// Growth past what was set aside is taken as the read's bytes come; what could not be
// (a trickle, or pieces that grew the storage more than foreseen) is taken past the limit.
void Session::account() noexcept {
  const auto held = out_.capacity();
  if (held > charged_) {
    const auto grown = held - charged_;
    const auto reserved = std::min(grown, reserved_);
    reserved_ -= reserved;
    const auto more = grown - reserved;
    if (more > 0) budget_.take_anyway(more - share_.take(more));
    budget_.stored(grown);
  } else if (held < charged_) {
    share_.put_back(charged_ - held);
    budget_.unstored(charged_ - held);
  }
  charged_ = held;
}

// The replies `count` bytes of input may complete hold at most those bytes and what the
// protocol holds toward its message under way (a frame's beginning). They come in pieces
// when the input does, or when the protocol appends a reply in several (a frame's header,
// then its payload, frame after frame).
std::size_t Session::growth(std::size_t count, Arrival arrival) const noexcept {
  const auto replies = count + protocol_->held();
  return arrival == Arrival::at_once && protocol_->replies_at_once() ? out_.growth_for(replies)
                                                                     : out_.growth_bound(replies);
}

// The most of `want` whose growth fits in `allowance`: what fits in the room there is at
// least (beside what the protocol holds: no growth), and past it as far as a search finds
// (the growth never falls as the count rises).
std::size_t Session::fit(std::size_t want, Arrival arrival, std::size_t allowance) const noexcept {
  const auto room = out_.room();
  const auto held = protocol_->held();
  std::size_t fits = std::min(want, room > held ? room - held : 0);
  std::size_t too_much = want + 1;
  while (too_much - fits > 1) {
    const auto middle = fits + (too_much - fits) / 2;
    (growth(middle, arrival) <= allowance ? fits : too_much) = middle;
  }
  return fits;
}

std::size_t Session::begin_read(std::size_t want, Arrival arrival,
                                std::size_t most_growth) noexcept {
  end_read();  // (a read that was not ended gives back what it set aside first)
  const auto needed = growth(want, arrival);
  if (needed == 0) return want;
  reserved_ = share_.take(std::min(needed, most_growth));
  if (reserved_ == needed) return want;
  auto count = fit(want, arrival, reserved_);
  // A client that owes nothing may still read a trickle: the budget's only slack.
  if (out_.empty()) count = std::max(count, fit(want, arrival, kTrickleRead));
  const auto covered = std::min(reserved_, growth(count, arrival));
  share_.put_back(reserved_ - covered);
  reserved_ = covered;
  if (count == 0) pause_for_budget();
  return count;
}

void Session::end_read() noexcept {
  if (reserved_ == 0) return;
  share_.put_back(reserved_);
  reserved_ = 0;
}

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
    out_.release();
    message_started_.reset();
    ending_ = proto::CloseReason::error;
  }
  account();
  if (!out_.empty() && budget_.exhausted()) pause_for_budget();
}

void Session::pause_for_budget() noexcept {
  if (budget_paused_) return;
  budget_paused_ = true;  // not read again until its replies have gone
  budget_.count_pause();
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
  if (out_.empty()) {
    budget_paused_ = false;
    // With the budget spent, storage nobody is using goes back to it.
    if (budget_.exhausted() && out_.capacity() > 0) {
      out_.release();
      account();
    }
  }
  if (watch_) watch_->bytes_out += count;
  if (count > 0) {
    last_traffic_ = last_progress_ = now;
    last_unsent_ = kUnknown;  // the kernel's queue grew: the next check starts afresh
    unsent_recheck_ = kUnsentRecheck;
    kernel_may_hold_ = true;  // until a check finds its queue empty
  }
}

Clock::duration Session::unsent_check_after() const noexcept {
  return std::min<Clock::duration>(kUnsentCheckAfter, config_.send_timeout / 4);
}

bool Session::wants_unsent_check(Clock::time_point now) const noexcept {
  if (out_.empty() && !kernel_may_hold_) return false;
  if (now - last_progress_ < unsent_check_after()) return false;
  // The send timeout is due: one last look before it closes a client that did read.
  const auto timeout_at = last_progress_ + config_.send_timeout;
  if (now >= timeout_at && last_unsent_check_ < timeout_at) return true;
  return now - last_unsent_check_ >= unsent_recheck_;
}

void Session::on_unsent(std::size_t bytes, Clock::time_point now) noexcept {
  if (last_unsent_ != kUnknown && bytes < last_unsent_) {
    last_progress_ = now;
    unsent_recheck_ = kUnsentRecheck;
  } else if (last_unsent_ != kUnknown) {
    unsent_recheck_ = std::min<Clock::duration>(2 * unsent_recheck_, kUnsentRecheckMost);
  }
  last_unsent_ = bytes;
  last_unsent_check_ = now;
  if (bytes == 0) kernel_may_hold_ = false;  // delivered: nothing is owed there
}

bool Session::owes() const noexcept {
  // Replies in our buffer, or ones the kernel was seen holding (a client that sent less
  // than the kernel's buffers take and never reads leaves our buffer empty).
  return !out_.empty() || (kernel_may_hold_ && last_unsent_ != kUnknown);
}

std::optional<proto::CloseReason> Session::due(Clock::time_point now, bool draining,
                                               Clock::time_point drain_deadline) {
  using proto::CloseReason;
  if (const auto reason = finished()) return reason;
  // Draining, a connection that is quiet and owes nothing is idle and closed, at once or
  // as soon as it becomes so (as Go's Shutdown does); a busy one may finish until the
  // deadline.
  if (draining && out_.empty() && !protocol_->mid_message() &&
      now - last_traffic_ >= kQuietAtStop) {
    return CloseReason::server_stopping;
  }
  if (draining && now >= drain_deadline) return CloseReason::server_stopping;
  if (owes() && now - last_progress_ >= config_.send_timeout) return CloseReason::send_timeout;
  if (out_.empty() && now - last_traffic_ >= config_.idle_timeout) return CloseReason::idle;
  if (message_started_ && now - *message_started_ >= config_.frame_timeout) {
    return CloseReason::frame_timeout;
  }
  return std::nullopt;
}

Clock::time_point Session::next_deadline(bool draining,
                                         Clock::time_point drain_deadline) const noexcept {
  auto wake = owes() ? last_progress_ + config_.send_timeout : last_traffic_ + config_.idle_timeout;
  if (!out_.empty() || kernel_may_hold_) {
    wake = std::min(wake, std::max(last_progress_ + unsent_check_after(),
                                   last_unsent_check_ + unsent_recheck_));
  }
  if (message_started_) wake = std::min(wake, *message_started_ + config_.frame_timeout);
  if (draining) {
    wake = std::min(wake, drain_deadline);
    if (out_.empty()) wake = std::min(wake, last_traffic_ + kQuietAtStop);
  }
  return wake;
}

void check_unsent(int fd, Session& session, Clock::time_point now) noexcept {
  if (!session.wants_unsent_check(now)) return;
  std::error_code ec;
  const auto unsent = sys::unsent_bytes(fd, ec);
  if (!ec) session.on_unsent(unsent, now);
}

void end_session(int fd, Session& session, proto::CloseReason reason) noexcept {
  using proto::CloseReason;
  const bool abandoned = reason == CloseReason::send_timeout || reason == CloseReason::error ||
                         (reason == CloseReason::server_stopping && session.queued() > 0);
  if (abandoned) {
    std::error_code ignored;
    sys::set_option(fd, sys::Linger{.enabled = true, .timeout = {}}, ignored);
  }
  session.on_close(reason);
}

}  // namespace sockkit::server::detail
