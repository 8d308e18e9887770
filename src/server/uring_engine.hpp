#pragma once

// The io_uring engine: one ring per thread, multishot accept, receives into a provided
// buffer ring, sends continued after short writes. Private to the library; made
// by make_engine().

#include <atomic>
#include <system_error>

#include "engine_base.hpp"

namespace sockkit::server::detail {

class UringEngine final : public MultiLoopEngine {
 public:
  /// Throws std::system_error when the kernel refuses a ring ("io_uring_setup: Operation not
  /// permitted (io_uring is refused here: kernel.io_uring_disabled or a seccomp filter ...)").
  explicit UringEngine(ServerConfig config);

  /// Whether this kernel gives this process a ring at all (for `auto` and for tests).
  [[nodiscard]] static std::error_code probe() noexcept;

 private:
  class Loop;
  // Every loop sets up its ring before any accepts: a loop that accepted first could take
  // the descriptors another needs for its ring. A failed set-up ends them all.
  std::atomic<std::size_t> rings_set_up_{0};
  std::atomic<bool> ring_failed_{false};
};

}  // namespace sockkit::server::detail
