#include "sockkit/sys/fd.hpp"

#include <unistd.h>

#include <cerrno>

#include "sockkit/sys/error.hpp"

namespace sockkit::sys {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) {
    // Never retry close() on EINTR: Linux has already released the descriptor, and a retry
    // could close one that another thread has just been given.
    ::close(fd_);
  }
  fd_ = fd;
}

std::size_t read(int fd, std::span<std::byte> buffer, std::error_code& ec) noexcept {
  for (;;) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) {
      ec = last_error();
      return 0;
    }
  }
}

void write_all(int fd, std::span<const std::byte> bytes, std::error_code& ec) noexcept {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = last_error();
      return;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

}  // namespace sockkit::sys
