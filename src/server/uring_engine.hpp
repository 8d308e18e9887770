#pragma once

// The io_uring engine: one ring per thread, multishot accept, receives into a provided
// buffer ring, sends continued after short writes. Private to the library; made
// by make_engine().

#include <atomic>
#include <memory>
#include <vector>

#include "session.hpp"
#include "sockkit/server/engine.hpp"

namespace sockkit::server::detail {

class UringEngine final : public Engine {
 public:
  /// Throws std::system_error when the kernel refuses a ring ("io_uring_setup: Operation not
  /// permitted (io_uring is disabled here: kernel.io_uring_disabled or a seccomp filter)").
  explicit UringEngine(ServerConfig config);
  ~UringEngine() override;

  void run() override;
  void stop() noexcept override;
  [[nodiscard]] Stats stats() const override;
  [[nodiscard]] const net::Address& local_address() const noexcept override {
    return listener_.local_address();
  }

  /// Whether this kernel gives this process a ring at all (for `auto` and for tests).
  [[nodiscard]] static std::error_code probe() noexcept;

 private:
  class Loop;

  ServerConfig config_;
  net::StreamListener listener_;
  StopSignal stop_;
  ThrottledLog log_;
  std::atomic<std::size_t> open_connections_{0};
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace sockkit::server::detail
