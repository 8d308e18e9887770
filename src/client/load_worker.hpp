#pragma once

// One load-generator thread: its own epoll loop over its share of the connections.
// Private to the library.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sockkit/client/load_generator.hpp"
#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/sys/epoll.hpp"
#include "sockkit/sys/fd.hpp"
#include "sockkit/sys/resources.hpp"

namespace sockkit::client {

/// Drives connections [first, first + count) of a run. Loop thread only, except
/// `progress()`, which any thread may read.
class LoadGenerator::Worker {
 public:
  using Clock = std::chrono::steady_clock;

  Worker(const LoadConfig& config, std::size_t first, std::size_t count,
         const std::atomic<bool>& stopping);

  /// Runs the whole of this worker's share: connect, traffic, hold probes.
  void run();

  [[nodiscard]] const LoadCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const LatencyHistogram& latency() const noexcept { return latency_; }
  [[nodiscard]] const std::string& first_error() const noexcept { return first_error_; }
  /// The measured window: warm-up end to the configured end, or to an early stop.
  [[nodiscard]] std::chrono::nanoseconds measured() const noexcept {
    return std::max<std::chrono::nanoseconds>(std::min(stopped_, end_) - measure_from_, {});
  }
  /// This thread's CPU time over the measured window.
  [[nodiscard]] std::chrono::nanoseconds cpu() const noexcept { return cpu_; }
  /// The share of the machine's CPU time the hypervisor took (steal) in the measured window.
  [[nodiscard]] double steal() const noexcept {
    return sys::steal_fraction(machine_from_, machine_to_);
  }
  [[nodiscard]] std::uint64_t progress() const noexcept {
    return progress_.load(std::memory_order_relaxed);
  }

 private:
  enum class State { idle, connecting, open };

  struct Message {
    std::uint64_t start;         // stream offset of the message's first byte (its header's)
    std::uint64_t end;           // stream offset just past the message's last byte
    Clock::time_point intended;  // when it was meant to be sent (latency starts here)
  };

  // A FIFO of messages awaiting their echo: a ring that only grows, so steady traffic
  // allocates nothing (std::deque would allocate a node every few dozen messages).
  class MessageQueue {
   public:
    void push(const Message& m) {
      if (count_ == ring_.size()) grow();
      ring_[(head_ + count_) % ring_.size()] = m;
      ++count_;
    }
    [[nodiscard]] const Message& front() const noexcept { return ring_[head_]; }
    [[nodiscard]] const Message& at(std::size_t i) const noexcept {
      return ring_[(head_ + i) % ring_.size()];
    }
    void pop() noexcept {
      head_ = (head_ + 1) % ring_.size();
      --count_;
    }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    void clear() noexcept { head_ = count_ = 0; }

   private:
    void grow() {
      std::vector<Message> bigger(std::max<std::size_t>(4, ring_.size() * 2));
      for (std::size_t i = 0; i < count_; ++i) bigger[i] = ring_[(head_ + i) % ring_.size()];
      ring_ = std::move(bigger);
      head_ = 0;
    }
    std::vector<Message> ring_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
  };

  struct Connection {
    sys::Fd fd;
    std::size_t id = 0;  // index in the whole run: seeds sizes, spreads source addresses
    State state = State::idle;
    codec::ByteBuffer inflight;  // sent (or still to send) and not yet echoed back
    std::size_t unsent = 0;      // bytes at the back of `inflight` not written yet
    std::uint64_t enqueued = 0;  // stream offset: bytes ever queued
    std::uint64_t received = 0;  // stream offset: bytes ever echoed back and checked
    MessageQueue messages;
    std::uint64_t sequence = 0;
    bool writing = false;        // EPOLLOUT armed
    Clock::time_point deadline;  // connecting: give up then; idle: retry then
    Clock::time_point connect_started;
    int probes_answered = 0;  // hold mode
    std::minstd_rand sizes;
  };

  enum class Failure { connect, reset, early_close, mismatch, framing, other };

  void start_connect(Connection& c, Clock::time_point now);
  void on_connected(Connection& c, Clock::time_point now);
  void on_event(Connection& c, std::uint32_t events, Clock::time_point now);
  void on_readable(Connection& c, Clock::time_point now);
  void on_mismatch(Connection& c, std::span<const std::byte> got,
                   std::span<const std::byte> expected);
  void on_message_done(Connection& c, const Message& m, Clock::time_point now);
  void enqueue(Connection& c, Clock::time_point intended, Clock::time_point now);
  void flush(Connection& c, Clock::time_point now);
  void watch(Connection& c, bool want_write);
  void fail(Connection& c, Failure kind, const std::string& what);
  void housekeeping(Clock::time_point now);
  void send_due_messages(Clock::time_point now);
  void send_hold_probes(Clock::time_point now);
  [[nodiscard]] bool measuring(Clock::time_point now) const noexcept {
    return now >= measure_from_;
  }
  [[nodiscard]] std::chrono::nanoseconds wait_time(Clock::time_point now) const noexcept;
  [[nodiscard]] bool finished(Clock::time_point now) const noexcept;

  const LoadConfig& config_;
  const std::atomic<bool>& stopping_;
  sys::Epoll epoll_;
  std::vector<Connection> connections_;
  codec::FrameEncoder encoder_;
  std::vector<std::byte> pattern_;  // payload bytes messages are cut from
  std::vector<std::byte> read_buffer_;

  LoadCounters counters_;
  LatencyHistogram latency_;
  std::string first_error_;
  std::atomic<std::uint64_t> progress_{0};

  Clock::time_point measure_from_;
  Clock::time_point end_;
  Clock::time_point stopped_;
  std::chrono::nanoseconds cpu_{};  // over the measured window
  bool cpu_started_ = false;
  sys::MachineCpu machine_from_;  // the machine's CPU time when the window began, and ended
  sys::MachineCpu machine_to_;
  Clock::time_point next_housekeeping_;
  // rate mode: one schedule per worker, handed round-robin to its connections
  Clock::time_point next_due_;
  std::chrono::nanoseconds interval_{};
  std::size_t next_connection_ = 0;
  bool hold_probed_again_ = false;
};

}  // namespace sockkit::client
