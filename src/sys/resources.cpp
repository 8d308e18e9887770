#include "sockkit/sys/resources.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>

namespace sockkit::sys {

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

}  // namespace sockkit::sys
