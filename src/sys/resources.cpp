#include "sockkit/sys/resources.hpp"

#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string>

namespace sockkit::sys {

void give_back_free_memory() noexcept {
  ::malloc_trim(0);
}

std::size_t raise_open_file_limit(std::size_t wanted) noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

void set_timer_slack(std::chrono::nanoseconds slack) noexcept {
  ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(std::max<std::int64_t>(slack.count(), 1)));
}

std::chrono::nanoseconds process_cpu_time() noexcept {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return {};
  const auto as_ns = [](const timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  };
  return as_ns(usage.ru_utime) + as_ns(usage.ru_stime);
}

}  // namespace sockkit::sys

namespace sockkit::sys {

std::chrono::nanoseconds thread_cpu_time() noexcept {
  timespec now{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) return {};
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

MachineCpu parse_machine_cpu(std::string_view line) noexcept {
  if (!line.starts_with("cpu ")) return {};
  line.remove_prefix(4);
  MachineCpu cpu;
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  for (int field = 0; field < 8; ++field) {
    while (line.starts_with(' ')) line.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc{}) return {};
    line.remove_prefix(static_cast<std::size_t>(end - line.data()));
    cpu.total += value;
    if (field == 7) cpu.steal = value;
  }
  return cpu;
}

MachineCpu machine_cpu() noexcept {
  try {
    std::ifstream stat("/proc/stat");
    std::string line;
    std::getline(stat, line);
    return parse_machine_cpu(line);
  } catch (...) {
    return {};
  }
}

double steal_fraction(const MachineCpu& before, const MachineCpu& after) noexcept {
  if (after.total <= before.total || after.steal < before.steal) return 0;
  return static_cast<double>(after.steal - before.steal) /
         static_cast<double>(after.total - before.total);
}

}  // namespace sockkit::sys
