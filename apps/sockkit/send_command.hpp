#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace sockkit::app {

/// `sockkit send`: connect, send messages, print what comes back. With no arguments it is
/// the tutorial's client: sends `Hello, world` to 127.0.0.1:65432 and prints
/// `Received b'Hello, world'`.
class SendCommand {
 public:
  explicit SendCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Returns the exit status (exit_status.hpp).
  int run();

 private:
  CLI::App* command_;
  std::string target_ = "127.0.0.1:65432";
  std::vector<std::string> messages_;
  bool framed_ = false;
  bool hex_ = false;
  bool until_close_ = false;
  std::string connect_timeout_ = "5s";
  std::string timeout_ = "5s";
  std::string max_frame_ = "1MiB";
};

}  // namespace sockkit::app
