#include "fault_proxy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>

#include "sockkit/sys/epoll.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kListenerToken = ~std::uint64_t{0};
constexpr std::uint64_t kStopToken = kListenerToken - 1;
constexpr std::size_t kAcceptsPerEvent = 64;
constexpr int kRoundsPerService = 64;                // then other connections get their turn
constexpr std::size_t kTrimAbove = 4 * 1024 * 1024;  // give back memory after a peak this high

enum class Side : std::uint64_t { client = 0, server = 1 };

std::uint64_t token_of(std::size_t slot, std::uint32_t generation, Side side) {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{slot} << 1) |
         static_cast<std::uint64_t>(side);
}

bool would_block(const std::error_code& ec) {
  return ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block;
}

}  // namespace

struct FaultProxy::Counters {
  std::atomic<std::uint64_t> accepted{0}, faulted{0}, upstream_failed{0}, closed{0}, cut{0},
      reset{0}, stalled{0}, idle{0}, bytes_up{0}, bytes_down{0}, buffered{0}, budget_pauses{0};
};

/// The proxy's one event loop. Loop thread only.
class FaultProxy::Loop {
 public:
  explicit Loop(FaultProxy& proxy)
      : proxy_(proxy), config_(proxy.config_), epoll_(sys::Epoll::create()), random_(config_.seed) {
    std::error_code ec;
    epoll_.add(proxy_.listener_.native_handle(), EPOLLIN, kListenerToken, ec);
    if (ec) sys::throw_error(ec, "epoll_ctl ADD listener");
    epoll_.add(proxy_.stop_.native_handle(), EPOLLIN, kStopToken, ec);
    if (ec) sys::throw_error(ec, "epoll_ctl ADD stop");
  }
  void run();

 private:
  struct End {
    sys::Fd fd;
    bool read_ended = false;  // read returned 0
    bool write_shut = false;  // our FIN went out
  };
  struct Connection {
    bool open = false;
    std::uint32_t generation = 0;
    std::uint64_t id = 0;
    net::Address peer;
    End client, server;
    bool connecting = false;
    std::size_t next_address = 0;
    bool faulted = false;
    Clock::time_point opened;
    Clock::time_point connect_deadline;
    std::optional<Clock::time_point> reset_at;
    std::optional<FaultPipe> up, down;
    std::optional<Clock::time_point> wake;
    // Since when each direction's destination has taken none of the bytes ready for it.
    std::optional<Clock::time_point> up_blocked, down_blocked;
    Clock::time_point last_traffic;
    bool waiting_for_budget = false;  // a read held back: the budget was spent
  };
  enum class Ending { closed, cut, reset, upstream_failed, stalled, idle };

  void accept_clients(Clock::time_point now);
  bool connect_upstream(std::size_t slot);
  void on_event(std::uint64_t token, std::uint32_t events, Clock::time_point now);
  void service(std::size_t slot, Clock::time_point now);
  // One direction: write what the pipe allows, then read what it has room for. Returns
  // whether anything moved; an error ends the connection (`open` turns false).
  bool move(std::size_t slot, End& from, End& to, FaultPipe& pipe, bool to_ready,
            std::optional<Clock::time_point>& blocked, std::atomic<std::uint64_t>& bytes,
            Clock::time_point now);
  // The memory the budget has left; 0 when it is spent.
  [[nodiscard]] std::size_t budget_room() const noexcept;
  // A pipe's storage changed from `before` to `after` bytes.
  void account(std::size_t before, std::size_t after) noexcept;
  void end(std::size_t slot, Ending how, std::string_view why);

  FaultProxy& proxy_;
  const ProxyConfig& config_;
  sys::Epoll epoll_;
  std::mt19937_64 random_;
  std::vector<Connection> slots_;
  std::vector<std::size_t> free_slots_;
  std::size_t open_count_ = 0;
  std::uint64_t next_id_ = 1;
  std::array<std::byte, 64 * 1024> buffer_{};
  sys::SpareFd spare_;
  std::size_t held_ = 0;             // every pipe's storage together
  std::size_t peak_since_trim_ = 0;  // the most held since memory was last given back
};

void FaultProxy::Loop::run() {
  std::array<epoll_event, 256> events{};
  // The earliest connection's wake, from the last pass (max: none, wait up to a second).
  auto wake = Clock::time_point::max();
  while (!proxy_.stopping_.load(std::memory_order_acquire)) {
    const auto timeout = wake == Clock::time_point::max()
                             ? Clock::duration(1s)
                             : std::clamp<Clock::duration>(wake - Clock::now(), 0ns, 1s);
    std::error_code ec;
    const auto ready = epoll_.wait(events, timeout, ec);
    const auto now = Clock::now();
    for (std::size_t i = 0; i < ready; ++i) on_event(events[i].data.u64, events[i].events, now);
    // One pass: serve the connections that are due, and find when the next one will be.
    wake = Clock::time_point::max();
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      const auto& c = slots_[slot];
      if (c.open && c.waiting_for_budget && budget_room() > 0) {
        slots_[slot].waiting_for_budget = false;
        service(slot, now);
      }
      if (c.open && c.wake && *c.wake <= now) service(slot, now);
      if (c.open && c.wake) wake = std::min(wake, *c.wake);
    }
  }
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].open) end(slot, Ending::closed, "proxy stopping");
  }
}

void FaultProxy::Loop::accept_clients(Clock::time_point now) {
  for (std::size_t i = 0; i < kAcceptsPerEvent; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    std::error_code ec;
    sys::Fd fd =
        sys::accept(proxy_.listener_.native_handle(), &peer, &peer_length, SOCK_NONBLOCK, ec);
    if (ec) {
      if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
        // Shed the client rather than leave the listener readable and spin on it.
        spare_.spend([&] {
          std::error_code ignored;
          sys::Fd shed =
              sys::accept(proxy_.listener_.native_handle(), nullptr, nullptr, 0, ignored);
        });
        if (config_.log) config_.log(fmt::format("accept: {}; closing new clients", ec.message()));
      }
      return;  // EAGAIN: none left
    }
    proxy_.counters_->accepted.fetch_add(1, std::memory_order_relaxed);
    if (open_count_ >= config_.max_connections) {
      proxy_.counters_->closed.fetch_add(1, std::memory_order_relaxed);
      continue;  // closed at once: the client sees EOF
    }
    std::size_t slot = slots_.size();
    if (free_slots_.empty()) {
      slots_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    auto& c = slots_[slot];
    c.open = true;
    c.id = next_id_++;
    c.peer = net::Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), peer_length);
    c.client = End{std::move(fd)};
    c.server = End{};
    c.next_address = 0;
    c.opened = now;
    c.connect_deadline = now + config_.connect_timeout;
    c.faulted = std::uniform_real_distribution<double>(0, 1)(random_) < config_.fraction;
    const auto seed = random_();
    c.up.emplace(c.faulted ? config_.up : DirectionFaults{}, seed, now, config_.buffer);
    c.down.emplace(c.faulted ? config_.down : DirectionFaults{}, seed ^ 0x9e3779b97f4a7c15ULL, now,
                   config_.buffer);
    c.reset_at.reset();
    if (c.faulted && config_.reset_after) c.reset_at = now + *config_.reset_after;
    c.wake = now;
    c.up_blocked.reset();
    c.down_blocked.reset();
    c.last_traffic = now;
    c.waiting_for_budget = false;
    ++open_count_;
    if (c.faulted) proxy_.counters_->faulted.fetch_add(1, std::memory_order_relaxed);
    std::error_code ignored;
    sys::set_option(c.client.fd.get(), sys::NoDelay{true}, ignored);  // a slice is a segment
    epoll_.add(c.client.fd.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
               token_of(slot, c.generation, Side::client), ec);
    if (config_.log) {
      config_.log(fmt::format("Connection {} from {}{}", c.id, c.peer.to_string(),
                              c.faulted ? " (faults on)" : ""));
    }
    if (ec) {
      end(slot, Ending::closed, ec.message());
    } else if (!connect_upstream(slot)) {
      end(slot, Ending::upstream_failed, "could not reach the server");
    }
  }
}

// Starts a non-blocking connect to the next upstream address; false when none is left.
bool FaultProxy::Loop::connect_upstream(std::size_t slot) {
  auto& c = slots_[slot];
  while (c.next_address < config_.upstream.size()) {
    const auto& address = config_.upstream[c.next_address++];
    std::error_code ec;
    sys::Fd fd = sys::open_socket(address.domain(), SOCK_STREAM | SOCK_NONBLOCK, 0, ec);
    if (ec) continue;
    sys::connect(fd.get(), address.data(), address.size(), ec);
    if (ec && ec != std::errc::operation_in_progress) continue;
    if (address.is_ip()) {
      std::error_code ignored;
      sys::set_option(fd.get(), sys::NoDelay{true}, ignored);
    }
    epoll_.add(fd.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
               token_of(slot, c.generation, Side::server), ec);
    if (ec) continue;
    c.server = End{std::move(fd)};
    c.connecting = true;
    return true;
  }
  return false;
}

void FaultProxy::Loop::on_event(std::uint64_t token, std::uint32_t events, Clock::time_point now) {
  if (token == kListenerToken) return accept_clients(now);
  if (token == kStopToken) return;
  const auto slot = static_cast<std::size_t>((token & 0xFFFFFFFF) >> 1);
  if (slot >= slots_.size()) return;
  auto& c = slots_[slot];
  if (!c.open || c.generation != static_cast<std::uint32_t>(token >> 32)) return;  // stale
  const auto side = static_cast<Side>(token & 1);
  if (side == Side::server && c.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    if (const auto ec = sys::pending_error(c.server.fd.get())) {
      std::error_code ignored;
      epoll_.remove(c.server.fd.get(), ignored);
      c.server = End{};
      c.connecting = false;
      if (!connect_upstream(slot)) {
        return end(slot, Ending::upstream_failed, "connect to the server: " + ec.message());
      }
      return;
    }
    c.connecting = false;
  }
  // A direction that is black-holed reads nothing, so it would never see its peer go:
  // a hang-up or error on a socket ends the connection when nothing else will notice it.
  if (events & (EPOLLERR | EPOLLHUP)) {
    auto& pipe = side == Side::client ? *c.up : *c.down;
    if (pipe.blackholed(now)) {
      const auto ec =
          sys::pending_error(side == Side::client ? c.client.fd.get() : c.server.fd.get());
      return end(slot, ec ? Ending::reset : Ending::closed,
                 ec ? ec.message() : std::string("hung up"));
    }
  }
  service(slot, now);
}

std::size_t FaultProxy::Loop::budget_room() const noexcept {
  if (config_.max_buffer_memory == 0) return std::numeric_limits<std::size_t>::max();
  return config_.max_buffer_memory > held_ ? config_.max_buffer_memory - held_ : 0;
}

void FaultProxy::Loop::account(std::size_t before, std::size_t after) noexcept {
  held_ = held_ - std::min(before, held_) + after;
  peak_since_trim_ = std::max(peak_since_trim_, held_);
  proxy_.counters_->buffered.store(held_, std::memory_order_relaxed);
}

bool FaultProxy::Loop::move(std::size_t slot, End& from, End& to, FaultPipe& pipe, bool to_ready,
                            std::optional<Clock::time_point>& blocked,
                            std::atomic<std::uint64_t>& bytes, Clock::time_point now) {
  bool moved = false;
  bool progressed = false;  // a byte went out or came in
  bool waiting = false;     // bytes are ready to go out, or to come in, and could not
  if (to_ready && !to.write_shut) {
    const auto data = pipe.writable(now);
    if (!data.empty()) {
      std::error_code ec;
      const auto n = sys::send(to.fd.get(), data, 0, ec);
      if (ec && !would_block(ec)) {
        end(slot, Ending::reset, "send: " + ec.message());
        return false;
      }
      if (n > 0) {
        const auto before = pipe.held();
        pipe.consumed(n, now);
        account(before, pipe.held());
        bytes.fetch_add(n, std::memory_order_relaxed);
        moved = progressed = true;
      }
      waiting = n < data.size();
    }
  }
  // A read may take what the pipe has room for, as long as the storage that takes it fits
  // in what is left of the budget (the budget counts storage, not bytes: what RSS sees).
  auto room = std::min(pipe.room(now), buffer_.size());
  const auto spare = budget_room();
  const auto unbudgeted = room;
  while (room > 0 && pipe.growth_for(room) > spare) room /= 2;
  if (unbudgeted > 0 && room == 0 && !from.read_ended) {
    // The budget is spent: this direction waits for bytes to go out elsewhere. It counts as
    // waiting (for the stall timeout) only when its sender has bytes queued for it.
    std::error_code ec;
    if (sys::unread_bytes(from.fd.get(), ec) > 0) waiting = true;
    auto& c = slots_[slot];
    if (!c.waiting_for_budget) {
      proxy_.counters_->budget_pauses.fetch_add(1, std::memory_order_relaxed);
    }
    c.waiting_for_budget = true;
  }
  if (room > 0 && !from.read_ended) {
    std::error_code ec;
    const auto n = sys::recv(from.fd.get(), std::span(buffer_).first(room), 0, ec);
    if (ec && !would_block(ec)) {
      end(slot, Ending::reset, "recv: " + ec.message());
      return false;
    }
    if (!ec && n == 0) {
      from.read_ended = true;
      pipe.end_of_input(now);
      moved = true;
    } else if (n > 0) {
      const auto before = pipe.held();
      pipe.push(std::span(buffer_).first(n), now);
      account(before, pipe.held());
      moved = progressed = true;
    }
  }
  // The stall clock runs while bytes wait to move this way and none does, and starts again
  // at each byte that does (a slow reader that progresses is not stalled).
  if (!waiting) {
    blocked.reset();
  } else if (progressed || !blocked) {
    blocked = now;
  }
  return moved;
}

void FaultProxy::Loop::service(std::size_t slot, Clock::time_point now) {
  auto& c = slots_[slot];
  if (c.reset_at && now >= *c.reset_at) return end(slot, Ending::reset, "reset (--reset-after)");
  if (c.connecting && now >= c.connect_deadline) {
    return end(slot, Ending::upstream_failed, "connect to the server: timed out");
  }
  auto& counters = *proxy_.counters_;
  bool moved = true;
  bool any_moved = false;
  for (int round = 0; moved && round < kRoundsPerService; ++round) {
    moved =
        move(slot, c.client, c.server, *c.up, !c.connecting, c.up_blocked, counters.bytes_up, now);
    if (!c.open) return;
    if (!c.connecting) {
      moved |=
          move(slot, c.server, c.client, *c.down, true, c.down_blocked, counters.bytes_down, now);
      if (!c.open) return;
    }
    if (c.up->cut() || c.down->cut()) return end(slot, Ending::cut, "cut (--cut-after)");
    any_moved |= moved;
  }
  if (any_moved) c.last_traffic = now;
  const auto stall = config_.stall_timeout;
  if (stall.count() > 0) {
    if (c.up_blocked && now - *c.up_blocked >= stall) {
      return end(slot, Ending::stalled,
                 "stalled: the server took nothing for " + format_duration(stall));
    }
    if (c.down_blocked && now - *c.down_blocked >= stall) {
      return end(slot, Ending::stalled,
                 "stalled: the client took nothing for " + format_duration(stall));
    }
  }
  // Once one side has finished sending, the connection may wait for the other only as
  // long as a stall (HAProxy's client-fin and server-fin timeouts): a client that closed
  // and a server that never answers must not hold it for the whole idle timeout.
  auto idle = config_.idle_timeout;
  if ((c.client.read_ended || c.server.read_ended) && stall.count() > 0) {
    idle = idle.count() > 0 ? std::min(idle, stall) : stall;
  }
  if (idle.count() > 0 && now - c.last_traffic >= idle) {
    return end(slot, Ending::idle, "idle for " + format_duration(idle));
  }
  std::error_code ignored;
  if (!c.connecting && !c.server.write_shut && c.up->should_finish(now)) {
    sys::shutdown(c.server.fd.get(), SHUT_WR, ignored);
    c.server.write_shut = true;
  }
  if (!c.connecting && !c.client.write_shut && c.down->should_finish(now)) {
    sys::shutdown(c.client.fd.get(), SHUT_WR, ignored);
    c.client.write_shut = true;
  }
  if (c.client.write_shut && c.server.write_shut) return end(slot, Ending::closed, "closed");

  // Edge-triggered sockets say nothing new about bytes already there: a connection that
  // still had work when its turn ended comes back on the next round of the loop.
  c.wake.reset();
  if (moved) c.wake = now;
  const auto consider = [&](std::optional<Clock::time_point> t) {
    if (t && (!c.wake || *t < *c.wake)) c.wake = t;
  };
  consider(c.up->next_change(now));
  consider(c.down->next_change(now));
  consider(c.reset_at);
  if (c.connecting) consider(c.connect_deadline);
  if (stall.count() > 0 && c.up_blocked) consider(*c.up_blocked + stall);
  if (stall.count() > 0 && c.down_blocked) consider(*c.down_blocked + stall);
  if (idle.count() > 0) consider(c.last_traffic + idle);
}

void FaultProxy::Loop::end(std::size_t slot, Ending how, std::string_view why) {
  auto& c = slots_[slot];
  if (!c.open) return;
  if (how == Ending::reset) {
    // Pass a reset on as a reset: linger 0 makes close() send RST instead of FIN.
    std::error_code ignored;
    if (c.client.fd) sys::set_option(c.client.fd.get(), sys::Linger{true, 0s}, ignored);
    if (c.server.fd) sys::set_option(c.server.fd.get(), sys::Linger{true, 0s}, ignored);
  }
  auto& counters = *proxy_.counters_;
  if (how == Ending::cut) counters.cut.fetch_add(1, std::memory_order_relaxed);
  if (how == Ending::reset) counters.reset.fetch_add(1, std::memory_order_relaxed);
  if (how == Ending::stalled) counters.stalled.fetch_add(1, std::memory_order_relaxed);
  if (how == Ending::idle) counters.idle.fetch_add(1, std::memory_order_relaxed);
  if (how == Ending::upstream_failed) {
    counters.upstream_failed.fetch_add(1, std::memory_order_relaxed);
  }
  counters.closed.fetch_add(1, std::memory_order_relaxed);
  if (config_.log) {
    config_.log(fmt::format("Closed {}: {} (up {} B, down {} B)", c.id, why, c.up->forwarded(),
                            c.down->forwarded()));
  }
  c.client.fd.reset();  // closing takes each fd out of the epoll set
  c.server.fd.reset();
  account(c.up->held() + c.down->held(), 0);
  c.up.reset();
  c.down.reset();
  c.open = false;
  c.wake.reset();
  c.waiting_for_budget = false;
  ++c.generation;
  free_slots_.push_back(slot);
  --open_count_;
  if (open_count_ == 0 && peak_since_trim_ >= kTrimAbove) {
    // The buffers of a burst (or an attack) that is over go back to the system: freed
    // memory would otherwise stay with the process, as glibc keeps what it has freed.
    sys::give_back_free_memory();
    peak_since_trim_ = 0;
  }
}

FaultProxy::FaultProxy(ProxyConfig config)
    : config_(std::move(config)), counters_(std::make_unique<Counters>()) {
  if (config_.upstream.empty()) throw std::invalid_argument("no server address to proxy to");
  if (config_.fraction < 0 || config_.fraction > 1) {
    throw std::invalid_argument("the faulted share must be between 0 and 1");
  }
  if (config_.buffer == 0) throw std::invalid_argument("the buffer must hold at least a byte");
  listener_ = net::StreamListener::bind(config_.listen, {.dual_stack = true});  // [::]: v4 too
  std::error_code ec;
  sys::set_nonblocking(listener_.native_handle(), true, ec);
  if (ec) sys::throw_error(ec, "fcntl O_NONBLOCK on " + listener_.local_address().to_string());
  loop_ = std::make_unique<Loop>(*this);
}

FaultProxy::~FaultProxy() = default;

void FaultProxy::run() {
  loop_->run();
}

void FaultProxy::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  stop_.ring();
}

ProxyStats FaultProxy::stats() const noexcept {
  const auto& c = *counters_;
  ProxyStats s;
  s.accepted = c.accepted.load(std::memory_order_relaxed);
  s.faulted = c.faulted.load(std::memory_order_relaxed);
  s.upstream_failed = c.upstream_failed.load(std::memory_order_relaxed);
  s.closed = c.closed.load(std::memory_order_relaxed);
  s.cut = c.cut.load(std::memory_order_relaxed);
  s.reset = c.reset.load(std::memory_order_relaxed);
  s.stalled = c.stalled.load(std::memory_order_relaxed);
  s.idle = c.idle.load(std::memory_order_relaxed);
  s.buffered = c.buffered.load(std::memory_order_relaxed);
  s.budget_pauses = c.budget_pauses.load(std::memory_order_relaxed);
  s.bytes_up = c.bytes_up.load(std::memory_order_relaxed);
  s.bytes_down = c.bytes_down.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sockkit::app
