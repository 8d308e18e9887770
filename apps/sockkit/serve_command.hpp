#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sockkit::app {

/// `sockkit serve`: an echo (or framed-echo, or discard) server on any engine. With no
/// arguments it is the tutorial's server: echo on 127.0.0.1:65432.
class ServeCommand {
 public:
  explicit ServeCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Serves until SIGINT/SIGTERM, then drains; returns the exit status (0 after a clean
  /// stop, 1 when the server could not start, 2 for bad usage).
  int run();

 private:
  CLI::App* command_;
  std::string listen_ = "127.0.0.1:65432";
  std::string engine_ = "auto";
  std::size_t threads_ = 0;
  std::string protocol_ = "echo";
  std::size_t max_connections_ = 10'000;
  std::string idle_timeout_ = "5m";
  std::string send_timeout_ = "30s";
  std::string frame_timeout_ = "30s";
  std::string drain_timeout_ = "5s";
  std::string turn_limit_ = "30s";
  std::string max_frame_ = "1MiB";
  std::string high_water_mark_ = "256KiB";
  int backlog_ = 511;
  std::string keepalive_;  // from here on, the defaults come from ServerConfig's
  std::string tcp_user_timeout_;
  std::string socket_send_buffer_;
  std::string socket_unsent_limit_;
  std::string max_buffer_memory_;
  unsigned uring_queue_depth_ = 0;
  unsigned uring_buffers_ = 0;
  std::string uring_buffer_size_;
  std::string unix_mode_ = "0660";
  std::string user_;
  std::string stats_interval_;
  bool json_ = false;
  bool verbose_ = false;
};

}  // namespace sockkit::app
