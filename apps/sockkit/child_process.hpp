#pragma once

// A program `sockkit compare` runs and watches: a server under test, or perf. Started with
// its CPU affinity set, read line by line from its stdout, measured through /proc, stopped
// with a signal. Owns the process: the destructor kills and reaps it.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sockkit::app {

class ChildProcess {
 public:
  /// Starts `argv` (argv[0] looked up in PATH) with stdout to a pipe this object reads and
  /// stderr to /dev/null; pinned to `cpu` when given. Throws std::system_error.
  static ChildProcess spawn(const std::vector<std::string>& argv, std::optional<int> cpu = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// The next line of its stdout, without the newline; nothing if it closed stdout or
  /// `limit` passed first.
  [[nodiscard]] std::optional<std::string> read_line(std::chrono::milliseconds limit);
  /// User + system CPU time of the whole process so far (all its threads, live or ended).
  [[nodiscard]] std::chrono::nanoseconds cpu_time() const;
  /// Resident memory now, in KiB.
  [[nodiscard]] std::size_t resident_kib() const;
  /// Sends `signal` and waits up to `limit` for it to exit, then kills it. Returns its wait
  /// status (or -1 when it had to be killed).
  int stop(int signal, std::chrono::milliseconds limit);

 private:
  ChildProcess(pid_t pid, int out) noexcept : pid_(pid), out_(out) {}
  void release() noexcept;

  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffered_;
};

}  // namespace sockkit::app
