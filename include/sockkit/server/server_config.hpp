#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/address.hpp"
#include "sockkit/proto/protocol.hpp"
#include "sockkit/server/connection_event.hpp"

namespace sockkit::server {

/// How a server waits for its clients. Only this differs between engines; the protocols,
/// the limits and the stats are the same.
enum class EngineKind {
  iterative,  // one client at a time: the tutorial's first server
  threaded,   // a thread per client: the tutorial's `client_thread`
  epoll,      // one event loop per thread over non-blocking sockets
  uring,      // one io_uring per thread: multishot accept and receive, provided buffers
};

[[nodiscard]] std::string_view to_string(EngineKind kind) noexcept;
[[nodiscard]] std::optional<EngineKind> parse_engine_kind(std::string_view name) noexcept;

/// Everything a server needs, with safe defaults: each resource a client can make the
/// server hold has a bound (docs/design.md, idea 4).
struct ServerConfig {
  /// Where to listen: TCP v4/v6 or Unix. The tutorial's 127.0.0.1:65432.
  net::Address listen = net::Address::ipv4_loopback(65432);
  /// For an IPv6 `listen` address such as [::]: take IPv4 clients too (IPV6_V6ONLY off).
  bool dual_stack = false;
  int backlog = 511;
  /// A Unix path's permission bits: owner and group may connect, nobody else, whatever the
  /// umask (net::ListenOptions::unix_mode).
  unsigned unix_mode = 0660;
  /// Event-loop threads for `epoll` (0: one per core). Ignored by the other engines.
  std::size_t threads = 0;
  proto::ProtocolKind protocol = proto::ProtocolKind::echo;
  codec::FrameFormat frames;

  /// More clients than this are accepted and closed at once (they see EOF, not a hang).
  std::size_t max_connections = 10'000;
  /// A connection with no traffic either way for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  /// `iterative` only, which serves one client at a time: once a client has been served
  /// this long, it is closed as soon as another client is waiting, so one client (a slow
  /// sender that the idle timeout never catches) cannot hold the server. A client alone is
  /// never cut. 0: no limit.
  std::chrono::milliseconds turn_limit{std::chrono::seconds(30)};
  /// Replies queued for one client above this stop the server reading from it, so a client
  /// that does not read cannot make the server hold more than this for it.
  std::size_t high_water_mark = 256 * 1024;
  /// The storage of all clients' reply buffers together. Each read first sets aside what
  /// the replies to it may make that storage grow by (sized down, or not made, when there
  /// is not that much left), so the limit holds exactly, but for one trickle a client: once
  /// it is spent, a client with replies still unsent is not read until they go, and one
  /// with none may still read 4 KiB at a time (at most 4 KiB of storage past the limit):
  /// clients that read their replies keep being served, ones that do not stop growing the
  /// total. 0: no limit.
  std::size_t max_buffer_memory = 256 * 1024 * 1024;
  /// The kernel's send buffer for each client (SO_SNDBUF; the kernel doubles it). Left to
  /// autotuning it grows to megabytes per connection, all of it held for a client that does
  /// not read, and the send timeout would never see that client stall. 0: autotuning.
  std::size_t socket_send_buffer = 256 * 1024;
  /// The most replies the kernel keeps unsent for each TCP client (TCP_NOTSENT_LOWAT);
  /// what is in flight to a client that reads is not limited. For a client that does not
  /// read, the rest stays in the server's own buffer, under the high-water mark and the
  /// budget, where the server sees it (docs/performance.md, C10: a sixth of the kernel's
  /// memory for 2,000 such clients). 0: the kernel's default.
  std::size_t socket_unsent_limit = 64 * 1024;
  /// TCP keepalive on each client, so a peer that vanished (a cut cable, a crashed host:
  /// no FIN, no RST) is found even on a quiet connection: probes start after
  /// `keepalive_idle` of silence, `keepalive_interval` apart, and `keepalive_count`
  /// unanswered end it. A zero idle turns keepalive off.
  std::chrono::seconds keepalive_idle{60};
  std::chrono::seconds keepalive_interval{10};
  int keepalive_count = 6;
  /// TCP_USER_TIMEOUT: data sent and not acknowledged for this long ends the connection,
  /// the same for a peer gone mid-transfer. 0: the kernel's default (about 15 minutes).
  std::chrono::milliseconds tcp_user_timeout{std::chrono::seconds(60)};
  /// Replies queued with no write progress for this long close the connection.
  std::chrono::milliseconds send_timeout{std::chrono::seconds(30)};
  /// A message (frame) must complete within this of its first byte: the slowloris defence.
  std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};
  /// After stop(): how long active clients may finish before they are closed.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};

  /// The io_uring engine's sizes, per event loop. The defaults suit thousands of
  /// connections; tests shrink them to drive the full-queue and out-of-buffers paths.
  struct UringSizes {
    /// Submission queue entries (rounded up to a power of two by the kernel).
    unsigned queue_depth = 1024;
    /// Provided receive buffers: a power of two, at most 32768. When all are in use at
    /// once, receives wait for one to come back (ENOBUFS) rather than fail.
    unsigned buffer_count = 512;
    unsigned buffer_size = 16 * 1024;
    /// Multishot receives, each ending after a byte limit so the high-water mark and the
    /// budget hold (Linux 6.17+; an older kernel refuses the limit, and the engine then
    /// says so once and falls back). false: one receive per request, as on older kernels.
    bool multishot_receive = true;
  };
  UringSizes uring;

  /// Where the server reports what an operator should know (the limit reached, out of
  /// descriptors). Called from engine threads; empty: say nothing.
  std::function<void(std::string_view)> log;
  /// Told when each client connects, first sends, and closes (a verbose log). Called from
  /// engine threads, possibly several at once; empty: no per-connection work at all.
  std::function<void(const ConnectionEvent&)> on_connection;
};

}  // namespace sockkit::server
