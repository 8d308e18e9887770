#include "engine_base.hpp"

#include <exception>
#include <mutex>
#include <thread>

namespace sockkit::server::detail {

EngineBase::EngineBase(ServerConfig config)
    : config_(std::move(config)),
      listener_(net::StreamListener::bind(config_.listen, {.backlog = config_.backlog,
                                                           .dual_stack = config_.dual_stack,
                                                           .unix_mode = config_.unix_mode})),
      stop_(config_.drain_timeout),
      log_(config_),
      budget_(config_.max_buffer_memory) {}

EngineBase::~EngineBase() {
  stop();
}

void EngineBase::stop() noexcept {
  stop_.request();
  stop_listening(listener_);
}

void MultiLoopEngine::run() {
  // A loop that fails (a ring it cannot set up) stops the others, and run() rethrows its
  // error once all have returned, instead of the process terminating from a thread.
  std::mutex mutex;
  std::exception_ptr failure;
  const auto run_loop = [&](EventLoop& loop) {
    try {
      loop.run();
    } catch (...) {
      {
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
      }
      stop();
    }
  };
  {
    std::vector<std::jthread> others;
    for (std::size_t i = 1; i < loops_.size(); ++i) {
      others.emplace_back([&run_loop, loop = loops_[i].get()] { run_loop(*loop); });
    }
    run_loop(*loops_.front());
  }
  if (failure) std::rethrow_exception(failure);
}

std::vector<Stats> MultiLoopEngine::loop_stats() const {
  std::vector<Stats> each(loops_.size());
  for (std::size_t i = 0; i < loops_.size(); ++i) loops_[i]->counters().add_to(each[i]);
  return each;
}

Stats MultiLoopEngine::stats() const {
  Stats total;
  for (const auto& loop : loops_) loop->counters().add_to(total);
  add_budget_to(total);
  return total;
}

}  // namespace sockkit::server::detail
