#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstdint>
#include <optional>
#include <system_error>

#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/net/udp_socket.hpp"
#include "sockkit/reactor/time_source.hpp"

namespace sockkit::tools {

/// What a relay does besides moving bytes (what `sockkit connect` is built on: netcat as a
/// library). Its descriptors are borrowed, never closed.
struct RelayOptions {
  /// Each input line goes out as one frame; each frame that comes in is written out as one
  /// line, escaped as Python prints bytes (\n, \xNN, \\), so a frame holding a newline stays
  /// one line and no escape sequence reaches a terminal.
  bool framed = false;
  codec::FrameFormat format{};
  /// No traffic either way for this long ends the relay (`timed_out`). Zero: no limit.
  std::chrono::milliseconds idle_timeout{0};
  /// Datagrams: after the input ends, how long to keep writing out replies once none arrive.
  std::chrono::milliseconds datagram_linger{std::chrono::seconds(1)};
  int input = 0;   // standard input, by default (a pipe, a terminal, a file: any will do)
  int output = 1;  // standard output
  /// The clock for the timeouts (a test's ManualClock); null: the steady clock.
  reactor::TimeSource* time = nullptr;
};

/// How a relay ended, and what the caller needs to say so.
struct RelayEnd {
  enum class Why {
    done,             ///< the peer closed cleanly (datagrams: the input ended, replies stopped)
    idle,             ///< nothing moved either way for the idle timeout
    input_failed,     ///< reading the input failed (`error`)
    output_failed,    ///< writing the output failed (`error`)
    line_too_long,    ///< framed: an input line longer than the format's max_frame
    frame_too_large,  ///< framed: the peer declared a frame of `declared` bytes, too large
    cut_mid_frame,    ///< framed: the peer closed inside a frame (`cut` says where)
    peer_failed,      ///< the connection failed: sending, receiving or shutting down (`error`)
    unreachable,      ///< datagrams: the peer's host said nothing listens there
  };
  Why why = Why::done;
  std::error_code error{};
  std::uint64_t declared = 0;
  codec::Truncation cut{};
};

/// Relays over a connected stream socket, both ways at once, binary-safe, until the peer
/// closes: the input to the peer, the peer to the output. At the end of the input it shuts
/// down its sending side (the peer sees EOF, like OpenBSD nc -N) and keeps writing out what
/// comes until the peer closes. Reads the input only while less than 256 KiB waits for the
/// peer. The socket is made non-blocking. Throws std::system_error only when the event loop
/// cannot be made.
[[nodiscard]] RelayEnd relay_stream(int socket, const RelayOptions& options);

/// Relays datagrams: each read of the input is one datagram to `peer`, each datagram from
/// it is written out as it is. With no `peer` (a listener), the first sender becomes the
/// peer and others are ignored. Ends `datagram_linger` after the input ends with nothing
/// arriving.
[[nodiscard]] RelayEnd relay_datagrams(net::UdpSocket& socket, std::optional<net::Address> peer,
                                       const RelayOptions& options);

}  // namespace sockkit::tools
