#include "stop_signals.hpp"

#include <pthread.h>

#include <cstdlib>

#include "sockkit/sys/socket.hpp"

namespace sockkit::app {
namespace {

sigset_t stop_set() noexcept {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

}  // namespace

void block_stop_signals() noexcept {
  // A shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
  // sigwait: restore the default before blocking.
  // SIGHUP is left as it was found, so `nohup` (which ignores it) still means what it says.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  const sigset_t signals = stop_set();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Signals whose default is to end the process at once, with no drain and the socket file
  // left behind, and which a server has no use for: ignored, deliberately.
  ::signal(SIGUSR2, SIG_IGN);
  ::signal(SIGALRM, SIG_IGN);
}

StopSignals::StopSignals(std::function<void()> on_first, std::function<void()> before_exit) {
  waiter_ =
      std::thread([this, on_first = std::move(on_first), before_exit = std::move(before_exit)] {
        const sigset_t signals = stop_set();
        int received = 0;
        sigwait(&signals, &received);
        if (finished_) return;  // woken by the destructor
        on_first();
        sigwait(&signals, &received);
        if (finished_) return;
        if (before_exit) before_exit();
        std::_Exit(128 + received);
      });
}

StopSignals::~StopSignals() {
  // Wake the thread if it still waits for a first or second signal.
  finished_ = true;
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

std::function<void()> remove_socket_file(const net::Address& address) {
  if (address.family() != net::Address::Family::unix_path) return {};
  return [path = address.host()] {
    std::error_code ignored;  // exiting anyway: nothing more can be done about it
    sys::unlink_path(path, ignored);
  };
}

}  // namespace sockkit::app
