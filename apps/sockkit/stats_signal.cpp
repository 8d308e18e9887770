#include "stats_signal.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace sockkit::app {
namespace {

std::atomic<int> wake_fd{-1};  // the pipe's write end while a StatsSignal lives

void on_signal(int) {
  const int saved = errno;  // the interrupted code may be about to read errno
  const int fd = wake_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const char byte = 0;
    [[maybe_unused]] const auto written = ::write(fd, &byte, 1);  // full pipe: one is pending
  }
  errno = saved;
}

}  // namespace

StatsSignal::StatsSignal(std::function<void()> report) {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  read_end_.reset(ends[0]);
  write_end_.reset(ends[1]);
  ::fcntl(write_end_.get(), F_SETFL, O_NONBLOCK);  // the handler never blocks
  wake_fd = write_end_.get();

  reporter_ = std::thread([this, report = std::move(report)] {
    // This thread never takes the signal itself: it lands on the engine's threads.
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    std::array<char, 256> bytes{};
    while (true) {
      const auto got = ::read(read_end_.get(), bytes.data(), bytes.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0 || finished_) return;
      report();
    }
  });

  struct sigaction action {};
  action.sa_handler = on_signal;
  // No SA_RESTART: an interrupted blocking call (the threaded engine's recv and send, an
  // accept) returns EINTR and sockkit's own code retries it, as it must under any program
  // that handles a signal this way.
  action.sa_flags = 0;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
}

StatsSignal::~StatsSignal() {
  ::signal(SIGUSR1, SIG_IGN);  // a late one must not end a process that is finishing
  wake_fd = -1;
  finished_ = true;
  const char byte = 0;
  [[maybe_unused]] const auto written = ::write(write_end_.get(), &byte, 1);
  reporter_.join();
}

}  // namespace sockkit::app
