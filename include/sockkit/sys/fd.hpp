#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <span>
#include <system_error>

namespace sockkit::sys {

/// Owns one file descriptor and closes it when destroyed. Move-only; a moved-from `Fd` is
/// empty. Not synchronised: one thread at a time may reset or move it.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  /// The descriptor, or -1 when empty. Ownership stays here.
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership without closing; the caller now owns the returned descriptor.
  [[nodiscard]] int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

  /// Closes the current descriptor (if any) and takes ownership of `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

/// read(2) on any descriptor (a pipe, a terminal, a file), EINTR retried: the bytes read,
/// 0 at its end, or 0 and `ec` set (EAGAIN on a non-blocking one with nothing to read).
[[nodiscard]] std::size_t read(int fd, std::span<std::byte> buffer, std::error_code& ec) noexcept;
/// Writes all of `bytes` to a blocking descriptor, whatever number of write(2) calls it
/// takes, EINTR retried; stops at the first error, setting `ec`.
void write_all(int fd, std::span<const std::byte> bytes, std::error_code& ec) noexcept;

}  // namespace sockkit::sys
