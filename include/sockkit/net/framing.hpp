#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Length-prefixed frames over a blocking stream: the codec's format, sent and received
// whole. For event loops, use codec::FrameDecoder directly.
//
//   net::send_frame(stream, payload);            // header + payload in one gathered write
//   std::vector<std::byte> frame;
//   while (net::recv_frame(stream, frame)) { ... }   // false: the peer closed between frames

#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/stream_socket.hpp"

namespace sockkit::net {

/// Sends `payload` as one frame. A payload above `format.max_frame` is refused with
/// `codec::FrameErrc::too_large` before anything is sent.
void send_frame(StreamSocket& stream, std::span<const std::byte> payload,
                const codec::FrameFormat& format = {});
void send_frame(StreamSocket& stream, std::span<const std::byte> payload,
                const codec::FrameFormat& format, std::error_code& ec) noexcept;

/// Receives one frame into `payload` (resized to the frame's length). Returns false when the
/// peer closed cleanly before a new frame began. A declared length above `format.max_frame`
/// fails with `FrameErrc::too_large` before any payload is read or allocated; an end of
/// stream inside the frame fails with `FrameErrc::truncated`, and the message says how much
/// was missing.
bool recv_frame(StreamSocket& stream, std::vector<std::byte>& payload,
                const codec::FrameFormat& format = {});
bool recv_frame(StreamSocket& stream, std::vector<std::byte>& payload,
                const codec::FrameFormat& format, std::error_code& ec);

}  // namespace sockkit::net
