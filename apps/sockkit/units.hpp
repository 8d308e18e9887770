#pragma once

// Command-line values with units: durations ("500ms", "10s", "2m") and sizes ("64",
// "4KiB", "1MiB"). Bad text throws std::invalid_argument naming the text and what was
// expected.

#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sockkit::app {

/// Bad command-line input (exit status 2), told apart from failures of the work itself.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// `parse(text)`, with the option's name put in front of any error, as a UsageError:
/// "--latency: 'soon' is not a duration (e.g. 500ms, 10s, 2m)".
template <class Parse>
auto parse_option(std::string_view name, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string(name) + ": " + e.what());
  }
}

/// "250us", "500ms", "10s", "1.5s", "2m", "1h"; a bare number is seconds.
std::chrono::milliseconds parse_duration(std::string_view text);
/// "64", "64B", "4KiB", "1.5MiB", "1GiB" (K, M, G are binary too: 1K = 1024).
std::size_t parse_size(std::string_view text);
/// parse_size, refusing more than `most` (for a value the kernel or a ring keeps in 32 bits).
std::size_t parse_size_at_most(std::string_view text, std::size_t most);
/// "64" (fixed) or "16-4KiB" (a range, inclusive).
std::pair<std::size_t, std::size_t> parse_size_range(std::string_view text);
/// "1000", "1000/s", "2.5k/s": above 0, at most 1e9 per second.
double parse_rate(std::string_view text);
/// Bytes per second: a size with an optional "/s": "64KiB/s", "1MiB", "8000/s".
double parse_byte_rate(std::string_view text);

/// Bytes written as hex digits, two per byte, optionally separated by spaces, ':' or '-':
/// "48656c6c6f", "48 65 6c", "de:ad:be:ef".
std::vector<std::byte> parse_hex(std::string_view text);
/// "48656c6c6f": two lowercase hex digits per byte.
std::string format_hex(std::span<const std::byte> bytes);

/// "1.5 s", "250 ms", "38 µs".
std::string format_duration(std::chrono::nanoseconds value);
/// "64 B", "4 KiB", "1.5 MiB".
std::string format_size(std::size_t bytes);
/// The same size exactly, as an option takes it: "256MiB", "1536KiB", "100".
std::string format_size_exact(std::size_t bytes);
/// 1234567 -> "1,234,567".
std::string format_count(std::uint64_t value);

}  // namespace sockkit::app
