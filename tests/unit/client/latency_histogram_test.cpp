#include "sockkit/client/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <vector>

namespace sockkit::client {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// The exact percentile of a sorted sample, by the same rank rule the histogram uses.
std::int64_t exact_percentile(const std::vector<std::int64_t>& sorted, double percent) {
  const auto rank = static_cast<std::size_t>(
      std::max(1.0, std::ceil(percent / 100.0 * static_cast<double>(sorted.size()))));
  return sorted[rank - 1];
}

void expect_within_one_percent(const std::vector<std::int64_t>& values, const char* name) {
  LatencyHistogram histogram;
  for (const auto v : values) histogram.record(nanoseconds(v));
  auto sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (const double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const auto exact = static_cast<double>(exact_percentile(sorted, p));
    const auto got = static_cast<double>(histogram.percentile(p).count());
    EXPECT_LE(std::abs(got - exact), exact * 0.01) << name << " p" << p;
  }
  EXPECT_EQ(histogram.min().count(), sorted.front()) << name;
  EXPECT_EQ(histogram.max().count(), sorted.back()) << name;
  EXPECT_EQ(histogram.count(), values.size());
}

TEST(LatencyHistogram, PercentilesWithinOnePercentOnKnownDistributions) {
  std::mt19937_64 engine(11);
  std::vector<std::int64_t> uniform;
  std::uniform_int_distribution<std::int64_t> u(1'000, 10'000'000);
  for (int i = 0; i < 200000; ++i) uniform.push_back(u(engine));
  expect_within_one_percent(uniform, "uniform 1us-10ms");

  std::vector<std::int64_t> lognormal;
  std::lognormal_distribution<double> ln(std::log(50'000.0), 1.0);  // around 50 us, long tail
  for (int i = 0; i < 200000; ++i) {
    lognormal.push_back(std::clamp<std::int64_t>(std::llround(ln(engine)), 1'000, 60'000'000'000));
  }
  expect_within_one_percent(lognormal, "lognormal");

  std::vector<std::int64_t> bimodal;  // most fast, 0.5% stalled at ~500 ms
  for (int i = 0; i < 100000; ++i)
    bimodal.push_back(i % 200 == 0 ? 500'000'000 + i : 20'000 + i % 1000);
  expect_within_one_percent(bimodal, "bimodal");
}

TEST(LatencyHistogram, MeanIsExactForAnExactSample) {
  LatencyHistogram histogram;
  histogram.record(10us);
  histogram.record(20us);
  histogram.record(30us);
  EXPECT_EQ(histogram.mean(), 20us);
}

TEST(LatencyHistogram, ClampsOutOfRangeValuesAndCountsThem) {
  LatencyHistogram histogram;
  histogram.record(5ns);
  histogram.record(120s);
  EXPECT_EQ(histogram.clamped(), 2u);
  EXPECT_EQ(histogram.min(), LatencyHistogram::kLowest);
  EXPECT_EQ(histogram.max(), LatencyHistogram::kHighest);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  for (int i = 1; i <= 1000; ++i) {
    (i % 3 == 0 ? a : b).record(std::chrono::microseconds(i));
    all.record(std::chrono::microseconds(i));
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (const double p : {50.0, 99.0, 100.0}) EXPECT_EQ(a.percentile(p), all.percentile(p));
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.mean(), all.mean());
}

TEST(LatencyHistogram, EmptyReportsZero) {
  const LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.percentile(99), 0ns);
  EXPECT_EQ(histogram.min(), 0ns);
}

TEST(LatencyHistogram, WritesACumulativeDistribution) {
  LatencyHistogram histogram;
  for (int i = 0; i < 10; ++i) histogram.record(100us);
  histogram.record(1ms);
  std::ostringstream out;
  histogram.write_distribution(out);
  const auto text = out.str();
  EXPECT_NE(text.find("# value_us cumulative_fraction count\n"), std::string::npos);
  EXPECT_NE(text.find(" 1 1\n"), std::string::npos) << text;  // the last line reaches 1.0
}

}  // namespace
}  // namespace sockkit::client
