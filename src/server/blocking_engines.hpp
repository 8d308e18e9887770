#pragma once

// The two engines that serve each connection with the blocking session: `iterative` (one
// client at a time, the tutorial's first server) and `threaded` (a thread per client, the
// tutorial's `client_thread`). Private to the library; made by make_engine().

#include <list>
#include <mutex>
#include <thread>

#include "blocking_session.hpp"
#include "sockkit/server/engine.hpp"

namespace sockkit::server::detail {

/// What both blocking engines have: the listener, the stop signal, the counters, and the
/// accept loop that waits on the listener and the doorbell.
class BlockingEngineBase : public Engine {
 public:
  explicit BlockingEngineBase(ServerConfig config);

  void stop() noexcept override;
  [[nodiscard]] Stats stats() const override;
  [[nodiscard]] const net::Address& local_address() const noexcept override {
    return listener_.local_address();
  }

 protected:
  /// Waits for and accepts the next client; an empty Fd once stopping. Handles every accept
  /// error itself: transient ones are skipped, EMFILE sheds the client with the spare fd.
  sys::Fd accept_next();

  ServerConfig config_;
  net::StreamListener listener_;
  StopSignal stop_;
  StatsCounters counters_;
  ThrottledLog log_;
  sys::SpareFd spare_;
};

/// One client at a time; the next ones wait in the listen backlog.
class IterativeEngine final : public BlockingEngineBase {
 public:
  using BlockingEngineBase::BlockingEngineBase;
  void run() override;
};

/// A thread per client, at most `max_connections` of them.
class ThreadedEngine final : public BlockingEngineBase {
 public:
  using BlockingEngineBase::BlockingEngineBase;
  ~ThreadedEngine() override;
  void run() override;

 private:
  struct Client {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void reap_finished();

  std::list<Client> clients_;  // touched only by the thread in run()
};

}  // namespace sockkit::server::detail
