#include "sockkit/client/load_generator.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "load_worker.hpp"
#include "sockkit/sys/resources.hpp"

namespace sockkit::client {
namespace {

void check(bool ok, const std::string& problem) {
  if (!ok) throw std::invalid_argument(problem);
}

void validate(const LoadConfig& c) {
  check(c.target.family() != net::Address::Family::unspecified, "no target address");
  check(c.connections >= 1, "--connections must be at least 1");
  check(c.threads >= 1, "--threads must be at least 1");
  check(c.threads <= c.connections, "--threads (" + std::to_string(c.threads) +
                                        ") cannot exceed --connections (" +
                                        std::to_string(c.connections) + ")");
  check(c.min_size >= 1 && c.min_size <= c.max_size,
        "--size range must be 1 or more and low-high, not " + std::to_string(c.min_size) + "-" +
            std::to_string(c.max_size));
  check(c.max_size <= 64 * 1024 * 1024, "--size is limited to 64 MiB per message");
  if (c.framed) {
    c.frames.validate();
    check(c.max_size <= c.frames.max_frame && c.max_size <= c.frames.header_limit(),
          "--size " + std::to_string(c.max_size) + " does not fit in a frame (maximum " +
              std::to_string(std::min<std::uint64_t>(c.frames.max_frame, c.frames.header_limit())) +
              ")");
  }
  check(c.duration.count() > 0, "--duration must be positive");
  check(c.warmup.count() >= 0, "--warmup cannot be negative");
  check(c.mode != LoadMode::rate || c.rate > 0, "--rate must be positive");
  check(c.mode != LoadMode::stream || c.window >= c.max_size,
        "--window must hold at least one message (--size)");
  check(c.max_in_flight >= 1, "max in flight must be at least 1");

  // Every connection is a descriptor; a few more for epoll, stdio and the runtime.
  const std::size_t wanted = c.connections + 2 * c.threads + 64;
  const std::size_t limit = sys::raise_open_file_limit(wanted);
  check(limit >= wanted, "--connections " + std::to_string(c.connections) + " needs about " +
                             std::to_string(wanted) +
                             " open descriptors, but this process may open only " +
                             std::to_string(limit) + " (ulimit -n; the hard limit caps it)");
}

}  // namespace

LoadGenerator::LoadGenerator(LoadConfig config) : config_(std::move(config)) {
  validate(config_);
  // Connections are dealt out evenly; the first threads take one more when it does not divide.
  std::size_t first = 0;
  for (std::size_t t = 0; t < config_.threads; ++t) {
    const std::size_t count =
        config_.connections / config_.threads + (t < config_.connections % config_.threads ? 1 : 0);
    workers_.push_back(std::make_unique<Worker>(config_, first, count, stopping_));
    first += count;
  }
}

LoadGenerator::~LoadGenerator() = default;

LoadReport LoadGenerator::run() {
  {
    std::vector<std::jthread> threads;
    for (auto& worker : workers_) threads.emplace_back([&worker] { worker->run(); });
  }
  LoadReport report;
  report.threads = workers_.size();
  for (const auto& worker : workers_) {
    report.counters.merge(worker->counters());
    report.latency.merge(worker->latency());
    report.measured = std::max(report.measured, worker->measured());
    report.cpu += worker->cpu();
    report.steal = std::max(report.steal, worker->steal());  // (each saw the same machine)
    if (report.first_error.empty()) report.first_error = worker->first_error();
  }
  return report;
}

std::uint64_t LoadGenerator::progress() const noexcept {
  std::uint64_t total = 0;
  for (const auto& worker : workers_) total += worker->progress();
  return total;
}

}  // namespace sockkit::client
