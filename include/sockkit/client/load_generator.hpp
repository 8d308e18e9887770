#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "sockkit/client/load_config.hpp"
#include "sockkit/client/load_report.hpp"

namespace sockkit::client {

/// A load generator that checks every byte: each connection's echo is compared with what
/// it sent, latency goes into a histogram (from the intended send time in rate mode, as
/// wrk2 does, so a stalled server cannot hide behind the generator's own waiting), and
/// counters are kept per thread and added up at the end. Each thread runs its own epoll
/// loop over its share of the connections. One run per object; `stop()` and `progress()`
/// may be called from any thread while `run()` runs.
class LoadGenerator {
 public:
  /// Throws std::invalid_argument for a configuration that cannot run (zero connections,
  /// more threads than connections, a size range upside down, more descriptors than the
  /// process may open, ...), with a message that says which.
  explicit LoadGenerator(LoadConfig config);
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;
  ~LoadGenerator();

  /// Runs for the configured duration (or until `stop()`), then reports.
  LoadReport run();
  /// Ends the run early; `run()` still returns a report.
  void stop() noexcept { stopping_.store(true, std::memory_order_relaxed); }
  /// Messages completed so far, for a progress line.
  [[nodiscard]] std::uint64_t progress() const noexcept;

  [[nodiscard]] const LoadConfig& config() const noexcept { return config_; }

 private:
  class Worker;

  LoadConfig config_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace sockkit::client
