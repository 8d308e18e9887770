#pragma once

#include <chrono>
#include <cstddef>

namespace sockkit::sys {

/// Raises this process's soft limit on open descriptors towards `wanted` (never above the
/// hard limit, which even root cannot exceed on some machines). Returns the soft limit now
/// in force.
std::size_t raise_open_file_limit(std::size_t wanted) noexcept;

/// CPU time this process has used so far, user plus system, all threads.
[[nodiscard]] std::chrono::nanoseconds process_cpu_time() noexcept;

}  // namespace sockkit::sys
