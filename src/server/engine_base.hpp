#pragma once

// What the four engines are built on, so each engine's own file holds only how it waits.
// Private to the library.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "accept_balance.hpp"
#include "engine_support.hpp"
#include "session.hpp"
#include "sockkit/server/engine.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::server::detail {

/// Every engine's state: its config, the listener (bound on construction, so the port is
/// known before `run()`), the stop signal, the throttled log; and the one way to stop.
class EngineBase : public Engine {
 public:
  /// Binds and listens; throws std::system_error when it cannot.
  explicit EngineBase(ServerConfig config);
  ~EngineBase() override;
  void stop() noexcept final;
  [[nodiscard]] const net::Address& local_address() const noexcept final {
    return listener_.local_address();
  }

 protected:
  /// The budget's figures, for stats().
  void add_budget_to(Stats& total) const noexcept {
    total.buffered = budget_.used();
    total.promised = budget_.set_aside();
    total.budget_pauses = budget_.pauses();
  }

  ServerConfig config_;
  net::StreamListener listener_;
  StopSignal stop_;
  ThrottledLog log_;
  BufferBudget budget_;
};

/// One thread's event loop in a multi-loop engine; it counts what it serves.
class EventLoop {
 public:
  virtual ~EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Serves until the engine stops and every connection of this loop is closed.
  virtual void run() = 0;
  /// Read by any thread while the loop runs.
  [[nodiscard]] const StatsCounters& counters() const noexcept { return counters_; }

 protected:
  EventLoop() = default;
  StatsCounters counters_{true};  // written by the loop's thread only
};

/// An engine of one event loop per thread (epoll, io_uring), sharing one listener.
class MultiLoopEngine : public EngineBase {
 public:
  explicit MultiLoopEngine(ServerConfig config)
      : EngineBase(std::move(config)), accept_balance_(loop_count(config_)) {}
  /// Runs every loop: the first on the calling thread, the rest on threads of their own,
  /// joined before it returns.
  void run() override;
  /// Every loop's counters added up.
  [[nodiscard]] Stats stats() const override;
  /// Each loop's own counters (how the clients spread over the loops).
  [[nodiscard]] std::vector<Stats> loop_stats() const;

 protected:
  /// What a loop does with each client it accepted, before it watches the socket: over
  /// the connection limit the client is turned away (it sees EOF, not a hang); otherwise
  /// its socket is set up and its session and a slot in `slots` are made, everything that
  /// allocates before anything changes, so no memory for them turns away only this client.
  /// Turned away: counted as rejected, logged (at most once a second), nullopt, and `fd`
  /// stays the caller's, to close. Admitted: counted, and the slot, open and holding `fd`
  /// and the session; the caller sets up the rest of it.
  template <class Slots>
  std::optional<std::size_t> admit(sys::Fd& fd, Slots& slots, BudgetShare& budget,
                                   StatsCounters& counters, Clock::time_point now) {
    if (open_connections_.fetch_add(1) >= config_.max_connections) {
      open_connections_.fetch_sub(1);
      counters.rejected();
      log_.say("connection limit (" + std::to_string(config_.max_connections) + ") reached on " +
               listener_.local_address().to_string() + "; closing new clients");
      return std::nullopt;
    }
    prepare_client_socket(fd.get(), config_);
    try {
      auto session = std::make_unique<Session>(config_, budget, now, fd.get());
      const auto slot = slots.acquire();
      auto& c = slots[slot];
      c.fd = std::move(fd);
      c.session = std::move(session);
      c.open = true;
      counters.accepted();
      return slot;
    } catch (const std::exception& e) {
      open_connections_.fetch_sub(1);
      counters.rejected();
      log_.say("cannot serve a new client on " + listener_.local_address().to_string() + ": " +
               e.what() + "; closing it");
      return std::nullopt;
    }
  }

  /// Open connections across the loops, for max_connections.
  std::atomic<std::size_t> open_connections_{0};
  AcceptBalance accept_balance_;  // a place for each of the loop_count(config_) loops
  std::vector<std::unique_ptr<EventLoop>> loops_;  // made by the derived constructor
};

}  // namespace sockkit::server::detail
