#include "uring_engine.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <thread>

#include "blocking_session.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"
#include "uring_loop.hpp"

namespace sockkit::server::detail {

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
// buffers that stay in the CPU cache instead of streaming through all of them
// (docs/performance.md, C2).
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
  // after each whether to arm the next: a multishot accept on one ring takes every client,
  // and single accepts alone still let one ring take them all (docs/performance.md, C3).
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
    // completions back; the tick is an operation of its own (docs/performance.md, C4).
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
