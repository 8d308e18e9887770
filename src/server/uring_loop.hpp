#pragma once

// The io_uring engine's event loop, shared by the files that implement it: uring_engine.cpp
// (the ring, accepting, the deadlines, closing) and uring_receive.cpp (receiving into
// provided buffers, sending, and keeping a receive armed). Private to the library.

#include <liburing.h>

#include <deque>
#include <optional>

#include "session.hpp"
#include "sockkit/sys/event_fd.hpp"
#include "uring_engine.hpp"

namespace sockkit::server::detail {

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

inline std::uint64_t user_data(Op op, std::size_t slot = 0, std::uint32_t generation = 0) {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{slot} << kOpBits) |
         static_cast<std::uint64_t>(op);
}
inline Op op_of(std::uint64_t data) {
  return static_cast<Op>(data & ((1u << kOpBits) - 1));
}
inline std::size_t slot_of(std::uint64_t data) {
  return static_cast<std::size_t>((data & 0xFFFFFFFF) >> kOpBits);
}
inline std::uint32_t generation_of(std::uint64_t data) {
  return static_cast<std::uint32_t>(data >> 32);
}

inline std::error_code refusal(int result) {
  return {-result, std::system_category()};
}

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

}  // namespace sockkit::server::detail
