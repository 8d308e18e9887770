#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstdint>
#include <span>

#include "sockkit/net/address.hpp"
#include "sockkit/proto/close_reason.hpp"

namespace sockkit::server {

/// One moment in a connection's life, for a per-connection log (`sockkit serve -v`). Engines
/// report these only when `ServerConfig::on_connection` is set; otherwise they cost nothing.
struct ConnectionEvent {
  enum class Kind {
    opened,      // a client was accepted (and is within the connection limit)
    first_data,  // its first bytes arrived: `data` holds one read's worth of them
    closed,      // it was closed: `reason`, `bytes_in`, `bytes_out` are set
  };

  Kind kind;
  /// The client's address (unspecified if the kernel could no longer tell it).
  const net::Address& peer;
  /// Peer data, untrusted: escape it before it reaches a terminal or a log.
  std::span<const std::byte> data = {};
  proto::CloseReason reason = proto::CloseReason::peer_closed;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

}  // namespace sockkit::server
