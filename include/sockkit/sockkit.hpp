#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Everything in the public API, for programs that would rather include one header.

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/byte_order.hpp"
#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/codec/frame_format.hpp"
#include "sockkit/codec/text.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/net/framing.hpp"
#include "sockkit/net/stream_listener.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/net/tcp_listener.hpp"
#include "sockkit/net/tcp_stream.hpp"
#include "sockkit/net/udp_socket.hpp"
#include "sockkit/net/unix_listener.hpp"
#include "sockkit/net/unix_stream.hpp"
#include "sockkit/proto/close_reason.hpp"
#include "sockkit/proto/discard.hpp"
#include "sockkit/proto/echo.hpp"
#include "sockkit/proto/framed_echo.hpp"
#include "sockkit/proto/protocol.hpp"
#include "sockkit/reactor/event_loop.hpp"
#include "sockkit/reactor/time_source.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/fd.hpp"
#include "sockkit/sys/file.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"
#include "sockkit/tools/relay.hpp"
