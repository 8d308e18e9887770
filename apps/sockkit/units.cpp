#include "units.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace sockkit::app {
namespace {

// Splits "1.5MiB" into 1.5 and "MiB"; throws when there is no number in front.
std::pair<double, std::string_view> split_number(std::string_view text, const char* what) {
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) != 0 || text[end] == '.')) {
    ++end;
  }
  if (end == 0) {
    throw std::invalid_argument(fmt::format("'{}' is not a {}", text, what));
  }
  double number = 0;
  try {
    std::size_t used = 0;
    number = std::stod(std::string(text.substr(0, end)), &used);
    if (used != end) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("'{}' is not a {}", text, what));
  }
  auto unit = text.substr(end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return {number, unit};
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  const auto [number, unit] = split_number(text, "duration (e.g. 500ms, 10s, 2m)");
  double ms = 0;
  if (unit == "us" || unit == "µs") {
    ms = number / 1000;
  } else if (unit == "ms") {
    ms = number;
  } else if (unit.empty() || unit == "s") {
    ms = number * 1000;
  } else if (unit == "m" || unit == "min") {
    ms = number * 60'000;
  } else if (unit == "h") {
    ms = number * 3'600'000;
  } else {
    throw std::invalid_argument(
        fmt::format("'{}': unknown duration unit '{}' (use us, ms, s, m or h)", text, unit));
  }
  if (ms > 1e12) throw std::invalid_argument(fmt::format("'{}' is too long a duration", text));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(ms)));
}

std::size_t parse_size(std::string_view text) {
  const auto [number, unit] = split_number(text, "size (e.g. 64, 4KiB, 1MiB)");
  double scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K" || unit == "k" || unit == "KiB" || unit == "KB" || unit == "kB") {
    scale = 1024;
  } else if (unit == "M" || unit == "MiB" || unit == "MB") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "GiB" || unit == "GB") {
    scale = 1024.0 * 1024 * 1024;
  } else {
    throw std::invalid_argument(
        fmt::format("'{}': unknown size unit '{}' (use B, KiB, MiB or GiB)", text, unit));
  }
  const double bytes = number * scale;
  if (bytes > 1e15) throw std::invalid_argument(fmt::format("'{}' is too large a size", text));
  if (bytes != std::floor(bytes)) {
    throw std::invalid_argument(fmt::format("'{}' is not a whole number of bytes", text));
  }
  return static_cast<std::size_t>(bytes);
}

std::size_t parse_size_at_most(std::string_view text, std::size_t most) {
  const auto bytes = parse_size(text);
  if (bytes > most) {
    throw std::invalid_argument(
        fmt::format("'{}' is more than the most, {}", text, format_size(most)));
  }
  return bytes;
}

std::pair<std::size_t, std::size_t> parse_size_range(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const auto size = parse_size(text);
    return {size, size};
  }
  const auto low = parse_size(text.substr(0, dash));
  const auto high = parse_size(text.substr(dash + 1));
  if (low > high) {
    throw std::invalid_argument(fmt::format("'{}': the low end is above the high end", text));
  }
  return {low, high};
}

double parse_rate(std::string_view text) {
  const auto given = text;
  if (text.ends_with("/s")) text.remove_suffix(2);
  const auto [number, unit] = split_number(text, "rate (e.g. 1000/s, 2.5k/s)");
  double scale = 1;
  if (unit == "k" || unit == "K") {
    scale = 1e3;
  } else if (unit == "M") {
    scale = 1e6;
  } else if (!unit.empty()) {
    throw std::invalid_argument(fmt::format("'{}': unknown rate unit '{}'", text, unit));
  }
  const double rate = number * scale;
  if (rate <= 0 || rate > 1e9) {
    throw std::invalid_argument(fmt::format("'{}' is not a rate above 0 and at most 1G/s", given));
  }
  return rate;
}

double parse_byte_rate(std::string_view text) {
  if (text.ends_with("/s")) text.remove_suffix(2);
  return static_cast<double>(parse_size(text));
}

std::vector<std::byte> parse_hex(std::string_view text) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> bytes;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == ' ' || c == ':' || c == '-') {
      ++i;
      continue;
    }
    if (digit(c) < 0) {
      throw std::invalid_argument(
          fmt::format("'{}' is not hex: '{}' at offset {} is not a hex digit", text, c, i));
    }
    if (i + 1 >= text.size() || digit(text[i + 1]) < 0) {
      throw std::invalid_argument(
          fmt::format("'{}' is not hex: the digit at offset {} has no partner", text, i));
    }
    bytes.push_back(static_cast<std::byte>(digit(c) * 16 + digit(text[i + 1])));
    i += 2;
  }
  return bytes;
}

std::string format_hex(std::span<const std::byte> bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const auto b : bytes) text += fmt::format("{:02x}", static_cast<unsigned>(b));
  return text;
}

std::string format_duration(std::chrono::nanoseconds value) {
  const auto ns = static_cast<double>(value.count());
  if (ns >= 1e9) return fmt::format("{:.3g} s", ns / 1e9);
  if (ns >= 1e6) return fmt::format("{:.3g} ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.3g} µs", ns / 1e3);
  return fmt::format("{} ns", value.count());
}

std::string format_size(std::size_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (bytes >= 1024 * 1024 * 1024) return fmt::format("{:.3g} GiB", b / (1024.0 * 1024 * 1024));
  if (bytes >= 1024 * 1024) return fmt::format("{:.3g} MiB", b / (1024.0 * 1024));
  if (bytes >= 1024) return fmt::format("{:.3g} KiB", b / 1024.0);
  return fmt::format("{} B", bytes);
}

std::string format_size_exact(std::size_t bytes) {
  for (const auto& [unit, scale] :
       {std::pair{"GiB", std::size_t{1} << 30}, std::pair{"MiB", std::size_t{1} << 20},
        std::pair{"KiB", std::size_t{1} << 10}}) {
    if (bytes != 0 && bytes % scale == 0) return fmt::format("{}{}", bytes / scale, unit);
  }
  return std::to_string(bytes);
}

std::string format_count(std::uint64_t value) {
  auto digits = std::to_string(value);
  for (auto i = static_cast<std::ptrdiff_t>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

}  // namespace sockkit::app
