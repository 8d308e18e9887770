#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sockkit::app {

/// `sockkit bench`: the load generator on the command line. Registers its options on the
/// parent app; `run()` parses the values with units, runs, and reports.
class BenchCommand {
 public:
  explicit BenchCommand(CLI::App& parent);

  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Runs the benchmark; returns the exit status (0 clean, 1 errors seen, 2 bad usage).
  int run();

 private:
  CLI::App* command_;
  std::string target_ = "127.0.0.1:65432";
  std::string mode_ = "pingpong";
  std::size_t connections_ = 1;
  std::size_t threads_ = 1;
  std::string size_ = "64";
  bool framed_ = false;
  std::size_t header_bytes_ = 4;
  std::string max_frame_ = "1MiB";
  std::string duration_ = "5s";
  std::string warmup_ = "1s";
  std::string rate_ = "1000/s";
  std::string window_ = "64KiB";
  std::string connect_timeout_ = "2s";
  std::string percentiles_;
  bool json_ = false;
};

}  // namespace sockkit::app
