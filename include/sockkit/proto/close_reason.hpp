#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstdint>
#include <string_view>

namespace sockkit::proto {

/// Why a connection ended. Protocols report the ones they can see (the peer closed, a bad
/// frame); engines add the rest. Engines count closes by reason.
enum class CloseReason : std::uint8_t {
  peer_closed,      // the peer ended the stream cleanly, on a message boundary
  peer_reset,       // the peer reset the connection
  peer_gone,        // the kernel gave up on the peer (keepalive, TCP_USER_TIMEOUT): no FIN, no RST
  idle,             // nothing arrived for the idle timeout
  send_timeout,     // the peer stopped reading replies for the send timeout
  frame_timeout,    // a frame took longer than the frame timeout to arrive (slowloris)
  frame_too_large,  // a frame header declared more than the maximum frame size
  truncated,        // the stream ended inside a frame
  server_stopping,  // the server was stopping and the drain time ran out
  error,            // any other socket error
  turn_over,        // iterative engine: its turn limit was up and another client was waiting
};

inline constexpr std::size_t kCloseReasonCount = 11;

/// "peer_closed", "frame_too_large", ...: the names stats and logs use.
[[nodiscard]] constexpr std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::peer_closed: return "peer_closed";
    case CloseReason::peer_reset: return "peer_reset";
    case CloseReason::peer_gone: return "peer_gone";
    case CloseReason::idle: return "idle";
    case CloseReason::send_timeout: return "send_timeout";
    case CloseReason::frame_timeout: return "frame_timeout";
    case CloseReason::frame_too_large: return "frame_too_large";
    case CloseReason::truncated: return "truncated";
    case CloseReason::server_stopping: return "server_stopping";
    case CloseReason::error: return "error";
    case CloseReason::turn_over: return "turn_over";
  }
  return "unknown";
}

}  // namespace sockkit::proto
