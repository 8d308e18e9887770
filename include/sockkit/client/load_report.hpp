#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstdint>
#include <string>

#include "sockkit/client/latency_histogram.hpp"

namespace sockkit::client {

/// What happened during a run, counted per thread and added up at the end.
struct LoadCounters {
  std::uint64_t messages = 0;        // echoes received complete and correct (measured window)
  std::uint64_t bytes_sent = 0;      // measured window
  std::uint64_t bytes_received = 0;  // measured window
  std::uint64_t connects = 0;        // connections established
  std::uint64_t mismatches = 0;      // echoed bytes that differ from what was sent
  std::uint64_t framing_errors = 0;  // framed: a reply's frame header is not the one sent
  std::uint64_t early_closes = 0;    // the server closed while owing an echo
  std::uint64_t resets = 0;          // ECONNRESET / EPIPE
  std::uint64_t connect_errors = 0;  // refused, timed out, ...
  std::uint64_t other_errors = 0;
  std::uint64_t overflows = 0;   // rate mode: messages not sent, the server owed too many
  std::uint64_t held = 0;        // hold mode: connections that answered both probes
  std::uint64_t unanswered = 0;  // messages sent whose echo had not come back at the end

  void merge(const LoadCounters& other) noexcept;
  [[nodiscard]] std::uint64_t errors() const noexcept {
    return mismatches + framing_errors + early_closes + resets + connect_errors + other_errors;
  }
};

/// The result of a run.
struct LoadReport {
  LoadCounters counters;
  LatencyHistogram latency;
  std::chrono::nanoseconds measured{};  // the measured window's length
  std::chrono::nanoseconds cpu{};       // the generator threads' CPU time in that window
  /// The share of the machine's CPU time a hypervisor gave to others in that window
  /// (/proc/stat's steal): while it does, this machine's threads wait, and their latency
  /// with them. On a shared virtual machine the tail percentiles can be mostly this.
  double steal = 0;
  /// Steal worth a word in a report: 0.5% of the time, in episodes of milliseconds, is
  /// already the worst 1% of latencies at a steady rate.
  static constexpr double kNotableSteal = 0.005;
  std::uint64_t threads = 1;
  /// The first error seen, in words ("connect 127.0.0.1:9: Connection refused").
  std::string first_error;

  [[nodiscard]] double messages_per_second() const noexcept;
  [[nodiscard]] double mib_per_second() const noexcept;
  /// The generator used (nearly) all the CPU its threads could: it, not the server, may have
  /// set the pace.
  [[nodiscard]] bool generator_saturated() const noexcept;
};

}  // namespace sockkit::client
