#pragma once

// Everything in the public API, for programs that would rather include one header.

#include "sockkit/codec/byte_order.hpp"
#include "sockkit/codec/text.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/net/stream_listener.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/net/tcp_listener.hpp"
#include "sockkit/net/tcp_stream.hpp"
#include "sockkit/net/udp_socket.hpp"
#include "sockkit/net/unix_listener.hpp"
#include "sockkit/net/unix_stream.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/fd.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"
