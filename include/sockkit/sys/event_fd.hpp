#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <system_error>

#include "sockkit/sys/fd.hpp"

namespace sockkit::sys {

/// An eventfd used as a doorbell: `ring()` makes it readable, and it stays readable until
/// `clear()` (never, for a doorbell every thread polling must see, now or later). Owns the
/// fd; `ring()` is safe from any thread.
class EventFd {
 public:
  /// Throws std::system_error.
  static EventFd create();

  void ring() noexcept;
  /// Unreadable again until the next ring().
  void clear() noexcept;
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

 private:
  explicit EventFd(Fd fd) noexcept : fd_(std::move(fd)) {}
  Fd fd_;
};

/// A descriptor held in reserve (on /dev/null). When accept() fails with EMFILE, closing it
/// frees one slot to accept the waiting client and close it at once, so the client sees
/// EOF instead of hanging and the listener stops being readable (libuv, muduo).
class SpareFd {
 public:
  SpareFd() noexcept { refill(); }
  /// Frees the reserve for one accept, then takes it back.
  template <class AcceptAndClose>
  void spend(AcceptAndClose accept_and_close) {
    release();
    accept_and_close();
    refill();
  }
  /// The two halves of spend(), for an engine whose accept completes later.
  void release() noexcept { fd_.reset(); }
  void refill() noexcept;

 private:
  Fd fd_;
};

}  // namespace sockkit::sys
