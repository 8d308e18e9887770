#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Thin wrappers over the socket system calls. Each one retries EINTR where a retry is
// correct, sets close-on-exec at creation, adds MSG_NOSIGNAL to every send, and reports
// failure through `std::error_code` instead of errno. Nothing above this layer calls the
// kernel directly (docs/design.md, "Layers": the only raw syscalls).

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <string>
#include <system_error>

#include "sockkit/sys/fd.hpp"

namespace sockkit::sys {

/// socket(2) with SOCK_CLOEXEC added to `type`.
[[nodiscard]] Fd open_socket(int domain, int type, int protocol, std::error_code& ec) noexcept;

/// socketpair(2) with SOCK_CLOEXEC added to `type`; fills `first` and `second`.
void open_socket_pair(int domain, int type, Fd& first, Fd& second, std::error_code& ec) noexcept;

void bind(int fd, const sockaddr* address, socklen_t length, std::error_code& ec) noexcept;
void listen(int fd, int backlog, std::error_code& ec) noexcept;

/// accept4(2) with SOCK_CLOEXEC added to `flags`; retries EINTR. `peer` and `peer_length`
/// may both be null.
[[nodiscard]] Fd accept(int fd, sockaddr_storage* peer, socklen_t* peer_length, int flags,
                        std::error_code& ec) noexcept;

/// connect(2), as is: EINPROGRESS (non-blocking socket) and EINTR come back in `ec`, because
/// what to do next depends on the socket family (see net::StreamSocket::connect).
void connect(int fd, const sockaddr* address, socklen_t length, std::error_code& ec) noexcept;

/// send(2) with MSG_NOSIGNAL, so a closed peer is an EPIPE error and never a SIGPIPE.
[[nodiscard]] std::size_t send(int fd, std::span<const std::byte> data, int flags,
                               std::error_code& ec) noexcept;
/// sendmsg(2) of several buffers at once (a gathered write), with MSG_NOSIGNAL.
[[nodiscard]] std::size_t send_gathered(int fd, std::span<const iovec> buffers, int flags,
                                        std::error_code& ec) noexcept;
[[nodiscard]] std::size_t send_to(int fd, std::span<const std::byte> data, int flags,
                                  const sockaddr* to, socklen_t to_length,
                                  std::error_code& ec) noexcept;

/// recv(2); 0 means the peer closed (for a stream) or an empty datagram.
[[nodiscard]] std::size_t recv(int fd, std::span<std::byte> buffer, int flags,
                               std::error_code& ec) noexcept;
[[nodiscard]] std::size_t recv_from(int fd, std::span<std::byte> buffer, int flags,
                                    sockaddr_storage* from, socklen_t* from_length,
                                    std::error_code& ec) noexcept;

void shutdown(int fd, int how, std::error_code& ec) noexcept;

void local_address(int fd, sockaddr_storage& address, socklen_t& length,
                   std::error_code& ec) noexcept;
void peer_address(int fd, sockaddr_storage& address, socklen_t& length,
                  std::error_code& ec) noexcept;

/// Waits until `fd` has one of `events` (POLLIN, POLLOUT) or `timeout_ms` passes (negative:
/// wait forever). Returns the events that arrived, 0 on timeout. A signal does not shorten
/// the wait: poll is resumed with the time that remains.
[[nodiscard]] short poll_one(int fd, short events, int timeout_ms, std::error_code& ec) noexcept;

/// poll(2) on several descriptors, for at most `timeout_ms` (negative: forever); returns how
/// many are ready (their `revents` set). A signal ends the wait early with 0 ready rather
/// than an error: the caller goes round its loop again.
[[nodiscard]] std::size_t poll(std::span<pollfd> watched, int timeout_ms,
                               std::error_code& ec) noexcept;

void set_nonblocking(int fd, bool on, std::error_code& ec) noexcept;

/// Bytes the kernel still holds in a stream socket's send queue, not yet taken by the peer
/// (SIOCOUTQ): when it shrinks, the peer is reading, even while the socket is too full to
/// be reported writable.
[[nodiscard]] std::size_t unsent_bytes(int fd, std::error_code& ec) noexcept;

/// Bytes that have arrived on a stream socket and not been read yet (SIOCINQ).
[[nodiscard]] std::size_t unread_bytes(int fd, std::error_code& ec) noexcept;

/// The socket's pending error (SO_ERROR), which ends a non-blocking connect.
[[nodiscard]] std::error_code pending_error(int fd) noexcept;

void set_option_raw(int fd, int level, int name, const void* value, socklen_t length,
                    std::error_code& ec) noexcept;
void get_option_raw(int fd, int level, int name, void* value, socklen_t& length,
                    std::error_code& ec) noexcept;

/// unlink(2), for the file a Unix-domain listener leaves behind.
void unlink_path(const std::string& path, std::error_code& ec) noexcept;

/// Whether `path` is itself a socket file, looked at with lstat(2): a symbolic link is not
/// followed, so a link to a socket is not one. A path that does not exist is not a socket
/// and is no error; any other lstat failure sets `ec`.
bool is_socket_file(const std::string& path, std::error_code& ec) noexcept;

/// gethostname(2).
[[nodiscard]] std::string host_name(std::error_code& ec);

}  // namespace sockkit::sys
