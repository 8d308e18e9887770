#include "sockkit/sys/epoll.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <limits>

#include "sockkit/sys/error.hpp"

namespace sockkit::sys {
namespace {

void control(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t token,
             std::error_code& ec) noexcept {
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  if (::epoll_ctl(epoll_fd, op, fd, &event) < 0) {
    ec = last_error();
  } else {
    ec.clear();
  }
}

}  // namespace

Epoll Epoll::create() {
  Fd fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!fd) throw_error(last_error(), "epoll_create1");
  return Epoll(std::move(fd));
}

void Epoll::add(int fd, std::uint32_t events, std::uint64_t token, std::error_code& ec) noexcept {
  control(fd_.get(), EPOLL_CTL_ADD, fd, events, token, ec);
}

void Epoll::modify(int fd, std::uint32_t events, std::uint64_t token,
                   std::error_code& ec) noexcept {
  control(fd_.get(), EPOLL_CTL_MOD, fd, events, token, ec);
}

void Epoll::remove(int fd, std::error_code& ec) noexcept {
  control(fd_.get(), EPOLL_CTL_DEL, fd, 0, 0, ec);
}

std::size_t Epoll::wait(std::span<epoll_event> events, std::chrono::nanoseconds timeout,
                        std::error_code& ec) noexcept {
  timespec wait_for{};
  const timespec* limit = nullptr;
  if (timeout >= std::chrono::nanoseconds::zero()) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    wait_for.tv_sec = static_cast<time_t>(seconds.count());
    wait_for.tv_nsec = static_cast<long>((timeout - seconds).count());
    limit = &wait_for;
  }
  // epoll_pwait2 is Linux 5.11 and later (and unknown to valgrind 3.19); without it, the
  // wait rounds up to whole milliseconds.
  static std::atomic<bool> have_pwait2{true};
  int ready = -1;
  if (have_pwait2.load(std::memory_order_relaxed)) {
    ready =
        ::epoll_pwait2(fd_.get(), events.data(), static_cast<int>(events.size()), limit, nullptr);
    if (ready < 0 && errno == ENOSYS) have_pwait2.store(false, std::memory_order_relaxed);
  }
  if (!have_pwait2.load(std::memory_order_relaxed)) {
    const auto ms = timeout < std::chrono::nanoseconds::zero()
                        ? -1
                        : static_cast<int>(std::min<std::chrono::milliseconds::rep>(
                              std::chrono::ceil<std::chrono::milliseconds>(timeout).count(),
                              std::numeric_limits<int>::max()));
    ready = ::epoll_wait(fd_.get(), events.data(), static_cast<int>(events.size()), ms);
  }
  if (ready >= 0) {
    ec.clear();
    return static_cast<std::size_t>(ready);
  }
  if (errno == EINTR) {
    ec.clear();
    return 0;
  }
  ec = last_error();
  return 0;
}

}  // namespace sockkit::sys
