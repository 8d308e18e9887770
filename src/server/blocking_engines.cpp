#include "blocking_engines.hpp"

#include <poll.h>

#include <array>

#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::server::detail {
namespace {

using namespace std::chrono_literals;

constexpr auto kReapEvery = 200ms;  // the threaded engine joins finished threads this often

}  // namespace

Stats BlockingEngineBase::stats() const {
  Stats total;
  counters_.add_to(total);
  add_budget_to(total);
  return total;
}

sys::Fd BlockingEngineBase::accept_next() {
  while (!stop_.requested()) {
    std::array<pollfd, 2> watched{pollfd{listener_.native_handle(), POLLIN, 0},
                                  pollfd{stop_.fd(), POLLIN, 0}};
    std::error_code waiting;  // (an error is taken as a timeout: tried again shortly)
    if (sys::poll(watched, static_cast<int>(kReapEvery.count()), waiting) == 0) {
      return {};  // a timeout (or a signal): the caller gets a chance to do its chores
    }
    if (stop_.requested()) break;
    std::error_code ec;
    sys::Fd fd = sys::accept(listener_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK, ec);
    if (!ec) return fd;
    if (is_resource_exhaustion(ec)) {
      log_.say("accept on " + listener_.local_address().to_string() + ": " + ec.message() +
               "; closing new clients until descriptors free up");
      spare_.spend([&] {
        std::error_code ignored;
        sys::Fd shed = sys::accept(listener_.native_handle(), nullptr, nullptr, 0, ignored);
      });
      std::this_thread::sleep_for(10ms);  // no busy loop if even the spare did not help
    } else if (!is_transient_accept_error(ec)) {
      log_.say("accept on " + listener_.local_address().to_string() + ": " + ec.message());
      std::this_thread::sleep_for(10ms);
    }
  }
  return {};
}

void IterativeEngine::run() {
  while (!stop_.requested()) {
    sys::Fd fd = accept_next();
    if (budget_.take_give_back(!fd)) sys::give_back_free_memory();  // (served one: idle again)
    if (!fd) continue;
    counters_.accepted();
    serve_blocking(std::move(fd), {config_, counters_, stop_, budget_, listener_.native_handle()});
  }
}

ThreadedEngine::~ThreadedEngine() {
  stop();
  for (auto& client : clients_) {
    if (client.thread.joinable()) client.thread.join();
  }
}

void ThreadedEngine::reap_finished() {
  clients_.remove_if([](Client& client) {
    if (!client.done.load(std::memory_order_acquire)) return false;
    client.thread.join();
    return true;
  });
}

void ThreadedEngine::run() {
  while (!stop_.requested()) {
    sys::Fd fd = accept_next();
    reap_finished();
    if (budget_.take_give_back(clients_.empty())) sys::give_back_free_memory();
    if (!fd) continue;
    if (clients_.size() >= config_.max_connections) {
      counters_.rejected();  // closed at once: the client sees EOF, not a hang
      log_.say("connection limit (" + std::to_string(config_.max_connections) + ") reached on " +
               listener_.local_address().to_string() + "; closing new clients");
      continue;
    }
    Client* client = nullptr;
    try {
      client = &clients_.emplace_back();
      client->thread = std::thread([this, client, fd = std::move(fd)]() mutable {
        serve_blocking(std::move(fd), {config_, counters_, stop_, budget_});
        client->done.store(true, std::memory_order_release);
      });
      counters_.accepted();
    } catch (const std::exception& e) {
      // No thread (or no memory) for this client: it is closed, the others go on. The
      // lambda, and the fd it holds, are gone by now: the client sees EOF.
      if (client != nullptr) clients_.pop_back();
      counters_.rejected();
      log_.say("cannot serve a new client on " + listener_.local_address().to_string() + ": " +
               e.what() + "; closing it");
    }
  }
  // Draining: every session sees the doorbell and ends by the drain deadline.
  for (auto& client : clients_) client.thread.join();
  clients_.clear();
}

}  // namespace sockkit::server::detail
