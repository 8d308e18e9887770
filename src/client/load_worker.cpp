#include "load_worker.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "sockkit/codec/byte_order.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::client {
namespace {

using namespace std::chrono_literals;

constexpr auto kRetryDelay = 100ms;         // before reconnecting after an error
constexpr auto kHousekeepingEvery = 20ms;   // connect deadlines, retries
constexpr auto kHoldGrace = 10s;            // for the second round of hold probes
constexpr std::size_t kReadsPerEvent = 16;  // so one busy connection cannot starve the rest
constexpr std::size_t kReadBuffer = 256 * 1024;

bool is_loopback_v4(const net::Address& address) {
  return address.family() == net::Address::Family::ipv4 && address.host().starts_with("127.");
}

}  // namespace

LoadGenerator::Worker::Worker(const LoadConfig& config, std::size_t first, std::size_t count,
                              const std::atomic<bool>& stopping)
    : config_(config),
      stopping_(stopping),
      epoll_(sys::Epoll::create()),
      connections_(count),
      encoder_(config.frames),
      read_buffer_(kReadBuffer) {
  // Messages are cut from a fixed random pattern at a shifting offset, and start with their
  // sequence number, so a lost, repeated or reordered message changes the bytes.
  std::minstd_rand random(static_cast<unsigned>(first + 1));
  pattern_.resize(config.max_size + 4096);
  for (auto& b : pattern_) b = static_cast<std::byte>(random() & 0xFF);
  for (std::size_t i = 0; i < count; ++i) {
    connections_[i].id = first + i;
    connections_[i].sizes.seed(static_cast<unsigned>(first + i + 1));
  }
}

void LoadGenerator::Worker::run() {
  // The rate schedule is only as good as the wake-ups: ask for them on time, not batched
  // (a generator that idles more waits on the virtual machine's wake-ups, and measures
  // them), and do not spin either (docs/performance.md, C8).
  sys::set_timer_slack(1us);
  const bool connect_phase = config_.mode != LoadMode::connect;
  auto now = Clock::now();
  for (auto& c : connections_) start_connect(c, now);

  std::array<epoll_event, 256> events{};
  if (connect_phase) {
    // Every connection opens (or fails) before the clock starts, so the measured window
    // holds traffic, not handshakes.
    while (!stopping_.load(std::memory_order_relaxed)) {
      const bool pending =
          std::any_of(connections_.begin(), connections_.end(),
                      [](const Connection& c) { return c.state == State::connecting; });
      if (!pending) break;
      std::error_code ec;
      const auto ready = epoll_.wait(events, 10ms, ec);
      now = Clock::now();
      for (std::size_t i = 0; i < ready; ++i) {
        on_event(connections_[events[i].data.u64], events[i].events, now);
      }
      housekeeping(now);
    }
  }

  now = Clock::now();
  measure_from_ = now + config_.warmup;
  end_ = measure_from_ + config_.duration;
  next_housekeeping_ = now;
  next_due_ = now;
  if (config_.mode == LoadMode::rate) {
    const double share =
        static_cast<double>(connections_.size()) / static_cast<double>(config_.connections);
    interval_ = std::chrono::nanoseconds(
        static_cast<std::int64_t>(1e9 / std::max(config_.rate * share, 1e-9)));
  }
  for (auto& c : connections_) {
    if (c.state == State::open) on_connected(c, now);
  }

  while (!finished(now)) {
    std::error_code ec;
    const auto ready = epoll_.wait(events, wait_time(now), ec);
    if (ec) {
      first_error_ = first_error_.empty() ? "epoll_wait: " + ec.message() : first_error_;
      break;
    }
    now = Clock::now();
    for (std::size_t i = 0; i < ready; ++i) {
      on_event(connections_[events[i].data.u64], events[i].events, now);
    }
    if (config_.mode == LoadMode::rate) send_due_messages(now);
    if (config_.mode == LoadMode::hold && now >= end_ && !hold_probed_again_) send_hold_probes(now);
    if (now >= next_housekeeping_) housekeeping(now);
    progress_.store(counters_.messages, std::memory_order_relaxed);
    if (!cpu_started_ && measuring(now)) {
      cpu_started_ = true;
      cpu_ = sys::thread_cpu_time();
      machine_from_ = sys::machine_cpu();
    }
  }
  cpu_ = cpu_started_ ? sys::thread_cpu_time() - cpu_ : std::chrono::nanoseconds{};
  if (cpu_started_) machine_to_ = sys::machine_cpu();
  stopped_ = now;
  if (config_.mode == LoadMode::hold) {
    stopped_ = end_;  // the hold time is what was measured; the probes come after it
    for (const auto& c : connections_) counters_.held += c.probes_answered >= 2 ? 1 : 0;
  }
  for (const auto& c : connections_) counters_.unanswered += c.messages.size();
  for (auto& c : connections_) c.fd.reset();
}

bool LoadGenerator::Worker::finished(Clock::time_point now) const noexcept {
  if (stopping_.load(std::memory_order_relaxed)) return true;
  if (config_.mode != LoadMode::hold) return now >= end_;
  if (!hold_probed_again_) return false;
  const bool all_answered = std::none_of(connections_.begin(), connections_.end(),
                                         [](const Connection& c) { return !c.messages.empty(); });
  return all_answered || now >= end_ + kHoldGrace;
}

std::chrono::nanoseconds LoadGenerator::Worker::wait_time(Clock::time_point now) const noexcept {
  auto until = std::min(end_, next_housekeeping_);
  if (config_.mode == LoadMode::rate) until = std::min(until, next_due_);
  if (config_.mode == LoadMode::hold && hold_probed_again_) until = now + kHousekeepingEvery;
  return std::clamp<std::chrono::nanoseconds>(until - now, 0ns, 1s);
}

void LoadGenerator::Worker::start_connect(Connection& c, Clock::time_point now) {
  std::error_code ec;
  const auto& target = config_.target;
  c.fd = sys::open_socket(target.domain(), SOCK_STREAM | SOCK_NONBLOCK, 0, ec);
  if (!ec && is_loopback_v4(target)) {
    // Spread sources over 127.0.0.1-8: eight times the ephemeral ports before a run with
    // many or short-lived connections runs out (EADDRNOTAVAIL).
    const auto source = net::Address::ipv4(0x7F000001 + static_cast<std::uint32_t>(c.id % 8), 0);
    sys::set_option(c.fd.get(), sys::BindAddressNoPort{true}, ec);
    if (!ec) sys::bind(c.fd.get(), source.data(), source.size(), ec);
  }
  if (!ec) sys::connect(c.fd.get(), target.data(), target.size(), ec);
  c.connect_started = now;
  if (ec && ec != std::errc::operation_in_progress) {
    fail(c, Failure::connect, "connect " + target.to_string() + ": " + ec.message());
    return;
  }
  c.state = State::connecting;
  c.deadline = now + config_.connect_timeout;
  epoll_.add(c.fd.get(), EPOLLOUT, c.id - connections_.front().id, ec);
  if (ec) fail(c, Failure::other, "epoll_ctl: " + ec.message());
}

void LoadGenerator::Worker::on_connected(Connection& c, Clock::time_point now) {
  switch (config_.mode) {
    case LoadMode::pingpong:
    case LoadMode::hold: enqueue(c, now, now); break;
    case LoadMode::connect: enqueue(c, c.connect_started, now); break;  // connect + echo latency
    case LoadMode::stream:
      while (c.state == State::open && c.inflight.size() < config_.window) enqueue(c, now, now);
      break;
    case LoadMode::rate: break;  // the schedule sends
  }
}

void LoadGenerator::Worker::on_event(Connection& c, std::uint32_t events, Clock::time_point now) {
  if (c.state == State::connecting) {
    const auto ec = sys::pending_error(c.fd.get());
    if (ec) {
      fail(c, Failure::connect, "connect " + config_.target.to_string() + ": " + ec.message());
      return;
    }
    c.state = State::open;
    ++counters_.connects;
    std::error_code ignored;  // Nagle only costs latency; without NoDelay the run still works
    sys::set_option(c.fd.get(), sys::NoDelay{true}, ignored);
    c.writing = true;  // registered for EPOLLOUT while connecting: switch to EPOLLIN
    watch(c, false);
    // Before the clock starts (the connect phase), traffic waits for run() to begin it.
    if (config_.mode == LoadMode::connect || end_ != Clock::time_point{}) on_connected(c, now);
    return;
  }
  if (c.state != State::open) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
  if (c.state == State::open && (events & EPOLLOUT)) flush(c, now);
}

void LoadGenerator::Worker::on_readable(Connection& c, Clock::time_point now) {
  for (std::size_t reads = 0; reads < kReadsPerEvent && c.state == State::open; ++reads) {
    std::error_code ec;
    const auto n = sys::recv(c.fd.get(), read_buffer_, 0, ec);
    if (ec) {
      if (ec == std::errc::resource_unavailable_try_again) return;
      const bool reset = ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
      fail(c, reset ? Failure::reset : Failure::other,
           "recv on connection " + std::to_string(c.id) + ": " + ec.message());
      return;
    }
    if (n == 0) {
      fail(c, Failure::early_close,
           "the server closed connection " + std::to_string(c.id) + " owing " +
               std::to_string(c.inflight.size() - c.unsent) + " bytes of echo");
      return;
    }
    const auto expected = c.inflight.readable();
    const std::size_t written = expected.size() - c.unsent;
    if (n > written || std::memcmp(read_buffer_.data(), expected.data(), n) != 0) {
      on_mismatch(c, std::span(read_buffer_).first(n), expected.first(std::min(n, written)));
      return;
    }
    c.inflight.consume(n);
    c.received += n;
    if (measuring(now)) counters_.bytes_received += n;
    while (!c.messages.empty() && c.messages.front().end <= c.received) {
      const Message done = c.messages.front();
      c.messages.pop();
      on_message_done(c, done, now);
      if (c.state != State::open) return;
    }
    if (n < read_buffer_.size()) return;  // drained
  }
}

// Bytes that are not the echo: a framing error when the first wrong byte is in a frame's
// header (the server's framing is off, and every later byte would differ too), else a
// payload mismatch.
void LoadGenerator::Worker::on_mismatch(Connection& c, std::span<const std::byte> got,
                                        std::span<const std::byte> expected) {
  std::size_t first = 0;
  while (first < got.size() && first < expected.size() && got[first] == expected[first]) ++first;
  const std::uint64_t offset = c.received + first;
  bool in_header = false;
  if (config_.framed) {
    for (std::size_t i = 0; i < c.messages.size(); ++i) {
      const auto& m = c.messages.at(i);
      if (offset >= m.start && offset < m.end) {
        in_header = offset < m.start + config_.frames.header_bytes;
        break;
      }
    }
  }
  if (in_header) {
    fail(c, Failure::framing,
         "framing error on connection " + std::to_string(c.id) + " at byte " +
             std::to_string(offset) + ": the reply's frame header is not the one sent");
  } else {
    fail(c, Failure::mismatch,
         "echo mismatch on connection " + std::to_string(c.id) + " within bytes " +
             std::to_string(c.received) + "-" + std::to_string(c.received + got.size()));
  }
}

void LoadGenerator::Worker::on_message_done(Connection& c, const Message& m,
                                            Clock::time_point now) {
  if ((measuring(now) && now < end_) || config_.mode == LoadMode::hold) {
    ++counters_.messages;
    latency_.record(now - m.intended);
  }
  switch (config_.mode) {
    case LoadMode::pingpong: enqueue(c, now, now); break;
    case LoadMode::stream:
      while (c.state == State::open && c.inflight.size() < config_.window) enqueue(c, now, now);
      break;
    case LoadMode::connect:
      // One echo per connection: close and go again at once.
      c.fd.reset();
      c.state = State::idle;
      c.inflight.clear();
      c.unsent = 0;
      c.messages.clear();
      if (now < end_) start_connect(c, now);
      break;
    case LoadMode::hold: ++c.probes_answered; break;
    case LoadMode::rate: break;
  }
}

void LoadGenerator::Worker::enqueue(Connection& c, Clock::time_point intended,
                                    Clock::time_point now) {
  const auto span = config_.max_size - config_.min_size;
  const std::size_t size = config_.min_size + (span == 0 ? 0 : c.sizes() % (span + 1));
  std::size_t total = size;
  if (config_.framed) {
    std::error_code ec;  // sizes were checked against the frame format up front
    const auto header = encoder_.header(size, ec);
    c.inflight.append(header);
    total += header.size();
  }
  std::array<std::byte, 8> sequence{};
  codec::store_be64(sequence, c.sequence);
  const auto head = std::min<std::size_t>(sequence.size(), size);
  c.inflight.append(std::span(sequence).first(head));
  c.inflight.append(std::span(pattern_).subspan((c.sequence * 61) % 4096, size - head));
  c.unsent += total;
  c.enqueued += total;
  c.messages.push({c.enqueued - total, c.enqueued, intended});
  ++c.sequence;
  flush(c, now);
}

void LoadGenerator::Worker::flush(Connection& c, Clock::time_point now) {
  while (c.unsent > 0) {
    std::error_code ec;
    const auto sent = sys::send(c.fd.get(), c.inflight.readable().last(c.unsent), 0, ec);
    if (ec && ec == std::errc::resource_unavailable_try_again) {
      watch(c, true);
      return;
    }
    if (ec) {
      const bool reset = ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
      fail(c, reset ? Failure::reset : Failure::other,
           "send on connection " + std::to_string(c.id) + ": " + ec.message());
      return;
    }
    c.unsent -= sent;
    if (measuring(now)) counters_.bytes_sent += sent;
  }
  watch(c, false);
}

void LoadGenerator::Worker::watch(Connection& c, bool want_write) {
  if (c.writing == want_write) return;
  std::error_code ec;
  epoll_.modify(c.fd.get(), EPOLLIN | (want_write ? EPOLLOUT : 0u), c.id - connections_.front().id,
                ec);
  c.writing = want_write;
  if (ec) fail(c, Failure::other, "epoll_ctl: " + ec.message());
}

void LoadGenerator::Worker::fail(Connection& c, Failure kind, const std::string& what) {
  switch (kind) {
    case Failure::connect: ++counters_.connect_errors; break;
    case Failure::reset: ++counters_.resets; break;
    case Failure::early_close: ++counters_.early_closes; break;
    case Failure::mismatch: ++counters_.mismatches; break;
    case Failure::framing: ++counters_.framing_errors; break;
    case Failure::other: ++counters_.other_errors; break;
  }
  if (first_error_.empty()) first_error_ = what;
  c.fd.reset();
  c.state = State::idle;
  c.writing = false;
  c.inflight.clear();
  c.unsent = 0;
  c.messages.clear();
  // The next connection's stream starts at offset 0 again: bytes sent here and never
  // echoed must not push its messages' ends past what it will echo.
  c.enqueued = 0;
  c.received = 0;
  c.probes_answered = 0;
  c.deadline = Clock::now() + kRetryDelay;  // then housekeeping connects it again
}

void LoadGenerator::Worker::housekeeping(Clock::time_point now) {
  next_housekeeping_ = now + kHousekeepingEvery;
  const bool may_reconnect = end_ == Clock::time_point{} || now < end_;
  for (auto& c : connections_) {
    if (c.state == State::connecting && now >= c.deadline) {
      fail(c, Failure::connect,
           "connect " + config_.target.to_string() + ": timed out after " +
               std::to_string(config_.connect_timeout.count()) + " ms");
    } else if (c.state == State::idle && may_reconnect && now >= c.deadline) {
      start_connect(c, now);
    }
  }
}

void LoadGenerator::Worker::send_due_messages(Clock::time_point now) {
  // Open loop: every message due by now is sent now, however late the schedule is running.
  // Its latency still counts from when it was due (wrk2's correction for coordinated
  // omission).
  while (next_due_ <= now && next_due_ < end_) {
    Connection* target = nullptr;
    for (std::size_t tries = 0; tries < connections_.size() && target == nullptr; ++tries) {
      auto& c = connections_[next_connection_++ % connections_.size()];
      if (c.state == State::open) target = &c;
    }
    if (target == nullptr || target->messages.size() >= config_.max_in_flight) {
      if (measuring(now)) ++counters_.overflows;
    } else {
      enqueue(*target, next_due_, now);
    }
    next_due_ += interval_;
  }
}

void LoadGenerator::Worker::send_hold_probes(Clock::time_point now) {
  hold_probed_again_ = true;
  for (auto& c : connections_) {
    if (c.state == State::open) enqueue(c, now, now);
  }
}

}  // namespace sockkit::client
