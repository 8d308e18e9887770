#pragma once

// `sockkit connect`'s relays (tools::relay_stream and relay_datagrams), and what it says
// and exits with when they end.

#include <optional>

#include "sockkit/net/address.hpp"
#include "sockkit/net/udp_socket.hpp"
#include "sockkit/tools/relay.hpp"

namespace sockkit::app {

using tools::RelayOptions;

/// Relays over a connected stream socket until the peer closes; errors go to stderr,
/// prefixed "sockkit connect: ". Returns an exit status (exit_status.hpp).
int run_stream_relay(int socket, const net::Address& peer, const RelayOptions& options);

/// Relays datagrams (to `peer`, or to the first sender with none); likewise.
int run_datagram_relay(net::UdpSocket& socket, std::optional<net::Address> peer,
                       const RelayOptions& options);

}  // namespace sockkit::app
