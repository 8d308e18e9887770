#include "sockkit/client/load_config.hpp"

#include <algorithm>

#include "sockkit/client/load_report.hpp"

namespace sockkit::client {

std::string_view to_string(LoadMode mode) noexcept {
  switch (mode) {
    case LoadMode::pingpong: return "pingpong";
    case LoadMode::rate: return "rate";
    case LoadMode::stream: return "stream";
    case LoadMode::connect: return "connect";
    case LoadMode::hold: return "hold";
  }
  return "unknown";
}

std::optional<LoadMode> parse_load_mode(std::string_view name) noexcept {
  for (const auto mode :
       {LoadMode::pingpong, LoadMode::rate, LoadMode::stream, LoadMode::connect, LoadMode::hold}) {
    if (name == to_string(mode)) return mode;
  }
  return std::nullopt;
}

void LoadCounters::merge(const LoadCounters& other) noexcept {
  messages += other.messages;
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  connects += other.connects;
  mismatches += other.mismatches;
  framing_errors += other.framing_errors;
  early_closes += other.early_closes;
  resets += other.resets;
  connect_errors += other.connect_errors;
  other_errors += other.other_errors;
  overflows += other.overflows;
  held += other.held;
  unanswered += other.unanswered;
}

double LoadReport::messages_per_second() const noexcept {
  const auto seconds = std::chrono::duration<double>(measured).count();
  return seconds > 0 ? static_cast<double>(counters.messages) / seconds : 0.0;
}

double LoadReport::mib_per_second() const noexcept {
  const auto seconds = std::chrono::duration<double>(measured).count();
  return seconds > 0 ? static_cast<double>(counters.bytes_received) / seconds / (1024.0 * 1024.0)
                     : 0.0;
}

bool LoadReport::generator_saturated() const noexcept {
  const auto seconds = std::chrono::duration<double>(measured).count();
  const auto cpu_seconds = std::chrono::duration<double>(cpu).count();
  return seconds > 0 && cpu_seconds >= 0.9 * seconds * static_cast<double>(threads);
}

}  // namespace sockkit::client
