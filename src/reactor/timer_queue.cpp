#include "timer_queue.hpp"

#include <algorithm>

namespace sockkit::reactor::detail {

std::uint64_t TimerQueue::add(TimePoint due, Duration period, Callback callback) {
  const auto id = next_id_;
  timers_.emplace(id, Timer{std::max(period, Duration::zero()), std::move(callback)});
  try {
    push({due, id});
  } catch (...) {
    timers_.erase(id);
    throw;
  }
  ++next_id_;
  return id;
}

bool TimerQueue::cancel(std::uint64_t id) noexcept {
  return timers_.erase(id) > 0;
}

std::optional<TimePoint> TimerQueue::next_due() {
  drop_cancelled_on_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().when;
}

std::size_t TimerQueue::run_due(TimePoint now) {
  const auto added_before = next_id_;
  std::size_t ran = 0;
  std::vector<Due> again;  // repeating timers, pushed back once this round is over
  for (drop_cancelled_on_top(); !heap_.empty() && heap_.front().when <= now;
       drop_cancelled_on_top()) {
    const auto due = heap_.front();
    if (due.id >= added_before) break;  // (added by a callback of this round: the next one)
    pop();
    auto found = timers_.find(due.id);
    auto callback = found->second.callback;  // a copy: the callback may cancel its timer
    if (found->second.period > Duration::zero()) {
      const auto next = due.when + found->second.period;
      again.push_back({next > now ? next : now + found->second.period, due.id});
    } else {
      timers_.erase(found);
    }
    ++ran;
    try {
      callback();
    } catch (...) {  // out to the loop's caller, the repeating timers kept
      put_back(again);
      throw;
    }
  }
  put_back(again);
  return ran;
}

void TimerQueue::put_back(const std::vector<Due>& again) {
  for (const auto& due : again) {
    if (timers_.contains(due.id)) push(due);
  }
}

void TimerQueue::push(Due due) {
  // Cancelled entries wait in the heap until they reach the top; when they are most of it,
  // it is rebuilt without them, so a timer set and cancelled per message cannot grow it.
  if (heap_.size() >= 64 && heap_.size() > 2 * timers_.size()) {
    std::erase_if(heap_, [this](const Due& d) { return !timers_.contains(d.id); });
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }
  heap_.push_back(due);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
}

void TimerQueue::pop() noexcept {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
  heap_.pop_back();
}

void TimerQueue::drop_cancelled_on_top() noexcept {
  while (!heap_.empty() && !timers_.contains(heap_.front().id)) pop();
}

}  // namespace sockkit::reactor::detail
