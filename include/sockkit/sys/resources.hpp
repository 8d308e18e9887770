#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sockkit::sys {

/// Raises this process's soft limit on open descriptors towards `wanted` (never above the
/// hard limit, which even root cannot exceed on some machines). Returns the soft limit now
/// in force.
std::size_t raise_open_file_limit(std::size_t wanted) noexcept;

/// Returns memory the allocator holds free to the system (glibc's malloc_trim): after a
/// burst, freed buffers would otherwise stay in the process's resident size.
void give_back_free_memory() noexcept;

/// How late the kernel may wake this thread from a timed wait, to batch wake-ups (default
/// 50 µs). A load generator's schedule wants it near zero.
void set_timer_slack(std::chrono::nanoseconds slack) noexcept;

/// CPU time this process has used so far, user plus system, all threads.
[[nodiscard]] std::chrono::nanoseconds process_cpu_time() noexcept;

/// CPU time the calling thread has used so far, user plus system.
[[nodiscard]] std::chrono::nanoseconds thread_cpu_time() noexcept;

/// The whole machine's CPU time so far, all CPUs, in clock ticks: `total`, and of it
/// `steal`, the time a hypervisor ran something else while this machine's CPUs had work
/// (its vCPUs were descheduled). Zero where /proc/stat cannot be read.
struct MachineCpu {
  std::uint64_t total = 0;
  std::uint64_t steal = 0;
};
[[nodiscard]] MachineCpu machine_cpu() noexcept;
/// The same, from /proc/stat's first line ("cpu  user nice system idle iowait irq softirq
/// steal ..."); zero when the line is not that.
[[nodiscard]] MachineCpu parse_machine_cpu(std::string_view line) noexcept;
/// The share of `after - before` that was steal (0 when no time passed).
[[nodiscard]] double steal_fraction(const MachineCpu& before, const MachineCpu& after) noexcept;

}  // namespace sockkit::sys
