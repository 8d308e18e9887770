#include "sockkit/client/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <ostream>

namespace sockkit::client {

// Values below 128 ns have a bucket each; above, a value with its top bit at position m
// (m >= 7) falls in group m - 6, sub-bucket (value >> (m - 7)) - 128.
std::size_t LatencyHistogram::index_of(std::uint64_t ns) noexcept {
  if (ns < kSubBuckets) return static_cast<std::size_t>(ns);
  const auto top = static_cast<std::size_t>(std::bit_width(ns) - 1);
  const auto sub = static_cast<std::size_t>(ns >> (top - 7)) - kSubBuckets;
  return std::min((top - 6) * kSubBuckets + sub, kBuckets - 1);
}

std::uint64_t LatencyHistogram::midpoint_of(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const std::size_t group = index / kSubBuckets;  // >= 1
  const std::size_t sub = index % kSubBuckets + kSubBuckets;
  const std::size_t shift = group - 1;
  const std::uint64_t low = std::uint64_t{sub} << shift;
  return low + ((std::uint64_t{1} << shift) >> 1);
}

void LatencyHistogram::record(Duration value) noexcept {
  auto ns = value.count();
  if (ns < kLowest.count() || ns > kHighest.count()) {
    ++clamped_;
    ns = std::clamp(ns, kLowest.count(), kHighest.count());
  }
  const auto v = static_cast<std::uint64_t>(ns);
  ++counts_[index_of(v)];
  ++count_;
  min_ns_ = std::min(min_ns_, v);
  max_ns_ = std::max(max_ns_, v);
  sum_ns_ += static_cast<long double>(v);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  clamped_ += other.clamped_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
}

void LatencyHistogram::reset() noexcept {
  *this = LatencyHistogram();
}

LatencyHistogram::Duration LatencyHistogram::min() const noexcept {
  return Duration(count_ == 0 ? 0 : static_cast<Duration::rep>(min_ns_));
}

LatencyHistogram::Duration LatencyHistogram::max() const noexcept {
  return Duration(static_cast<Duration::rep>(max_ns_));
}

LatencyHistogram::Duration LatencyHistogram::mean() const noexcept {
  if (count_ == 0) return Duration::zero();
  return Duration(static_cast<Duration::rep>(std::llround(sum_ns_ / count_)));
}

LatencyHistogram::Duration LatencyHistogram::percentile(double percent) const noexcept {
  if (count_ == 0) return Duration::zero();
  if (percent >= 100.0) return max();
  const auto wanted = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= wanted) {
      const auto value = std::clamp(midpoint_of(i), min_ns_, max_ns_);
      return Duration(static_cast<Duration::rep>(value));
    }
  }
  return max();
}

void LatencyHistogram::write_distribution(std::ostream& out) const {
  out << "# value_us cumulative_fraction count\n";
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    out << static_cast<double>(std::clamp(midpoint_of(i), min_ns_, max_ns_)) / 1000.0 << ' '
        << static_cast<double>(seen) / static_cast<double>(count_) << ' ' << counts_[i] << '\n';
  }
}

}  // namespace sockkit::client
