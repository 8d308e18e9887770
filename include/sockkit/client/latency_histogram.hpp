#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>

namespace sockkit::client {

/// A latency histogram with log-linear buckets, after HdrHistogram: each power of two is cut
/// into 128 equal sub-buckets, so any value from 1 µs to 60 s is kept within 0.4% (reported
/// as its bucket's midpoint; the minimum and maximum are exact). Recording is a few
/// instructions and never allocates; histograms merge by adding. Not synchronised: keep one
/// per thread and merge at the end.
class LatencyHistogram {
 public:
  using Duration = std::chrono::nanoseconds;
  static constexpr Duration kLowest = std::chrono::microseconds(1);
  static constexpr Duration kHighest = std::chrono::seconds(60);

  /// Values outside [kLowest, kHighest] are clamped into it (and counted by `clamped()`).
  void record(Duration value) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  void reset() noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t clamped() const noexcept { return clamped_; }
  [[nodiscard]] Duration min() const noexcept;
  [[nodiscard]] Duration max() const noexcept;
  [[nodiscard]] Duration mean() const noexcept;
  /// The value below which `percent` of the recorded values fall (0 < percent <= 100);
  /// zero when empty.
  [[nodiscard]] Duration percentile(double percent) const noexcept;

  /// The whole distribution, one line per non-empty bucket, for plotting:
  /// "value_us cumulative_fraction count".
  void write_distribution(std::ostream& out) const;

 private:
  static constexpr std::size_t kSubBuckets = 128;            // 2^7: 1/128 < 1% relative width
  static constexpr std::size_t kBuckets = 36 * kSubBuckets;  // enough for 2^36 ns > 60 s

  static std::size_t index_of(std::uint64_t ns) noexcept;
  static std::uint64_t midpoint_of(std::size_t index) noexcept;

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::uint64_t min_ns_ = UINT64_MAX;
  std::uint64_t max_ns_ = 0;
  long double sum_ns_ = 0;
};

}  // namespace sockkit::client
