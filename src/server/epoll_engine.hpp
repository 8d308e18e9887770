#pragma once

// The epoll engine: one event loop per thread over non-blocking sockets. Private to the
// library; made by make_engine().

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "session.hpp"
#include "sockkit/server/engine.hpp"
#include "sockkit/sys/epoll.hpp"

namespace sockkit::server::detail {

class EpollEngine final : public Engine {
 public:
  explicit EpollEngine(ServerConfig config);
  ~EpollEngine() override;

  void run() override;
  void stop() noexcept override;
  [[nodiscard]] Stats stats() const override;
  [[nodiscard]] const net::Address& local_address() const noexcept override {
    return listener_.local_address();
  }

 private:
  class Loop;

  ServerConfig config_;
  net::StreamListener listener_;
  StopSignal stop_;
  ThrottledLog log_;
  std::atomic<std::size_t> open_connections_{0};  // across loops, for max_connections
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace sockkit::server::detail
