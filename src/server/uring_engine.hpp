#pragma once

// The io_uring engine: one ring per thread, multishot accept, receives into a provided
// buffer ring, sends continued after short writes. Private to the library; made
// by make_engine().

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
};

}  // namespace sockkit::server::detail
