#include "engine_base.hpp"

#include <thread>

namespace sockkit::server::detail {

EngineBase::EngineBase(ServerConfig config)
    : config_(std::move(config)),
      listener_(net::StreamListener::bind(config_.listen, {.backlog = config_.backlog})),
      stop_(config_.drain_timeout),
      log_(config_) {}

EngineBase::~EngineBase() {
  stop();
}

void EngineBase::stop() noexcept {
  stop_.request();
  stop_listening(listener_);
}

void MultiLoopEngine::run() {
  std::vector<std::jthread> others;
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    others.emplace_back([loop = loops_[i].get()] { loop->run(); });
  }
  loops_.front()->run();
}

Stats MultiLoopEngine::stats() const {
  Stats total;
  for (const auto& loop : loops_) loop->counters().add_to(total);
  return total;
}

}  // namespace sockkit::server::detail
