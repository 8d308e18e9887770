#pragma once

// The heart of `sockkit connect`: bytes from stdin to a peer and from the peer to stdout,
// both at once, binary-safe, with netcat's half-close. One thread, one poll() loop.

#include <chrono>
#include <optional>

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/net/udp_socket.hpp"

namespace sockkit::app {

struct RelayOptions {
  /// Each input line goes out as one frame; each frame that comes in is printed as a line.
  bool framed = false;
  codec::FrameFormat format;
  /// No traffic either way for this long ends the relay (kExitTimedOut). Zero: no limit.
  std::chrono::milliseconds idle_timeout{0};
  /// UDP: after the input ends, how long to keep printing replies once none arrive.
  std::chrono::milliseconds datagram_linger{std::chrono::seconds(1)};
  int input = 0;   // stdin
  int output = 1;  // stdout
};

/// Relays over a connected stream socket until the peer closes. At the end of the input it
/// shuts down its sending side (the peer sees EOF) and keeps printing until the peer closes.
/// Errors go to stderr, prefixed "sockkit connect: ". Returns an exit status (exit_status.hpp).
int relay_stream(int socket, const net::Address& peer, const RelayOptions& options);

/// Relays datagrams: each read of the input is one datagram, each datagram received is
/// written out as it is. With no `peer` (a listener), the first sender becomes the peer and
/// others are ignored. Ends `datagram_linger` after the input ends with nothing arriving.
int relay_datagrams(net::UdpSocket& socket, std::optional<net::Address> peer,
                    const RelayOptions& options);

}  // namespace sockkit::app
