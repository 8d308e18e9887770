#include "sockkit/server/engine.hpp"

#include "blocking_engines.hpp"
#include "epoll_engine.hpp"
#include "uring_engine.hpp"

namespace sockkit::server {

std::string_view to_string(EngineKind kind) noexcept {
  switch (kind) {
    case EngineKind::iterative: return "iterative";
    case EngineKind::threaded: return "threaded";
    case EngineKind::epoll: return "epoll";
    case EngineKind::uring: return "uring";
  }
  return "unknown";
}

std::optional<EngineKind> parse_engine_kind(std::string_view name) noexcept {
  for (const auto kind :
       {EngineKind::iterative, EngineKind::threaded, EngineKind::epoll, EngineKind::uring}) {
    if (name == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::uint64_t Stats::closed_total() const noexcept {
  std::uint64_t total = 0;
  for (const auto n : closed) total += n;
  return total;
}

void StatsCounters::add_to(Stats& total) const noexcept {
  total.accepted += accepted_.load(std::memory_order_relaxed);
  total.rejected += rejected_.load(std::memory_order_relaxed);
  total.bytes_in += bytes_in_.load(std::memory_order_relaxed);
  total.bytes_out += bytes_out_.load(std::memory_order_relaxed);
  total.buffer_waits += buffer_waits_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < closed_.size(); ++i) {
    total.closed[i] += closed_[i].load(std::memory_order_relaxed);
  }
}

std::error_code check_engine(EngineKind kind) noexcept {
  return kind == EngineKind::uring ? detail::UringEngine::probe() : std::error_code();
}

std::unique_ptr<Engine> make_engine(EngineKind kind, ServerConfig config) {
  switch (kind) {
    case EngineKind::iterative: return std::make_unique<detail::IterativeEngine>(std::move(config));
    case EngineKind::threaded: return std::make_unique<detail::ThreadedEngine>(std::move(config));
    case EngineKind::epoll: return std::make_unique<detail::EpollEngine>(std::move(config));
    case EngineKind::uring: return std::make_unique<detail::UringEngine>(std::move(config));
  }
  throw std::invalid_argument("unknown engine");
}

}  // namespace sockkit::server
