#include "epoll_engine.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "blocking_session.hpp"
#include "session.hpp"
#include "sockkit/sys/epoll.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kListenerToken = ~std::uint64_t{0};
constexpr std::uint64_t kStopToken = kListenerToken - 1;
constexpr std::uint64_t kTurnToken = kListenerToken - 2;  // AcceptBalance's doorbell
constexpr std::size_t kReadsPerEvent = 4;         // then the other connections get their turn
constexpr std::size_t kAcceptsPerEvent = 32;      // likewise for a flood of new clients
constexpr std::size_t kSpareBudget = 128 * 1024;  // two reads' worth (BudgetShare)

}  // namespace

/// One event loop: its own epoll, its own connections, its own counters. Loop thread only,
/// except `counters()`, which any thread may read.
class EpollEngine::Loop final : public EventLoop {
 public:
  Loop(EpollEngine& engine, std::size_t index)
      : engine_(engine), index_(index), epoll_(sys::Epoll::create()) {
    accept_if_due();
    std::error_code ec;
    epoll_.add(engine_.stop_.fd(), EPOLLIN, kStopToken, ec);
    if (ec) sys::throw_error(ec, "epoll_ctl ADD stop");
    epoll_.add(engine_.accept_balance_.doorbell(index_), EPOLLIN, kTurnToken, ec);
    if (ec) sys::throw_error(ec, "epoll_ctl ADD doorbell");
  }

  void run() override;

 private:
  // A connection's slot: a stale event for a closed one is recognised by its generation.
  struct Connection {
    sys::Fd fd;
    std::unique_ptr<Session> session;
    std::uint32_t generation = 0;
    std::uint32_t interest = 0;  // the events registered with epoll
    bool open = false;
  };

  void accept_clients(Clock::time_point now);
  void pause_accepting(Clock::time_point now);
  /// Watches the listener unless it is watched, accepting is paused, the loop is draining,
  /// or the other loops are to take the next clients (AcceptBalance).
  void accept_if_due();
  void watch_listener();
  void unwatch_listener();
  void on_event(std::uint64_t token, std::uint32_t events, Clock::time_point now);
  void flush(Connection& c, Clock::time_point now);
  void update_interest(Connection& c, std::size_t slot);
  void close(std::size_t slot, proto::CloseReason reason);
  void check_deadlines(Clock::time_point now, bool draining);
  [[nodiscard]] static std::uint64_t token_of(std::size_t slot, std::uint32_t generation) {
    return (std::uint64_t{generation} << 32) | slot;
  }

  EpollEngine& engine_;
  std::size_t index_;                                  // among the engine's loops
  BudgetShare budget_{engine_.budget_, kSpareBudget};  // before the sessions, which use it
  sys::Epoll epoll_;
  SlotTable<Connection> slots_;
  std::size_t open_count_ = 0;
  std::vector<std::byte> buffer_ = std::vector<std::byte>(64 * 1024);
  sys::SpareFd spare_;
  std::optional<Clock::time_point> accepting_again_at_;  // set while paused
  bool watching_ = false;                                // the listener, in epoll_
  bool draining_ = false;
};

void EpollEngine::Loop::accept_if_due() {
  if (watching_) return;
  if (accepting_again_at_ || draining_) return engine_.accept_balance_.pass(index_);
  if (engine_.accept_balance_.take_turn(index_)) watch_listener();
}

void EpollEngine::Loop::watch_listener() {
  std::error_code ec;
  // EPOLLEXCLUSIVE: a new client wakes one loop, not all of them.
  epoll_.add(engine_.listener_.native_handle(), EPOLLIN | EPOLLEXCLUSIVE, kListenerToken, ec);
  if (ec) sys::throw_error(ec, "epoll_ctl ADD listener");
  watching_ = true;
}

void EpollEngine::Loop::unwatch_listener() {
  if (!watching_) return;
  std::error_code ec;
  epoll_.remove(engine_.listener_.native_handle(), ec);
  watching_ = false;
}

// The listener stays readable while clients wait, so a level-triggered loop that cannot
// accept them would spin. After shedding what it could, the loop looks away for a moment.
void EpollEngine::Loop::pause_accepting(Clock::time_point now) {
  if (accepting_again_at_) return;
  unwatch_listener();
  accepting_again_at_ = now + kAcceptPause;
  accept_if_due();  // passes the turn to the other loops at once
}

void EpollEngine::Loop::run() {
  std::array<epoll_event, 256> events{};
  auto next_tick = Clock::now();
  while (!(draining_ && open_count_ == 0)) {
    std::error_code ec;
    const auto wait = std::clamp<Clock::duration>(next_tick - Clock::now(), 0ns, kDeadlineTick);
    const auto ready = epoll_.wait(events, wait, ec);  // EINTR: 0 events, no error
    if (ec) sys::throw_error(ec, "epoll_wait");        // never retried blindly (a spin)
    const auto now = Clock::now();
    if (!draining_ && engine_.stop_.requested()) {
      draining_ = true;
      unwatch_listener();
      accept_if_due();                        // passes the turn on
      epoll_.remove(engine_.stop_.fd(), ec);  // stays readable: do not wake on it again
      next_tick = now;                        // close the idle ones at once
    }
    for (std::size_t i = 0; i < ready; ++i) {
      if (i + 2 < ready) slots_.prefetch(events[i + 2].data.u64 & 0xFFFFFFFF);
      if (i + 1 < ready) slots_.prefetch_session(events[i + 1].data.u64 & 0xFFFFFFFF);
      const auto token = events[i].data.u64;
      if (token == kListenerToken) {
        if (watching_) accept_clients(now);  // (not a stale event after draining began)
      } else if (token == kTurnToken) {
        engine_.accept_balance_.clear_doorbell(index_);
        accept_if_due();
      } else if (token != kStopToken) {
        on_event(token, events[i].events, now);
      }
    }
    if (now >= next_tick) {
      budget_.put_back_spare();
      const bool idle = engine_.open_connections_.load(std::memory_order_relaxed) == 0;
      if (engine_.budget_.take_give_back(idle)) sys::give_back_free_memory();
      check_deadlines(now, draining_);
      next_tick = now + kDeadlineTick;
      if (accepting_again_at_ && now >= *accepting_again_at_) accepting_again_at_.reset();
      accept_if_due();
    }
  }
}

void EpollEngine::Loop::accept_clients(Clock::time_point now) {
  auto& listener = engine_.listener_;
  // With several loops on one listener, one client per wakeup, then AcceptBalance says
  // whose turn the next is: the listener stays readable, and the next goes to a loop that
  // watches it; accepting many per wakeup, or one without the turns, piles a burst on one
  // loop (docs/performance.md, C7).
  const std::size_t most = engine_.loops_.size() > 1 ? 1 : kAcceptsPerEvent;
  for (std::size_t accepted = 0; accepted < most; ++accepted) {
    std::error_code ec;
    sys::Fd fd = sys::accept(listener.native_handle(), nullptr, nullptr, SOCK_NONBLOCK, ec);
    if (ec) {
      if (is_resource_exhaustion(ec)) {
        engine_.log_.say("accept on " + listener.local_address().to_string() + ": " + ec.message() +
                         "; closing new clients until descriptors free up");
        // Shed every client waiting now (the listener is non-blocking, so this ends when
        // the backlog is empty): each sees EOF at once instead of hanging.
        spare_.spend([&] {
          for (std::error_code shed_ec; !shed_ec;) {
            sys::Fd shed = sys::accept(listener.native_handle(), nullptr, nullptr, 0, shed_ec);
          }
        });
        pause_accepting(now);
      } else if (!is_transient_accept_error(ec)) {
        engine_.log_.say("accept on " + listener.local_address().to_string() + ": " + ec.message());
      }
      return;  // EAGAIN: none left (level-triggered epoll brings us back for more)
    }
    const auto slot = engine_.admit(fd, slots_, budget_, counters_, now);
    if (!slot) continue;  // fd closes here: the client sees EOF, the others go on
    auto& c = slots_[*slot];
    c.interest = EPOLLIN;
    epoll_.add(c.fd.get(), c.interest, token_of(*slot, c.generation), ec);
    ++open_count_;
    engine_.accept_balance_.set_open(index_, open_count_);
    if (ec) close(*slot, proto::CloseReason::error);
  }
  // Still this loop's turn to accept, or the others' now?
  if (watching_ && !engine_.accept_balance_.take_turn(index_)) unwatch_listener();
}

void EpollEngine::Loop::on_event(std::uint64_t token, std::uint32_t events, Clock::time_point now) {
  const auto slot = static_cast<std::size_t>(token & 0xFFFFFFFF);
  if (slot >= slots_.size()) return;
  auto& c = slots_[slot];
  if (!c.open || c.generation != static_cast<std::uint32_t>(token >> 32)) return;  // stale

  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c.session->wants_read()) {
    for (std::size_t reads = 0; reads < kReadsPerEvent && c.session->wants_read(); ++reads) {
      std::error_code ec;
      const auto want = c.session->begin_read(buffer_.size());
      if (want == 0) break;  // held back for the budget
      const auto n = sys::recv(c.fd.get(), std::span(buffer_).first(want), 0, ec);
      if (n > 0) {
        counters_.bytes_in(n);
        c.session->on_input(std::span(buffer_).first(n), now);
      }
      c.session->end_read();
      if (ec) {  // (compared only when set: an errc comparison is a virtual call)
        if (ec == std::errc::resource_unavailable_try_again) break;
        return close(slot, reason_for(ec));
      }
      if (n == 0) {
        c.session->on_end_of_stream();
        break;
      }
      if (n < want) break;
    }
  }
  // All the replies to what was just read leave in one send.
  if (c.session->wants_write()) flush(c, now);
  if (!c.open) return;
  if (const auto reason = c.session->finished()) return close(slot, *reason);
  update_interest(c, slot);
}

void EpollEngine::Loop::flush(Connection& c, Clock::time_point now) {
  std::error_code ec;
  const auto n = sys::send(c.fd.get(), c.session->pending_output(), 0, ec);
  if (ec && ec != std::errc::resource_unavailable_try_again) {
    const auto slot = slots_.index_of(c);
    return close(slot, reason_for(ec));
  }
  counters_.bytes_out(n);
  c.session->on_sent(n, now);
}

void EpollEngine::Loop::update_interest(Connection& c, std::size_t slot) {
  // Level-triggered: ask for EPOLLOUT only while replies wait, and stop asking for EPOLLIN
  // above the high-water mark, so a client that does not read is not read from either.
  const std::uint32_t wanted =
      (c.session->wants_read() ? EPOLLIN : 0u) | (c.session->wants_write() ? EPOLLOUT : 0u);
  if (wanted == c.interest) return;
  std::error_code ec;
  epoll_.modify(c.fd.get(), wanted, token_of(slot, c.generation), ec);
  c.interest = wanted;
  if (ec) close(slot, proto::CloseReason::error);
}

void EpollEngine::Loop::close(std::size_t slot, proto::CloseReason reason) {
  auto& c = slots_[slot];
  if (!c.open) return;
  // Closing the fd takes it out of epoll; the generation makes any event already fetched
  // for it in this round a stale one.
  end_session(c.fd.get(), *c.session, reason);
  c.fd.reset();
  c.session.reset();
  c.open = false;
  ++c.generation;
  slots_.release(slot);
  --open_count_;
  engine_.accept_balance_.set_open(index_, open_count_);
  engine_.open_connections_.fetch_sub(1);
  counters_.closed(reason);
  accept_if_due();  // (left to the other loops while this one led)
}

void EpollEngine::Loop::check_deadlines(Clock::time_point now, bool draining) {
  const auto drain_deadline = engine_.stop_.deadline();
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    auto& c = slots_[slot];
    if (!c.open) continue;
    check_unsent(c.fd.get(), *c.session, now);
    if (const auto reason = c.session->due(now, draining, drain_deadline)) close(slot, *reason);
  }
}

EpollEngine::EpollEngine(ServerConfig config) : MultiLoopEngine(std::move(config)) {
  std::error_code ec;
  sys::set_nonblocking(listener_.native_handle(), true, ec);
  if (ec) sys::throw_error(ec, "fcntl O_NONBLOCK on " + listener_.local_address().to_string());
  for (std::size_t i = 0; i < loop_count(config_); ++i) {
    loops_.push_back(std::make_unique<Loop>(*this, i));
  }
}

}  // namespace sockkit::server::detail
