#include "accept_balance.hpp"

#include <algorithm>
#include <limits>

namespace sockkit::server::detail {

AcceptBalance::AcceptBalance(std::size_t loops, Clock::duration lapse)
    : lapse_(lapse), loops_(loops) {
  doorbells_.reserve(loops);
  for (std::size_t i = 0; i < loops; ++i) doorbells_.push_back(sys::EventFd::create());
}

bool AcceptBalance::leads(std::size_t loop) const noexcept {
  auto least = std::numeric_limits<std::size_t>::max();  // (one loop: it never leads)
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (i != loop) least = std::min(least, loops_[i].open);
  }
  const auto own = loops_[loop].open;
  return own > least && own - least > margin(least);
}

bool AcceptBalance::another_has_the_turn(std::size_t loop, Clock::time_point now) const noexcept {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (i != loop && loops_[i].turn && now - loops_[i].turn_since < lapse_) return true;
  }
  return false;
}

void AcceptBalance::give_turn(std::size_t loop, Clock::time_point now) noexcept {
  loops_[loop].waiting = false;
  loops_[loop].turn = true;
  loops_[loop].turn_since = now;
  doorbells_[loop].ring();
}

bool AcceptBalance::take_turn(std::size_t loop) {
  const std::lock_guard lock(mutex_);
  auto& self = loops_[loop];
  self.waiting = false;
  const auto now = Clock::now();
  if (leads(loop) && another_has_the_turn(loop, now)) {
    self.turn = false;
    self.waiting = true;
    return false;
  }
  self.turn = true;
  self.turn_since = now;
  return true;
}

void AcceptBalance::pass(std::size_t loop) {
  const std::lock_guard lock(mutex_);
  loops_[loop].turn = false;
  loops_[loop].waiting = false;
  const auto now = Clock::now();
  if (another_has_the_turn(loop, now)) return;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (loops_[i].waiting) give_turn(i, now);
  }
}

void AcceptBalance::set_open(std::size_t loop, std::size_t open) {
  const std::lock_guard lock(mutex_);
  loops_[loop].open = open;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (loops_[i].waiting && !leads(i)) give_turn(i, Clock::now());
  }
}

}  // namespace sockkit::server::detail
