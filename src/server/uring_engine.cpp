#include "uring_engine.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>

#include "blocking_session.hpp"
#include "session.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/event_fd.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

constexpr unsigned kCompletionDepth = 16384;  // the kernel keeps overflow, but room is cheaper
constexpr unsigned kFirstBuffers = 16;        // receive buffers provided at first (then doubled)
constexpr int kBufferGroup = 0;
// The most one multishot receive may bring before it ends and is armed again (re-checking
// the high-water mark and the budget): 1,024 messages of 64 B in a ping-pong, so the
// re-arm costs nothing measurable, while what it sets aside stays small beside the budget.
constexpr std::size_t kMultishotBytes = 64 * 1024;
constexpr std::size_t kSpareBudget = 128 * 1024;  // two receives' worth (BudgetShare)

// An in-flight operation's user_data: what it is, which slot, which generation of the slot.
// A completion whose generation is old belongs to a connection already closed.
enum class Op : std::uint64_t {
  accept = 1,
  recv = 2,
  send = 3,
  stop_poll = 4,
  cancel = 5,  // cancellations and linked timeouts: nothing to do on completion
  shed = 6,    // out of descriptors: accept a waiting client only to close it
  tick = 7,    // the timer that checks every connection's deadlines
  turn = 8,    // this loop's turn to accept again (AcceptBalance's doorbell)
};
constexpr unsigned kOpBits = 4;

std::uint64_t user_data(Op op, std::size_t slot = 0, std::uint32_t generation = 0) {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{slot} << kOpBits) |
         static_cast<std::uint64_t>(op);
}
Op op_of(std::uint64_t data) {
  return static_cast<Op>(data & ((1u << kOpBits) - 1));
}
std::size_t slot_of(std::uint64_t data) {
  return static_cast<std::size_t>((data & 0xFFFFFFFF) >> kOpBits);
}
std::uint32_t generation_of(std::uint64_t data) {
  return static_cast<std::uint32_t>(data >> 32);
}

std::error_code refusal(int result) {
  return {-result, std::system_category()};
}

}  // namespace

/// One ring and its connections. Created and run on its own thread (the ring is set up
/// there, so SINGLE_ISSUER holds). Loop thread only, except `counters()`.
class UringEngine::Loop final : public EventLoop {
 public:
  Loop(UringEngine& engine, std::size_t index)
      : engine_(engine),
        index_(index),
        sizes_(engine.config_.uring),
        multishot_(sizes_.multishot_receive) {}
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void run() override;

 private:
  struct Connection {
    sys::Fd fd;
    std::unique_ptr<Session> session;
    std::uint32_t generation = 0;
    bool open = false;
    bool recv_armed = false;       // a receive is in the kernel (never more than one)
    bool recv_cancelling = false;  // ...and a cancel for it is on its way
    bool send_in_flight = false;
    bool drained = false;             // the last receive left the socket empty (the kernel said so)
    bool waiting_for_buffer = false;  // in `waiting_`: its receive found none
  };

  void set_up();
  io_uring_sqe* sqe();
  /// Arms the accept unless it is armed, paused, draining, or the other loops are to take
  /// the next clients (AcceptBalance).
  void arm_accept_if_due();
  void arm_accept();
  void arm_recv(std::size_t slot);
  /// Takes on an accepted client, or closes it (over the limit, no memory).
  void adopt(sys::Fd fd, Clock::time_point now);
  void on_completion(const io_uring_cqe& cqe, Clock::time_point now);
  void on_accept(int result, bool more, Clock::time_point now);
  void on_recv(std::size_t slot, const io_uring_cqe& cqe, Clock::time_point now);
  void on_send(std::size_t slot, int result, Clock::time_point now);
  void pump(std::size_t slot);
  void recycle(unsigned buffer_id);
  void rearm_waiting();
  bool provide_more_buffers();
  [[nodiscard]] std::byte* buffer(unsigned id) const noexcept {
    return buffers_.get() + std::size_t{id} * sizes_.buffer_size;
  }
  void close(std::size_t slot, proto::CloseReason reason);
  void tick(Clock::time_point now);
  void arm_tick();
  void watch_doorbell();
  void shed_one();

  UringEngine& engine_;
  std::size_t index_;                                  // among the engine's loops
  BudgetShare budget_{engine_.budget_, kSpareBudget};  // before the sessions, which use it
  const ServerConfig::UringSizes& sizes_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::size_t buffer_ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  unsigned provided_ = 0;    // buffers given to the ring so far: ids 0 .. provided_ - 1
  bool multishot_;           // cleared if the kernel cannot limit a multishot receive
  std::uint64_t round_ = 0;  // completions reaped so far, in rounds (one per wait)
  std::uint64_t grown_in_round_ = ~std::uint64_t{0};  // when more buffers were provided last
  // Connections whose receive found no buffer, oldest first, as (slot, generation): at the
  // end of a round, as many of them receive again as there are buffers.
  std::deque<std::pair<std::size_t, std::uint32_t>> waiting_;
  SlotTable<Connection> slots_;
  std::size_t open_count_ = 0;
  std::size_t receiving_ = 0;  // open connections with a receive armed
  bool accept_armed_ = false;
  std::optional<Clock::time_point> accept_again_at_;
  bool draining_ = false;
  sys::SpareFd spare_;
  bool shedding_ = false;
  __kernel_timespec shed_wait_{0, 1'000'000};  // a shed accept gives up after 1 ms
  __kernel_timespec tick_every_{0, std::chrono::nanoseconds(kDeadlineTick).count()};
};

// The spare descriptor is released; accept one waiting client and close it. The accept is
// linked to a 1 ms timeout, so an empty backlog ends the shedding instead of catching the
// next client to arrive, who may well find room by then.
void UringEngine::Loop::shed_one() {
  auto* accept = sqe();
  io_uring_prep_accept(accept, engine_.listener_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(accept, user_data(Op::shed));
  accept->flags |= IOSQE_IO_LINK;
  auto* timeout = sqe();
  io_uring_prep_link_timeout(timeout, &shed_wait_, 0);
  io_uring_sqe_set_data64(timeout, user_data(Op::cancel));
  io_uring_submit(&ring_);  // the timespec must be read while it is still ours to lend
}

UringEngine::Loop::~Loop() {
  // The ring goes first: the kernel must be done with the buffers before they are freed.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, buffer_ring_bytes_);
}

void UringEngine::Loop::set_up() {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = std::max(kCompletionDepth, 2 * sizes_.queue_depth);
  int result = io_uring_queue_init_params(sizes_.queue_depth, &ring_, &params);
  if (result == -EINVAL) {  // an older kernel: without the single-issuer optimisations
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = std::max(kCompletionDepth, 2 * sizes_.queue_depth);
    result = io_uring_queue_init_params(sizes_.queue_depth, &ring_, &params);
  }
  if (result < 0) sys::throw_error(refusal(result), "io_uring_setup");
  ring_ready_ = true;

  buffer_ring_bytes_ = sizes_.buffer_count * sizeof(io_uring_buf);
  void* memory = ::mmap(nullptr, buffer_ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) sys::throw_error(sys::last_error(), "mmap buffer ring");
  buffer_ring_ = static_cast<io_uring_buf_ring*>(memory);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring_);
  registration.ring_entries = sizes_.buffer_count;
  registration.bgid = kBufferGroup;
  result = io_uring_register_buf_ring(&ring_, &registration, 0);
  if (result < 0) sys::throw_error(refusal(result), "io_uring_register_buf_ring");
  // Untouched until used: the pages of buffers never provided cost nothing.
  buffers_ = std::make_unique_for_overwrite<std::byte[]>(std::size_t{sizes_.buffer_count} *
                                                         sizes_.buffer_size);
  io_uring_buf_ring_init(buffer_ring_);
  provide_more_buffers();
}

// The ring hands out buffers in the order they were given back, so every buffer provided
// is cycled through. Providing few at first and more only when receives run out keeps the
// set in use as small as the load needs: a bulk transfer on a few connections reuses a few
// buffers that stay in the CPU cache instead of streaming through all of them (measured:
// the kernel's copy into cold buffers was 40% of the engine's time in a 64 KiB stream).
bool UringEngine::Loop::provide_more_buffers() {
  if (provided_ == sizes_.buffer_count) return false;
  const unsigned more =
      std::min(sizes_.buffer_count - provided_, std::max(provided_, kFirstBuffers));
  for (unsigned i = 0; i < more; ++i) {
    const unsigned id = provided_ + i;
    io_uring_buf_ring_add(buffer_ring_, buffer(id), sizes_.buffer_size,
                          static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(sizes_.buffer_count), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(more));
  provided_ += more;
  return true;
}

io_uring_sqe* UringEngine::Loop::sqe() {
  io_uring_sqe* entry = io_uring_get_sqe(&ring_);
  while (entry == nullptr) {  // the submission queue is full: hand it to the kernel first
    io_uring_submit(&ring_);
    entry = io_uring_get_sqe(&ring_);
  }
  return entry;
}

void UringEngine::Loop::arm_accept_if_due() {
  if (accept_armed_) return;
  if (accept_again_at_ || draining_) return engine_.accept_balance_.pass(index_);
  if (engine_.accept_balance_.take_turn(index_)) arm_accept();
}

void UringEngine::Loop::arm_accept() {
  // No SOCK_NONBLOCK: io_uring would then answer EAGAIN instead of waiting for data.
  // With several loops on one listener, one accept at a time, and AcceptBalance decides
  // after each whether to arm the next: a multishot accept on one ring took every client
  // (measured: 200 clients, all on one of two loops), and single accepts alone still let
  // one ring take all 200 in 9 of 60 runs.
  auto* entry = sqe();
  if (engine_.loops_.size() > 1) {
    io_uring_prep_accept(entry, engine_.listener_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_multishot_accept(entry, engine_.listener_.native_handle(), nullptr, nullptr,
                                   SOCK_CLOEXEC);
  }
  io_uring_sqe_set_data64(entry, user_data(Op::accept));
  accept_armed_ = true;
}

// One receive armed at a time per connection, into provided buffers: a multishot receive
// that ends after a byte limit (Linux 6.17+), or on older kernels a single receive. Not a
// multishot receive without a limit: the kernel reads ahead (dozens of completions per
// connection per io_uring_enter) past the high-water mark before a cancel lands; with 200
// clients that never read, that measured 178-250 MB where a limit keeps to the bound.
void UringEngine::Loop::arm_recv(std::size_t slot) {
  auto& c = slots_[slot];
  // Every client's receive waits in the kernel at once, each having set aside from the
  // budget what the reply storage may grow by as its bytes come (Session::begin_read), so
  // none of them can take the budget past its limit. Each takes only its share of what is
  // left, split among the receives in flight, this one included, and the loops, so the
  // first clients to arm do not set all of it aside: each loop's receives together take
  // at most their loop's part, and a client held back for the budget leaves more to the
  // others. A multishot receive's bytes come in pieces, each of which may grow the storage
  // (to twice what it holds): that is the most it sets aside, twice its share.
  const auto sharers = engine_.loops_.size() * (receiving_ + 1);
  const auto share = std::max(engine_.budget_.left() / sharers, Session::kTrickleRead);
  // A multishot receive brings at most `limit` in all, then ends. A single receive's
  // length below the buffer's caps what the kernel puts in it.
  const auto want = multishot_ ? std::min({c.session->read_room(), share, kMultishotBytes})
                               : std::min(std::size_t{sizes_.buffer_size}, share);
  const auto limit = c.session->begin_read(
      want, multishot_ ? Session::Arrival::in_pieces : Session::Arrival::at_once, 2 * share);
  if (limit == 0) return;  // no room for replies: read again once some have gone (on_send)
  auto* entry = sqe();
  if (multishot_) {
    io_uring_prep_recv_multishot(
        entry, c.fd.get(), nullptr,
        static_cast<unsigned>(std::min<std::size_t>(sizes_.buffer_size, limit)), 0);
    // The kernel reads the limit from `optlen`, which Debian's liburing 2.3 headers do not
    // name yet: it is the same field as `file_index`.
    entry->file_index = static_cast<std::uint32_t>(limit);
  } else {
    io_uring_prep_recv(entry, c.fd.get(), nullptr, static_cast<unsigned>(limit), 0);
  }
  // After a receive that emptied the socket, wait for data before trying (a try would take
  // a buffer, find nothing, give it back and then wait): in a ping-pong, that is every time.
  if (c.drained) entry->ioprio |= IORING_RECVSEND_POLL_FIRST;
  entry->flags |= IOSQE_BUFFER_SELECT;
  entry->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(entry, user_data(Op::recv, slot, c.generation));
  c.recv_armed = true;
  ++receiving_;
}

void UringEngine::Loop::recycle(unsigned buffer_id) {
  io_uring_buf_ring_add(buffer_ring_, buffer(buffer_id), sizes_.buffer_size,
                        static_cast<unsigned short>(buffer_id),
                        io_uring_buf_ring_mask(sizes_.buffer_count), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void UringEngine::Loop::run() {
  auto& set_up_count = engine_.rings_set_up_;
  try {
    set_up();
  } catch (...) {
    engine_.ring_failed_ = true;
    set_up_count.fetch_add(1);
    set_up_count.notify_all();
    throw;
  }
  // Each ring's accept is armed before any loop goes on, so the first clients find every
  // loop taking them (AcceptBalance), not the one whose thread ran first.
  arm_accept_if_due();
  io_uring_submit(&ring_);
  set_up_count.fetch_add(1);
  set_up_count.notify_all();
  for (auto n = set_up_count.load(); n < engine_.loops_.size(); n = set_up_count.load()) {
    set_up_count.wait(n);
  }
  if (engine_.ring_failed_) return;  // another loop's error is the one run() reports
  auto* watch_stop = sqe();
  io_uring_prep_poll_add(watch_stop, engine_.stop_.fd(), POLLIN);
  io_uring_sqe_set_data64(watch_stop, user_data(Op::stop_poll));

  arm_tick();
  watch_doorbell();

  while (!(draining_ && open_count_ == 0)) {
    // No timeout on the wait itself: with DEFER_TASKRUN, a wait given a timeout held
    // completions back for up to 190 ms (measured: open-loop p99 174 ms at 90k msg/s over
    // 100 connections; 0.2-0.8 ms with the tick as an operation of its own, as here).
    const int waited = io_uring_submit_and_wait(&ring_, 1);
    if (waited < 0 && waited != -ETIME && waited != -EINTR) {
      sys::throw_error(refusal(waited), "io_uring_submit_and_wait");
    }
    const auto now = Clock::now();
    ++round_;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_completion(*cqe, now);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    rearm_waiting();
  }
}

// Out of buffers, a receive that is armed again at once finds none again (measured with
// 2 buffers and 50 clients: 950,000 such completions a second, for 37,000 filled buffers).
// The connections waiting try again once a round, in the order they ran out, no more of
// them than there are buffers: the rest could not get one anyway.
void UringEngine::Loop::rearm_waiting() {
  for (unsigned tries = 0; tries < provided_ && !waiting_.empty();) {
    const auto [slot, generation] = waiting_.front();
    waiting_.pop_front();
    auto& c = slots_[slot];
    if (!c.open || c.generation != generation || !c.waiting_for_buffer) continue;  // closed
    c.waiting_for_buffer = false;
    if (c.session->wants_read() && !c.recv_armed) {
      arm_recv(slot);
      ++tries;
    }
  }
}

// Multishot: a completion each time the doorbell rings (cleared then), until it ends.
void UringEngine::Loop::watch_doorbell() {
  auto* entry = sqe();
  io_uring_prep_poll_multishot(entry, engine_.accept_balance_.doorbell(index_), POLLIN);
  io_uring_sqe_set_data64(entry, user_data(Op::turn));
}

// Deadlines are checked by a timeout operation that fires every kDeadlineTick and is armed again.
void UringEngine::Loop::arm_tick() {
  auto* entry = sqe();
  io_uring_prep_timeout(entry, &tick_every_, 0, 0);
  io_uring_sqe_set_data64(entry, user_data(Op::tick));
}

void UringEngine::Loop::on_completion(const io_uring_cqe& cqe, Clock::time_point now) {
  const auto data = cqe.user_data;
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  switch (op_of(data)) {
    case Op::accept: return on_accept(cqe.res, more, now);
    case Op::stop_poll:
      draining_ = true;
      tick(now);  // close the idle ones at once
      return;
    case Op::recv: {
      const auto slot = slot_of(data);
      const bool current = slot < slots_.size() && slots_[slot].open &&
                           slots_[slot].generation == generation_of(data);
      if (!current) {  // a closed connection's last word: give its buffer back
        if (cqe.flags & IORING_CQE_F_BUFFER) recycle(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
        return;
      }
      return on_recv(slot, cqe, now);
    }
    case Op::send: {
      const auto slot = slot_of(data);
      if (slot < slots_.size() && slots_[slot].open &&
          slots_[slot].generation == generation_of(data)) {
        on_send(slot, cqe.res, now);
      }
      return;
    }
    case Op::cancel: return;
    case Op::tick:
      tick(now);
      arm_tick();
      return;
    case Op::turn:
      engine_.accept_balance_.clear_doorbell(index_);
      arm_accept_if_due();
      if (!more && !draining_) watch_doorbell();
      return;
    case Op::shed:
      if (cqe.res >= 0) {
        sys::Fd(cqe.res).reset();  // closed: the client sees EOF at once
        shed_one();                // and the next one waiting, if any
      } else {
        spare_.refill();  // the backlog is empty (or the timeout fired): done
        shedding_ = false;
      }
      return;
  }
}

void UringEngine::Loop::on_accept(int result, bool more, Clock::time_point now) {
  if (!more) accept_armed_ = false;  // it ended (a single accept always does): armed again below
  if (result < 0) {
    const std::error_code ec = refusal(result);
    if (is_resource_exhaustion(ec)) {
      engine_.log_.say("accept on " + engine_.listener_.local_address().to_string() + ": " +
                       ec.message() + "; closing new clients until descriptors free up");
      accept_again_at_ = now + kAcceptPause;
      if (!shedding_) {
        shedding_ = true;
        spare_.release();
        shed_one();
      }
    } else if (!draining_ && !is_transient_accept_error(ec) &&
               ec != std::errc::operation_canceled && ec != std::errc::invalid_argument) {
      engine_.log_.say("accept on " + engine_.listener_.local_address().to_string() + ": " +
                       ec.message());
      accept_again_at_ = now + kAcceptPause;
    }
  } else {
    sys::Fd fd(result);
    if (!draining_) adopt(std::move(fd), now);  // (while draining, it just closes)
  }
  arm_accept_if_due();
}

void UringEngine::Loop::adopt(sys::Fd fd, Clock::time_point now) {
  const auto slot = engine_.admit(fd, slots_, budget_, counters_, now);
  if (!slot) return;  // fd closes here: the client sees EOF, the others go on
  auto& c = slots_[*slot];
  // A reused slot: its last client's operations may still have been in flight (their
  // completions are stale now).
  c.recv_armed = false;
  c.recv_cancelling = false;
  c.send_in_flight = false;
  c.drained = false;  // the client may have sent already
  c.waiting_for_buffer = false;
  ++open_count_;
  engine_.accept_balance_.set_open(index_, open_count_);
  arm_recv(*slot);
}

void UringEngine::Loop::on_recv(std::size_t slot, const io_uring_cqe& cqe, Clock::time_point now) {
  auto& c = slots_[slot];
  const bool ended = (cqe.flags & IORING_CQE_F_MORE) == 0;
  if (ended) {
    c.recv_armed = c.recv_cancelling = false;
    --receiving_;
  }
  // What an ended receive set aside for the reply storage and did not use goes back (after
  // the bytes it brought last are queued).
  const auto end_read = [&] {
    if (ended) c.session->end_read();
  };
  if (cqe.res == -EINVAL && multishot_) {
    // A kernel before 6.17 refuses a receive with a byte limit (6.0-6.16 check that the
    // field is 0; before 6.0 there is no multishot receive at all): receive once per request.
    multishot_ = false;
    engine_.log_.say(
        "io_uring: this kernel cannot limit a multishot receive (Linux 6.17+ can); "
        "using single receives");
    end_read();
    return pump(slot);
  }
  if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER)) {
    const unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    const auto n = static_cast<std::size_t>(cqe.res);
    c.drained = (cqe.flags & IORING_CQE_F_SOCK_NONEMPTY) == 0;
    counters_.bytes_in(n);
    c.session->on_input(std::span(buffer(id), n), now);
    recycle(id);
  } else if (cqe.res == 0) {
    c.session->on_end_of_stream();
  } else if (cqe.res == -ENOBUFS) {
    // Every provided buffer was in use: provide more if there are more (once a round: the
    // other receives that ran out in the same round find the ones just added; growing for
    // each of them went from 16 to the most in one round, with 100 clients). The receive
    // waits for the end of the round to be armed again (rearm_waiting).
    c.drained = false;  // data is waiting for a buffer
    if (grown_in_round_ != round_) {
      if (provide_more_buffers()) {
        grown_in_round_ = round_;
      } else {
        engine_.log_.say("all " + std::to_string(sizes_.buffer_count) +
                         " io_uring receive buffers were in use at once; receives wait for one");
      }
    }
    c.waiting_for_buffer = true;
    waiting_.emplace_back(slot, c.generation);
    counters_.buffer_wait();
  } else if (cqe.res < 0 && cqe.res != -ECANCELED) {
    return close(slot, reason_for(refusal(cqe.res)));
  }
  end_read();
  pump(slot);
}

void UringEngine::Loop::on_send(std::size_t slot, int result, Clock::time_point now) {
  auto& c = slots_[slot];
  c.send_in_flight = false;
  c.session->output_returned();
  if (result < 0) return close(slot, reason_for(refusal(result)));
  counters_.bytes_out(static_cast<std::size_t>(result));
  c.session->on_sent(static_cast<std::size_t>(result), now);  // a short send: the rest next
  pump(slot);
}

// After anything happened to a connection: close it if it has ended, send what is owed, and
// keep the receive armed exactly while the session wants to read.
void UringEngine::Loop::pump(std::size_t slot) {
  auto& c = slots_[slot];
  if (const auto reason = c.session->finished()) return close(slot, *reason);
  if (c.session->wants_write() && !c.send_in_flight) {
    // The kernel sends from the session's own output, lent until the send completes: it
    // stays put while replies are added (copying it out for the send was 15% of the CPU at
    // 4 KiB messages, and up to a second high-water mark of memory per client).
    const auto pending = c.session->pending_output();
    c.session->lend_output();
    auto* entry = sqe();
    io_uring_prep_send(entry, c.fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(entry, user_data(Op::send, slot, c.generation));
    c.send_in_flight = true;
  }
  // The receive stays "armed" until its own completion comes, even once a cancel is on its
  // way: arming another meanwhile would put two receives on one socket (and, when the
  // cancelled one's completion came, a third), each taking a buffer when data came —
  // found as receive buffers running out with fewer connections than buffers (X5).
  if (c.session->wants_read() && !c.recv_armed && !c.waiting_for_buffer) {
    arm_recv(slot);
  } else if (!c.session->wants_read() && c.recv_armed && !c.recv_cancelling) {
    // Above the high-water mark (or ending): stop taking this client's bytes.
    auto* entry = sqe();
    io_uring_prep_cancel64(entry, user_data(Op::recv, slot, c.generation), 0);
    io_uring_sqe_set_data64(entry, user_data(Op::cancel));
    c.recv_cancelling = true;
  }
}

void UringEngine::Loop::close(std::size_t slot, proto::CloseReason reason) {
  auto& c = slots_[slot];
  if (!c.open) return;
  // shutdown() makes the operations still in flight on it complete now; their completions
  // carry the old generation and are ignored (their buffers recycled).
  end_session(c.fd.get(), *c.session, reason);
  std::error_code ignored;
  sys::shutdown(c.fd.get(), SHUT_RDWR, ignored);
  c.fd.reset();
  c.session.reset();  // a slot waiting for its next client holds no memory (nor budget)
  if (c.recv_armed) --receiving_;  // (its completion is stale now)
  c.recv_armed = false;
  c.open = false;
  ++c.generation;
  slots_.release(slot);
  --open_count_;
  engine_.accept_balance_.set_open(index_, open_count_);
  engine_.open_connections_.fetch_sub(1);
  counters_.closed(reason);
  arm_accept_if_due();  // (left to the other loops while this one led)
}

void UringEngine::Loop::tick(Clock::time_point now) {
  budget_.put_back_spare();
  const bool idle = engine_.open_connections_.load(std::memory_order_relaxed) == 0;
  if (engine_.budget_.take_give_back(idle)) sys::give_back_free_memory();
  if (accept_again_at_ && now >= *accept_again_at_) accept_again_at_.reset();
  arm_accept_if_due();
  const auto drain_deadline = engine_.stop_.deadline();
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    if (!slots_[slot].open) continue;
    check_unsent(slots_[slot].fd.get(), *slots_[slot].session, now);
    if (const auto reason = slots_[slot].session->due(now, draining_, drain_deadline)) {
      close(slot, *reason);
    }
  }
}

std::error_code UringEngine::probe() noexcept {
  io_uring ring{};
  const int result = io_uring_queue_init(4, &ring, 0);
  if (result < 0) return refusal(result);
  io_uring_queue_exit(&ring);
  return {};
}

UringEngine::UringEngine(ServerConfig config) : MultiLoopEngine(std::move(config)) {
  const auto& sizes = config_.uring;
  if (sizes.queue_depth < 2 || sizes.queue_depth > 32768 || sizes.buffer_count == 0 ||
      sizes.buffer_count > 32768 || (sizes.buffer_count & (sizes.buffer_count - 1)) != 0 ||
      sizes.buffer_size == 0) {
    throw std::invalid_argument(
        "io_uring sizes: queue_depth 2-32768, buffer_count a power of two up to 32768, "
        "buffer_size above 0");
  }
  if (const auto ec = probe()) {
    sys::throw_error(ec,
                     "io_uring_setup (io_uring is refused here: kernel.io_uring_disabled "
                     "or a seccomp filter; use --engine epoll)");
  }
  for (std::size_t i = 0; i < loop_count(config_); ++i) {
    loops_.push_back(std::make_unique<Loop>(*this, i));
  }
}

}  // namespace sockkit::server::detail
