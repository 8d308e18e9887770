#include "sockkit/reactor/time_source.hpp"

#include <algorithm>

namespace sockkit::reactor {
namespace {

class SteadyTime final : public TimeSource {
 public:
  [[nodiscard]] TimePoint now() const noexcept override { return Clock::now(); }
  [[nodiscard]] bool moves_by_itself() const noexcept override { return true; }
  std::size_t on_move(std::function<void()> /*wake*/) override { return 0; }
  void forget(std::size_t /*key*/) noexcept override {}
};

}  // namespace

TimeSource& steady_time() noexcept {
  static SteadyTime time;
  return time;
}

TimePoint ManualClock::now() const noexcept {
  const std::lock_guard lock(mutex_);
  return now_;
}

std::size_t ManualClock::on_move(std::function<void()> wake) {
  const std::lock_guard lock(mutex_);
  woken_.emplace_back(next_key_, std::move(wake));
  return next_key_++;
}

void ManualClock::forget(std::size_t key) noexcept {
  const std::lock_guard lock(mutex_);
  std::erase_if(woken_, [key](const auto& entry) { return entry.first == key; });
}

void ManualClock::advance(Duration by) {
  const std::lock_guard lock(mutex_);
  now_ += std::max(by, Duration::zero());
  for (const auto& entry : woken_) entry.second();  // (a doorbell: quick, and never throws)
}

}  // namespace sockkit::reactor
