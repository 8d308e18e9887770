#pragma once

// `sockkit serve -v`: one line per moment of a connection's life. Peer data is untrusted;
// what of it reaches a line is cut short and escaped, so a client cannot write to the
// operator's terminal or forge log lines.

#include <cstddef>
#include <span>
#include <string>

#include "sockkit/server/connection_event.hpp"

namespace sockkit::app {

/// The most peer data a log line shows.
inline constexpr std::size_t kLoggedDataLimit = 64;

/// `b'Hello, world'`, escaped as Python prints bytes (`\xNN`, `\n`, `\\`); cut at `limit`
/// bytes with `... (N more bytes)` after it.
[[nodiscard]] std::string quoted_prefix(std::span<const std::byte> data,
                                        std::size_t limit = kLoggedDataLimit);

/// "Connected by 127.0.0.1:54321", "127.0.0.1:54321 sent b'Hello'",
/// "Closed 127.0.0.1:54321: peer_closed (in 12 B, out 12 B)".
[[nodiscard]] std::string describe(const server::ConnectionEvent& event);

}  // namespace sockkit::app
