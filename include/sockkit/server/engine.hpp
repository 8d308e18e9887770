#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <memory>
#include <system_error>

#include "sockkit/net/address.hpp"
#include "sockkit/server/server_config.hpp"
#include "sockkit/server/stats.hpp"

namespace sockkit::server {

/// A server: listens on construction (so the port is known before `run()`), serves on the
/// thread that calls `run()` (and on threads of its own, depending on the engine). `stop()`
/// and `stats()` may be called from any thread while it runs.
class Engine {
 public:
  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Serves until `stop()`, then drains: returns once every connection is closed.
  virtual void run() = 0;
  /// Stops accepting at once (new clients are refused), closes idle connections, lets
  /// active ones finish within the drain timeout, then closes the rest. Thread-safe; a
  /// second call changes nothing.
  virtual void stop() noexcept = 0;
  [[nodiscard]] virtual Stats stats() const = 0;
  /// The listening address, with the real port when port 0 was asked for.
  [[nodiscard]] virtual const net::Address& local_address() const noexcept = 0;

 protected:
  Engine() = default;
};

/// Why this kernel will not run `kind` (io_uring refused: seccomp, kernel.io_uring_disabled),
/// or an empty code when it will.
[[nodiscard]] std::error_code check_engine(EngineKind kind) noexcept;

/// A server of `kind` for `config`. Throws std::system_error when it cannot listen
/// ("bind 127.0.0.1:65432: Address already in use").
[[nodiscard]] std::unique_ptr<Engine> make_engine(EngineKind kind, ServerConfig config);

}  // namespace sockkit::server
