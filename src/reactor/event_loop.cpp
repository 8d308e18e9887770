#include "sockkit/reactor/event_loop.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "sockkit/sys/epoll.hpp"
#include "sockkit/sys/error.hpp"
#include "sockkit/sys/event_fd.hpp"
#include "timer_queue.hpp"

namespace sockkit::reactor {
namespace {

constexpr std::uint64_t kDoorbellToken = ~std::uint64_t{0};

std::uint32_t epoll_events(Ready interest) noexcept {
  return (any(interest, Ready::read) ? std::uint32_t{EPOLLIN} | EPOLLRDHUP : 0u) |
         (any(interest, Ready::write) ? std::uint32_t{EPOLLOUT} : 0u);
}

Ready ready_of(std::uint32_t events) noexcept {
  auto ready = Ready::none;
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0) ready = ready | Ready::read;
  if ((events & EPOLLOUT) != 0) ready = ready | Ready::write;
  if ((events & EPOLLHUP) != 0) ready = ready | Ready::hangup;
  if ((events & EPOLLERR) != 0) ready = ready | Ready::error;
  return ready;
}

}  // namespace

class EventLoop::Impl {
 public:
  explicit Impl(Options options)
      : time_(options.time != nullptr ? *options.time : steady_time()),
        epoll_(sys::Epoll::create()),
        doorbell_(sys::EventFd::create()) {
    std::error_code ec;
    epoll_.add(doorbell_.native_handle(), EPOLLIN, kDoorbellToken, ec);
    if (ec) sys::throw_error(ec, "epoll_ctl ADD doorbell");
    if (!time_.moves_by_itself()) {
      clock_key_ = time_.on_move([this] { doorbell_.ring(); });
    }
  }
  ~Impl() {
    if (!time_.moves_by_itself()) time_.forget(clock_key_);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void run() {
    // A stop() ends this run, or the next one if none is under way; either takes it.
    while (!stopping_.exchange(false, std::memory_order_acq_rel)) run_once(std::chrono::hours(1));
  }

  void run_once(Duration most);

  void stop() noexcept {
    stopping_.store(true, std::memory_order_release);
    doorbell_.ring();
  }

  [[nodiscard]] bool in_loop_thread() const noexcept {
    return thread_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

  void post(std::function<void()> function) {
    {
      const std::lock_guard lock(posted_mutex_);
      posted_.push_back(std::move(function));
    }
    doorbell_.ring();
  }

  [[nodiscard]] TimePoint now() const noexcept { return time_.now(); }

  TimerId add_timer(Duration delay, Duration period, std::function<void()> callback) {
    return timers_.add(now() + std::max(delay, Duration::zero()), period, std::move(callback));
  }
  bool cancel(TimerId timer) noexcept { return timers_.cancel(timer); }

  WatchId watch(int fd, Ready interest, std::function<void(Ready)> callback);
  void change(WatchId id, Ready interest);
  void unwatch(WatchId id) noexcept;

 private:
  // A watched descriptor's slot; an event for an unwatched one is told by its generation.
  struct Watch {
    int fd = -1;
    std::uint32_t generation = 1;  // (so that no id is 0)
    bool open = false;
    Ready interest = Ready::none;  // as epoll was last told
    std::function<void(Ready)> callback;
  };
  [[nodiscard]] static WatchId id_of(std::size_t slot, std::uint32_t generation) noexcept {
    return (std::uint64_t{generation} << 32) | slot;
  }
  Watch* find(WatchId id) noexcept {
    const auto slot = static_cast<std::size_t>(id & 0xFFFFFFFF);
    if (slot >= watches_.size()) return nullptr;
    auto& w = watches_[slot];
    return w.open && w.generation == static_cast<std::uint32_t>(id >> 32) ? &w : nullptr;
  }
  void run_posted();

  TimeSource& time_;
  std::size_t clock_key_ = 0;
  sys::Epoll epoll_;
  sys::EventFd doorbell_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::thread::id> thread_{};
  detail::TimerQueue timers_;
  std::vector<Watch> watches_;
  std::vector<std::size_t> free_slots_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;  // the posted functions of this round
};

void EventLoop::Impl::run_once(Duration most) {
  thread_.store(std::this_thread::get_id(), std::memory_order_release);
  auto wait = std::max(most, Duration::zero());
  if (const auto due = timers_.next_due()) {
    const auto until = *due - now();
    // A clock moved by hand wakes the loop when it moves: no sleeping until a timer.
    wait = until <= Duration::zero() ? Duration::zero()
                                     : (time_.moves_by_itself() ? std::min(wait, until) : wait);
  }
  std::array<epoll_event, 256> events{};
  std::error_code ec;
  const auto ready = epoll_.wait(events, wait, ec);  // EINTR: 0 events, no error
  if (ec) sys::throw_error(ec, "epoll_wait");
  for (std::size_t i = 0; i < ready; ++i) {
    const auto token = events[i].data.u64;
    if (token == kDoorbellToken) {
      doorbell_.clear();
      continue;
    }
    auto* w = find(token);
    if (w == nullptr) continue;   // unwatched by an earlier callback of this round
    auto callback = w->callback;  // a copy: the callback may unwatch (and free) its slot
    callback(ready_of(events[i].events));
  }
  timers_.run_due(now());
  run_posted();
}

void EventLoop::Impl::run_posted() {
  {
    const std::lock_guard lock(posted_mutex_);
    running_.swap(posted_);
  }
  // What these post runs next round, so a function that posts itself cannot hold the loop.
  std::size_t next = 0;
  try {
    for (; next < running_.size(); ++next) running_[next]();
  } catch (...) {
    // The rest stay first in line for the next round.
    const std::lock_guard lock(posted_mutex_);
    posted_.insert(
        posted_.begin(),
        std::make_move_iterator(running_.begin() + static_cast<std::ptrdiff_t>(next) + 1),
        std::make_move_iterator(running_.end()));
    running_.clear();
    throw;
  }
  running_.clear();
}

WatchId EventLoop::Impl::watch(int fd, Ready interest, std::function<void(Ready)> callback) {
  // Everything that allocates first, so a failure changes nothing; unwatch() then never
  // allocates (its free slot has room already).
  const bool reused = !free_slots_.empty();
  const auto slot = reused ? free_slots_.back() : watches_.size();
  if (!reused) {
    free_slots_.reserve(watches_.size() + 1);
    watches_.emplace_back();
  }
  auto& w = watches_[slot];
  std::error_code ec;
  epoll_.add(fd, epoll_events(interest), id_of(slot, w.generation), ec);
  if (ec) {
    if (!reused) watches_.pop_back();
    sys::throw_error(ec, "epoll_ctl ADD");
  }
  if (reused) free_slots_.pop_back();
  w.fd = fd;
  w.open = true;
  w.interest = interest;
  w.callback = std::move(callback);
  return id_of(slot, w.generation);
}

void EventLoop::Impl::change(WatchId id, Ready interest) {
  auto* w = find(id);
  if (w == nullptr || w->interest == interest) return;  // (no system call for no change)
  std::error_code ec;
  epoll_.modify(w->fd, epoll_events(interest), id, ec);
  if (ec) sys::throw_error(ec, "epoll_ctl MOD");
  w->interest = interest;
}

void EventLoop::Impl::unwatch(WatchId id) noexcept {
  auto* w = find(id);
  if (w == nullptr) return;
  std::error_code ignored;  // (already closed: the kernel dropped it itself)
  epoll_.remove(w->fd, ignored);
  w->open = false;
  w->fd = -1;
  w->callback = nullptr;
  ++w->generation;
  free_slots_.push_back(static_cast<std::size_t>(id & 0xFFFFFFFF));  // (room reserved)
}

EventLoop::EventLoop(Options options) : impl_(std::make_unique<Impl>(options)) {}
EventLoop::EventLoop() : EventLoop(Options{}) {}
EventLoop::~EventLoop() = default;

void EventLoop::run() {
  impl_->run();
}
void EventLoop::run_once(Duration most) {
  impl_->run_once(most);
}
void EventLoop::stop() noexcept {
  impl_->stop();
}
bool EventLoop::in_loop_thread() const noexcept {
  return impl_->in_loop_thread();
}
void EventLoop::post(std::function<void()> function) {
  impl_->post(std::move(function));
}
TimePoint EventLoop::now() const noexcept {
  return impl_->now();
}
TimerId EventLoop::after(Duration delay, std::function<void()> callback) {
  return impl_->add_timer(delay, Duration::zero(), std::move(callback));
}
TimerId EventLoop::every(Duration period, std::function<void()> callback) {
  const auto at_least = std::max(period, Duration(1));
  return impl_->add_timer(at_least, at_least, std::move(callback));
}
bool EventLoop::cancel(TimerId timer) noexcept {
  return impl_->cancel(timer);
}
WatchId EventLoop::watch(int fd, Ready interest, std::function<void(Ready)> callback) {
  return impl_->watch(fd, interest, std::move(callback));
}
void EventLoop::change(WatchId watch, Ready interest) {
  impl_->change(watch, interest);
}
void EventLoop::unwatch(WatchId watch) noexcept {
  impl_->unwatch(watch);
}

}  // namespace sockkit::reactor
