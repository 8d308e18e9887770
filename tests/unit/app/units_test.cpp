#include "units.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sockkit::app {
namespace {

using namespace std::chrono_literals;

TEST(Units, DurationsTakeUnits) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_EQ(parse_duration("3"), 3s);
  EXPECT_EQ(parse_duration("250us"), 1ms);  // rounded up, never to zero
}

TEST(Units, SizesAreBinary) {
  EXPECT_EQ(parse_size("64"), 64u);
  EXPECT_EQ(parse_size("64B"), 64u);
  EXPECT_EQ(parse_size("4KiB"), 4096u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("1.5MiB"), 1572864u);
  EXPECT_EQ(parse_size("1GiB"), 1073741824u);
  EXPECT_EQ(parse_size_range("16-4KiB"), std::make_pair(std::size_t{16}, std::size_t{4096}));
  EXPECT_EQ(parse_size_range("100"), std::make_pair(std::size_t{100}, std::size_t{100}));
}

TEST(Units, SizesCanHaveACeiling) {
  EXPECT_EQ(parse_size_at_most("1GiB", std::size_t{1} << 30), std::size_t{1} << 30);
  EXPECT_THROW((void)parse_size_at_most("1025MiB", std::size_t{1} << 30), std::invalid_argument);
  EXPECT_THROW((void)parse_size_at_most("lots", std::size_t{1} << 30), std::invalid_argument);
}

TEST(Units, RatesTakeThousands) {
  EXPECT_EQ(parse_rate("1000"), 1000.0);
  EXPECT_EQ(parse_rate("1000/s"), 1000.0);
  EXPECT_EQ(parse_rate("2.5k/s"), 2500.0);
}

TEST(Units, ByteRatesAreSizesPerSecond) {
  EXPECT_EQ(parse_byte_rate("64KiB/s"), 65536.0);
  EXPECT_EQ(parse_byte_rate("1MiB"), 1048576.0);
  EXPECT_EQ(parse_byte_rate("8000/s"), 8000.0);
  EXPECT_THROW((void)parse_byte_rate("fast"), std::invalid_argument);
}

void expect_error(auto parse, const std::string& text, const std::string& words) {
  try {
    (void)parse(text);
    ADD_FAILURE() << "'" << text << "' was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + text + "'"), std::string::npos) << e.what();
  }
}

TEST(Units, BadTextSaysWhatIsWrong) {
  expect_error(parse_duration, "5x", "unknown duration unit 'x'");
  expect_error(parse_duration, "fast", "is not a duration");
  expect_error(parse_duration, "-1s", "is not a duration");
  expect_error(parse_size, "12parsecs", "unknown size unit 'parsecs'");
  expect_error(parse_size, "0.5", "whole number of bytes");
  expect_error(parse_size, "", "is not a size");
  expect_error(parse_size_range, "4KiB-16", "low end is above the high end");
  expect_error(parse_rate, "lots", "is not a rate");
  expect_error(parse_rate, "0/s", "is not a rate above 0 and at most 1G/s");
  expect_error(parse_rate, "99999999999999999999M/s", "is not a rate above 0 and at most 1G/s");
}

TEST(Units, ExactSizesReadBackAsTheyWere) {
  EXPECT_EQ(format_size_exact(256u << 20), "256MiB");
  EXPECT_EQ(format_size_exact(1536u << 10), "1536KiB");
  EXPECT_EQ(format_size_exact(3u << 30), "3GiB");
  EXPECT_EQ(format_size_exact(100), "100");
  EXPECT_EQ(format_size_exact(0), "0");
  for (const std::size_t size : {std::size_t{0}, std::size_t{100}, std::size_t{1536} << 10}) {
    EXPECT_EQ(parse_size(format_size_exact(size)), size);
  }
}

TEST(Units, FormatsForPeople) {
  EXPECT_EQ(format_duration(38'400ns), "38.4 µs");
  EXPECT_EQ(format_duration(1'500'000ns), "1.5 ms");
  EXPECT_EQ(format_duration(2s), "2 s");
  EXPECT_EQ(format_size(64), "64 B");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_count(1234567), "1,234,567");
  EXPECT_EQ(format_count(999), "999");
}

TEST(Units, HexRoundTripsEveryByte) {
  std::vector<std::byte> all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<std::byte>(b));
  EXPECT_EQ(parse_hex(format_hex(all)), all);
  EXPECT_EQ(format_hex(parse_hex("48 65:6C-6c 6F")), "48656c6c6f");
  EXPECT_TRUE(parse_hex("").empty());
}

TEST(Units, BadHexSaysWhere) {
  EXPECT_THROW((void)parse_hex("4"), std::invalid_argument);
  EXPECT_THROW((void)parse_hex("4 8"), std::invalid_argument);
  try {
    (void)parse_hex("48zz");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "'48zz' is not hex: 'z' at offset 2 is not a hex digit");
  }
}

}  // namespace
}  // namespace sockkit::app
