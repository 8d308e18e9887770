#pragma once

// The two engines that serve each connection with the blocking session: `iterative` (one
// client at a time, the tutorial's first server) and `threaded` (a thread per client, the
// tutorial's `client_thread`). Private to the library; made by make_engine().

#include <list>
#include <mutex>
#include <thread>

#include "blocking_session.hpp"
#include "engine_base.hpp"

namespace sockkit::server::detail {

/// What both blocking engines have: the listener, the stop signal, the counters, and the
/// accept loop that waits on the listener and the doorbell.
class BlockingEngineBase : public EngineBase {
 public:
  using EngineBase::EngineBase;
  [[nodiscard]] Stats stats() const override;

 protected:
  /// Waits for and accepts the next client; an empty Fd once stopping. Handles every accept
  /// error itself: transient ones are skipped, EMFILE sheds the client with the spare fd.
  sys::Fd accept_next();

  StatsCounters counters_;
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
