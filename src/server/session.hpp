#pragma once

// The I/O-free half of serving one connection: the protocol, the replies queued for the
// client, and the clocks behind every limit (idle, send and frame timeouts, the high-water
// mark, the drain). Engines do the reading and writing and ask it what to do next, so every
// engine applies the same rules. Private to the library; one per connection; one thread.

#include <chrono>
#include <memory>
#include <optional>
#include <span>

#include "engine_support.hpp"
#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/proto/protocol.hpp"

namespace sockkit::server::detail {

class Session {
 public:
  /// `peer_fd`: the client's socket, asked for its address only when
  /// `config.on_connection` watches connections (then the opening is reported at once).
  /// `budget`: the engine's, reached through the serving thread's share: what this
  /// connection's reply buffer allocates is taken from it, and what its reads may make the
  /// buffer grow is set aside before they are made.
  Session(const ServerConfig& config, BudgetShare& budget, Clock::time_point now, int peer_fd = -1);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Bytes the client sent; replies are queued. If they cannot be (out of memory), the
  /// connection is ending with `CloseReason::error` and owes nothing: `due()` says so.
  void on_input(std::span<const std::byte> bytes, Clock::time_point now) noexcept;
  /// The client finished sending (read returned 0): queued replies still go out, then close.
  void on_end_of_stream();
  /// `count` bytes of `pending_output()` went out.
  void on_sent(std::size_t count, Clock::time_point now);

  /// The engine closed the connection for `reason` (reported to `config.on_connection`).
  void on_close(proto::CloseReason reason) noexcept;

  /// Read more only while not ending, below the high-water mark, not held back for the
  /// budget, and either owing nothing or with the engine's buffer budget not spent.
  [[nodiscard]] bool wants_read() const noexcept {
    return !ending_ && !budget_paused_ && out_.size() < config_.high_water_mark &&
           (out_.empty() || !budget_.exhausted());
  }
  /// How a read's bytes reach on_input(): in one piece (a read into the engine's buffer), or
  /// in several (io_uring's multishot receive), each of which may grow the reply storage.
  enum class Arrival { at_once, in_pieces };
  /// Before a read: how many of `want` bytes it may bring, so that the reply storage they
  /// make grow (an echo queues what it reads) fits in what is taken from the budget for it
  /// now, and at most `most_growth`. Once nothing is left, a client that owes nothing may
  /// still read a trickle, counted past the limit: that is the budget's only slack. 0: do
  /// not read (held back for the budget until the replies have gone). What was set aside
  /// and not used goes back at end_read(), which follows every read, whatever it brought.
  [[nodiscard]] std::size_t begin_read(std::size_t want, Arrival arrival = Arrival::at_once,
                                       std::size_t most_growth = ~std::size_t{0}) noexcept;
  void end_read() noexcept;
  /// The trickle: how much a client owing nothing may still make its reply storage grow by
  /// past a spent budget (a read of 4 KiB into an empty buffer).
  static constexpr std::size_t kTrickleRead = 4096;
  /// The most all reads from now until the engine asks again may take together: what keeps
  /// the replies below the high-water mark (an echo queues what it reads), or a trickle.
  [[nodiscard]] std::size_t read_room() const noexcept {
    return out_.size() < config_.high_water_mark
               ? std::max(config_.high_water_mark - out_.size(), kTrickleRead)
               : kTrickleRead;
  }
  [[nodiscard]] bool wants_write() const noexcept { return !out_.empty(); }
  [[nodiscard]] std::span<const std::byte> pending_output() const noexcept {
    return out_.readable();
  }
  [[nodiscard]] std::size_t queued() const noexcept { return out_.size(); }
  /// The engine lends `pending_output()` to the kernel (an io_uring send reads it): those
  /// bytes stay where they are until `output_returned()`, while replies are added.
  void lend_output() noexcept { out_.pin(); }
  /// The kernel is done with it (call before `on_sent()`): storage kept for it is freed.
  void output_returned() noexcept {
    out_.unpin();
    account();
  }

  /// Replies have waited a while with no write progress: the engine should ask the kernel
  /// how much it still holds for this client (`sys::unsent_bytes`) and pass it on. A client
  /// that reads slowly may free the kernel's buffer too little for a wakeup, yet it is
  /// reading; this is how the send timeout tells it from one that does not read at all.
  /// Also asked once replies have all gone to the kernel, until it is seen to have delivered
  /// them: a client that never reads may have sent less than the kernel's buffers hold, and
  /// its replies then sit in the kernel, not here, yet the send timeout applies to them.
  /// The checks grow further apart while nothing moves (50 ms, doubling, to at most a
  /// second), and one is always made when the send timeout falls due, before it closes.
  [[nodiscard]] bool wants_unsent_check(Clock::time_point now) const noexcept;
  /// The kernel holds `bytes` for the client: less than last time is progress.
  void on_unsent(std::size_t bytes, Clock::time_point now) noexcept;

  /// Why the connection must close now, if it must. `draining`: stop() was called and the
  /// drain ends at `drain_deadline`. While draining, a connection that is quiet (100 ms)
  /// and owes nothing is idle and closed; a busy one may go on until the deadline.
  [[nodiscard]] std::optional<proto::CloseReason> due(Clock::time_point now, bool draining,
                                                      Clock::time_point drain_deadline);
  /// Why the connection ends now that it owes nothing more, if it is ending (end of
  /// stream, a protocol's verdict, an error): the check an engine makes after each event.
  /// The clocks (`due()`) are the timer's to check: traffic just moved them on.
  [[nodiscard]] std::optional<proto::CloseReason> finished() const noexcept {
    return out_.empty() ? ending_ : std::nullopt;
  }
  /// When `due()` should next be asked, if nothing happens before.
  [[nodiscard]] Clock::time_point next_deadline(bool draining,
                                                Clock::time_point drain_deadline) const noexcept;

 private:
  void notify(const ConnectionEvent& event) const noexcept;
  void take_input(std::span<const std::byte> bytes, Clock::time_point now);
  void account() noexcept;           // takes from the budget what out_ allocated since
  void pause_for_budget() noexcept;  // counted once per pause
  [[nodiscard]] std::size_t growth(std::size_t count, Arrival arrival) const noexcept;
  [[nodiscard]] std::size_t fit(std::size_t want, Arrival arrival,
                                std::size_t allowance) const noexcept;

  const ServerConfig& config_;
  BudgetShare& share_;
  BufferBudget& budget_;
  std::unique_ptr<proto::Protocol> protocol_;
  codec::ByteBuffer out_;
  std::size_t charged_ = 0;          // out_'s storage, as the budget was told
  std::size_t reserved_ = 0;         // set aside for the growth the read under way may cause
  bool budget_paused_ = false;       // counted once per pause
  Clock::time_point last_traffic_;   // any byte in or out
  Clock::time_point last_progress_;  // a write that moved bytes, or nothing owed
  std::optional<Clock::time_point> message_started_;
  std::size_t last_unsent_ = kUnknown;  // the kernel's send queue at the last check
  bool kernel_may_hold_ = false;        // replies went to the kernel, not yet seen delivered
  [[nodiscard]] bool owes() const noexcept;
  Clock::time_point last_unsent_check_{};
  // How long after a check the next one is due: it doubles while the client takes nothing,
  // so a thousand stalled clients cost a thousand wake-ups a second, not twenty thousand.
  Clock::duration unsent_recheck_;
  static constexpr std::size_t kUnknown = ~std::size_t{0};
  [[nodiscard]] Clock::duration unsent_check_after() const noexcept;
  std::optional<proto::CloseReason> ending_;  // set: read no more, flush, then close
  struct Watch;                   // what a verbose log needs; only when one is asked for
  std::unique_ptr<Watch> watch_;  // (so a connection nobody watches pays one pointer)
};

/// What every engine does for `wants_unsent_check`: asks the kernel (SIOCOUTQ) how much of
/// the replies to the client on `fd` it still holds, and tells `session`.
void check_unsent(int fd, Session& session, Clock::time_point now) noexcept;

/// What every engine does just before it closes the client's socket `fd` for `reason`:
/// tells `session` (the close is reported), and resets a connection given up on with
/// replies still owed (the send timeout, an error, the drain deadline with replies queued)
/// instead of closing it with a FIN. The FIN would wait behind replies the client never
/// takes, so the client would never learn of the close while the kernel kept the socket
/// and its buffers as an orphan; and a FIN after a cut stream says it was all there.
void end_session(int fd, Session& session, proto::CloseReason reason) noexcept;

}  // namespace sockkit::server::detail
