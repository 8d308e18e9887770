#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "sockkit/sys/fd.hpp"

namespace sockkit::sys {

/// An epoll instance: the set of descriptors one event loop waits on. Owns the epoll fd
/// (not the descriptors it watches). Loop thread only.
class Epoll {
 public:
  /// Creates the instance (close-on-exec). Throws std::system_error.
  static Epoll create();

  /// Watches `fd` for `events` (EPOLLIN, EPOLLOUT, ...); each event carries `token` back.
  void add(int fd, std::uint32_t events, std::uint64_t token, std::error_code& ec) noexcept;
  void modify(int fd, std::uint32_t events, std::uint64_t token, std::error_code& ec) noexcept;
  void remove(int fd, std::error_code& ec) noexcept;

  /// Waits up to `timeout` (negative: forever) and fills `events`; returns how many are
  /// ready. The timeout has nanosecond resolution (epoll_pwait2), not epoll_wait's
  /// milliseconds: a load generator's schedule needs it. A signal ends the wait early with
  /// 0 events rather than an error, so the loop just goes round again.
  std::size_t wait(std::span<epoll_event> events, std::chrono::nanoseconds timeout,
                   std::error_code& ec) noexcept;

  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

 private:
  explicit Epoll(Fd fd) noexcept : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace sockkit::sys
