// The io_uring engine's receiving and sending: one receive armed per connection into the
// provided buffer ring, sends from the session's own output (uring_loop.hpp).
#include <algorithm>

#include "sockkit/sys/socket.hpp"
#include "uring_loop.hpp"

namespace sockkit::server::detail {

// One receive armed at a time per connection, into provided buffers: a multishot receive
// that ends after a byte limit (Linux 6.17+), or on older kernels a single receive. Not a
// multishot receive without a limit: the kernel reads ahead (dozens of completions per
// connection per io_uring_enter) past the high-water mark before a cancel lands
// (docs/performance.md, C5).
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

// Out of buffers, a receive that is armed again at once finds none again, many times for
// each buffer filled (docs/performance.md, C6).
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

}  // namespace sockkit::server::detail
