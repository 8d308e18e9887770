#pragma once

#include <chrono>
#include <cstddef>

namespace sockkit::sys {

/// Raises this process's soft limit on open descriptors towards `wanted` (never above the
/// hard limit, which even root cannot exceed on some machines). Returns the soft limit now
/// in force.
std::size_t raise_open_file_limit(std::size_t wanted) noexcept;

/// How late the kernel may wake this thread from a timed wait, to batch wake-ups (default
/// 50 µs). A load generator's schedule wants it near zero.
void set_timer_slack(std::chrono::nanoseconds slack) noexcept;

/// CPU time this process has used so far, user plus system, all threads.
[[nodiscard]] std::chrono::nanoseconds process_cpu_time() noexcept;

/// CPU time the calling thread has used so far, user plus system.
[[nodiscard]] std::chrono::nanoseconds thread_cpu_time() noexcept;

}  // namespace sockkit::sys
