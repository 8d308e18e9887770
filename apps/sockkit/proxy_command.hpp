#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace sockkit::app {

/// `sockkit proxy`: relays TCP (or Unix-domain) connections to a server and injects faults
/// on the way: latency, a bandwidth cap, slicing, cuts, resets, black holes, slow closes.
class ProxyCommand {
 public:
  explicit ProxyCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Proxies until SIGINT/SIGTERM; returns the exit status (0 after a stop, 1 when it cannot
  /// listen, 2 for bad usage).
  int run();

 private:
  CLI::App* command_;
  std::string listen_ = "127.0.0.1:0";
  std::string to_;
  std::string direction_ = "both";
  std::string latency_ = "0";
  std::string jitter_ = "0";
  std::string bandwidth_;
  std::string slice_;
  std::string slice_delay_ = "0";
  std::string cut_after_;
  std::string reset_after_;
  std::string blackhole_after_;
  std::string slow_close_ = "0";
  double fraction_ = 1.0;
  std::uint64_t seed_ = 1;
  std::string buffer_ = "64KiB";
  std::string max_buffer_memory_ = "256MiB";
  std::size_t max_connections_ = 0;  // 0: what the budget covers (ProxyConfig::max_connections)
  std::string connect_timeout_ = "10s";
  std::string stall_timeout_ = "30s";
  std::string idle_timeout_ = "5m";
  bool json_ = false;
  bool verbose_ = false;
};

}  // namespace sockkit::app
