#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sockkit::app {

/// `sockkit connect`: netcat for sockkit. Standard input to the peer, the peer to standard
/// output, binary-safe, half-closing at the end of the input. `--listen` waits for one peer.
class ConnectCommand {
 public:
  explicit ConnectCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Returns the exit status (exit_status.hpp).
  int run();

 private:
  CLI::App* command_;
  std::string target_;
  std::string listen_;
  bool udp_ = false;
  bool framed_ = false;
  bool verbose_ = false;
  bool ipv4_only_ = false;
  bool ipv6_only_ = false;
  bool zero_io_ = false;  // -z: only whether a connection can be made
  std::string connect_timeout_ = "10s";
  std::string idle_timeout_ = "0";
  std::string wait_;  // -w: both timeouts, as nc's -w
  std::string max_frame_ = "1MiB";
};

}  // namespace sockkit::app
