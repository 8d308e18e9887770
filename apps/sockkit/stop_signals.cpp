#include "stop_signals.hpp"

#include <pthread.h>

#include <cstdlib>

namespace sockkit::app {
namespace {

sigset_t stop_set() noexcept {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void block_stop_signals() noexcept {
  // A shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
  // sigwait: restore the default before blocking.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  const sigset_t signals = stop_set();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

StopSignals::StopSignals(std::function<void()> on_first) {
  waiter_ = std::thread([this, on_first = std::move(on_first)] {
    const sigset_t signals = stop_set();
    int received = 0;
    sigwait(&signals, &received);
    if (finished_) return;  // woken by the destructor
    on_first();
    sigwait(&signals, &received);
    if (!finished_) std::_Exit(128 + received);
  });
}

StopSignals::~StopSignals() {
  // Wake the thread if it still waits for a first or second signal.
  finished_ = true;
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

}  // namespace sockkit::app
