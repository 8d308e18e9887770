#include "sockkit/sys/event_fd.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "sockkit/sys/error.hpp"

namespace sockkit::sys {

EventFd EventFd::create() {
  Fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) throw_error(last_error(), "eventfd");
  return EventFd(std::move(fd));
}

void EventFd::ring() noexcept {
  const std::uint64_t one = 1;
  // A full counter (impossible in practice) would fail with EAGAIN: still readable, fine.
  [[maybe_unused]] const auto written = ::write(fd_.get(), &one, sizeof one);
}

void EventFd::clear() noexcept {
  std::uint64_t count = 0;
  // Non-blocking: not rung since the last clear is EAGAIN, and nothing to do.
  [[maybe_unused]] const auto read = ::read(fd_.get(), &count, sizeof count);
}

void SpareFd::refill() noexcept {
  fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace sockkit::sys
