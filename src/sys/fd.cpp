#include "sockkit/sys/fd.hpp"

#include <unistd.h>

namespace sockkit::sys {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) {
    // Never retry close() on EINTR: Linux has already released the descriptor, and a retry
    // could close one that another thread has just been given.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace sockkit::sys
