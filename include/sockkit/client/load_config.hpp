#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/address.hpp"

namespace sockkit::client {

/// How the load generator drives its connections.
enum class LoadMode {
  pingpong,  // closed loop: send a message, wait for all of its echo, repeat
  rate,      // open loop: messages on a fixed schedule, latency from the intended send time
  stream,    // pipelined: up to `window` bytes in flight per connection
  connect,   // connect, one echo, close, again
  hold,      // open every connection, probe each, stay idle, probe each again
};

[[nodiscard]] std::string_view to_string(LoadMode mode) noexcept;
[[nodiscard]] std::optional<LoadMode> parse_load_mode(std::string_view name) noexcept;

/// Everything a run needs. Defaults give a short 64-byte ping-pong on one connection.
struct LoadConfig {
  LoadMode mode = LoadMode::pingpong;
  net::Address target;
  std::size_t connections = 1;
  std::size_t threads = 1;
  /// Message sizes are drawn uniformly from [min_size, max_size] (equal: fixed size).
  std::size_t min_size = 64;
  std::size_t max_size = 64;
  /// Length-prefixed frames (for a framed-echo server) instead of raw bytes.
  bool framed = false;
  codec::FrameFormat frames;
  std::chrono::milliseconds duration{std::chrono::seconds(5)};
  /// Traffic before this much time has passed is not measured.
  std::chrono::milliseconds warmup{0};
  /// rate mode: messages per second over all connections.
  double rate = 1000;
  /// stream mode: bytes in flight per connection.
  std::size_t window = 64 * 1024;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  /// rate mode: replies a connection may owe before it stops sending (and counts overflows).
  std::size_t max_in_flight = 1000;
};

}  // namespace sockkit::client
