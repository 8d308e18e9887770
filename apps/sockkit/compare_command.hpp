#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace sockkit::app {

/// `sockkit compare`: every sockkit engine and every peer (the epoll and io_uring floors;
/// Asio, libuv and libevent echo servers when built) under the same load from sockkit's
/// generator, interleaved, repeated, with the server's CPU and syscalls per message.
class CompareCommand {
 public:
  explicit CompareCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Returns the exit status: 0 when every run was clean, 1 when a server failed a run.
  int run();

 private:
  CLI::App* command_;
  std::vector<std::string> scenarios_;
  std::vector<std::string> servers_;
  int reps_ = 3;
  std::string duration_ = "3s";
  bool quick_ = false;
  std::string json_;
  std::string chart_;
  std::string peers_dir_;
};

}  // namespace sockkit::app
