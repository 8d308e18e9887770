// libFuzzer harness for the connection state machine (docs/robustness.md, B7): the Session every
// engine drives, run through a fake transport with no kernel. The input picks a protocol
// and limits, then scripts events one after another — the peer sends bytes, a read of k
// bytes (a short read), EAGAIN, EINTR, a write that takes k bytes (a short write), a reset,
// end of stream, the clock moving on (timers fire), a stop with a drain, allocation
// failure during a read, and other connections taking or giving back the engine's buffer
// budget. After every event the harness checks:
//   - what the server wrote is a prefix of what the peer sent (echo and framed echo answer
//     byte for byte; discard answers nothing), whatever the schedule;
//   - the bytes it holds stay within the high-water mark plus one read;
//   - a closed connection is never read, written or asked again (the script goes on, the
//     harness refuses), and one that reached end of stream with nothing owed is closing;
//   - an allocation failure closes the connection with `error`, and nothing else breaks;
//   - with the budget spent, a connection that owes replies is not read, and one that owes
//     none reads at most a trickle; at the end every byte it charged is given back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "session.hpp"

namespace {

// Allocation failure on demand: while `failures_armed` is above zero, each operator new
// takes one off and throws.
int failures_armed = 0;

void* allocate(std::size_t size) {
  if (failures_armed > 0) {
    --failures_armed;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "connection_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

using namespace std::chrono_literals;
using sockkit::proto::CloseReason;
using sockkit::proto::ProtocolKind;
using sockkit::server::ServerConfig;
using sockkit::server::detail::BudgetShare;
using sockkit::server::detail::BufferBudget;
using sockkit::server::detail::Clock;
using sockkit::server::detail::Session;

constexpr std::size_t kMaxRead = 64 * 1024;  // what one engine read takes at most
constexpr std::size_t kMaxPeerBytes = 1 << 20;

enum class Event : std::uint8_t {
  peer_sends,
  read,
  read_eagain,
  read_eintr,
  write,
  write_eagain,
  reset,
  end_of_stream,
  tick,
  stop,
  read_without_memory,
  others_charge,   // other connections' buffers grow...
  others_release,  // ...and shrink
  count
};

}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
// libFuzzer's own allocations use these; they must come from the same place as ours.
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  ServerConfig config;
  const auto protocol = input.ConsumeIntegralInRange<int>(0, 2);
  config.protocol = protocol == 0   ? ProtocolKind::echo
                    : protocol == 1 ? ProtocolKind::framed_echo
                                    : ProtocolKind::discard;
  config.frames.max_frame = 4096;
  config.high_water_mark = input.ConsumeIntegralInRange<std::size_t>(1, 64 * 1024);
  config.idle_timeout = std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(1, 2000));
  config.send_timeout = std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(1, 2000));
  config.frame_timeout = std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(1, 2000));

  const auto limit =
      input.ConsumeBool() ? 0 : input.ConsumeIntegralInRange<std::size_t>(1, 1 << 18);
  BufferBudget budget(limit);
  BudgetShare share(budget, input.ConsumeBool() ? 0 : 64 * 1024);
  std::size_t others = 0;  // what the other connections took of the budget
  auto now = Clock::time_point{} + 1h;
  auto held = std::make_unique<Session>(config, share, now);
  Session& session = *held;
  std::vector<std::byte> sent;     // everything the peer sent
  std::size_t delivered = 0;       // of which the server has read this much
  std::vector<std::byte> written;  // everything the server wrote
  bool closed = false;
  bool peer_finished = false;  // the peer sent its FIN
  bool eof_seen = false;       // the server has read it
  bool draining = false;
  auto drain_deadline = now;

  const auto close_if_due = [&] {
    if (const auto reason = session.due(now, draining, drain_deadline)) {
      session.on_close(*reason);
      closed = true;
    }
  };
  const auto read = [&](std::size_t wanted) {
    const bool owed = session.wants_write();
    if (!session.wants_read()) return;
    check(!(owed && budget.exhausted()), "read while owing replies with the budget spent");
    const auto allowed = session.begin_read(std::min(wanted, kMaxRead));
    if (allowed == 0) {
      check(!session.wants_read(), "a read refused for the budget, yet it wants to read");
      return;
    }
    const auto n = std::min(allowed, sent.size() - delivered);
    if (n == 0) {
      session.end_read();
      if (peer_finished && !eof_seen) {  // read() returns 0
        eof_seen = true;
        session.on_end_of_stream();
      }
      return;
    }
    session.on_input(std::span(sent).subspan(delivered, n), now);
    session.end_read();
    delivered += n;
    // The limit holds exactly, but for the one trickle a client owing nothing may read.
    if (limit != 0) {
      check(budget.used() + others <= limit + Session::kTrickleRead, "went past the budget");
    }
  };

  while (input.remaining_bytes() > 0 && !closed) {
    const auto event = static_cast<Event>(
        input.ConsumeIntegralInRange<int>(0, static_cast<int>(Event::count) - 1));
    switch (event) {
      case Event::peer_sends: {
        if (peer_finished) break;
        const auto bytes =
            input.ConsumeBytes<std::byte>(input.ConsumeIntegralInRange<std::size_t>(0, 8192));
        if (sent.size() + bytes.size() <= kMaxPeerBytes)
          sent.insert(sent.end(), bytes.begin(), bytes.end());
        break;
      }
      case Event::read: read(input.ConsumeIntegralInRange<std::size_t>(1, kMaxRead)); break;
      case Event::read_eagain:
      case Event::read_eintr:
        break;  // nothing arrives; the engine tries again on the next readiness
      case Event::write: {
        if (!session.wants_write()) break;
        const auto pending = session.pending_output();
        const auto n =
            std::min(pending.size(), input.ConsumeIntegralInRange<std::size_t>(1, kMaxRead));
        written.insert(written.end(), pending.begin(),
                       pending.begin() + static_cast<std::ptrdiff_t>(n));
        session.on_sent(n, now);
        break;
      }
      case Event::write_eagain:
        if (session.wants_write()) session.on_sent(0, now);
        break;
      case Event::reset:
        session.on_close(CloseReason::peer_reset);
        closed = true;
        break;
      case Event::end_of_stream: peer_finished = true; break;
      case Event::tick:
        now += std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(0, 3000));
        break;
      case Event::stop:
        if (!draining) {
          draining = true;
          drain_deadline =
              now + std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(0, 3000));
        }
        break;
      case Event::read_without_memory: {
        const bool reading = session.wants_read() && delivered < sent.size();
        failures_armed = input.ConsumeIntegralInRange<int>(1, 3);
        read(input.ConsumeIntegralInRange<std::size_t>(1, kMaxRead));
        const bool failed = failures_armed == 0;  // an allocation was tried, and refused
        failures_armed = 0;
        if (reading && failed) {
          check(!session.wants_write(), "a failed allocation left replies to send");
          const auto reason = session.due(now, draining, drain_deadline);
          check(reason == CloseReason::error, "a failed allocation did not end the connection");
        }
        break;
      }
      case Event::others_charge: {
        const auto bytes = input.ConsumeIntegralInRange<std::size_t>(0, 1 << 18);
        others += budget.take(bytes);
        break;
      }
      case Event::others_release: {
        const auto bytes = input.ConsumeIntegralInRange<std::size_t>(0, others);
        budget.put_back(bytes);
        others -= bytes;
        break;
      }
      case Event::count: break;
    }
    if (closed) break;
    check(session.queued() <= config.high_water_mark + kMaxRead,
          "more held than the high-water mark and one read");
    check(written.size() <= delivered, "wrote more than was read");
    if (config.protocol == ProtocolKind::discard) check(written.empty(), "discard answered");
    check(std::equal(written.begin(), written.end(), sent.begin()),
          "the reply is not the bytes the peer sent");
    const bool owes = session.wants_write();
    close_if_due();
    if (!closed && eof_seen && !owes) check(false, "end of stream with nothing owed left it open");
  }
  held.reset();
  share.put_back_spare();
  check(budget.used() == 0, "a connection kept its storage counted after it ended");
  check(limit == 0 || budget.left() == limit - others, "a connection kept some budget taken");
  return 0;
}
