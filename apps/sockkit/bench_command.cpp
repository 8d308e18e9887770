#include "bench_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "options.hpp"
#include "output_file.hpp"
#include "sockkit/client/load_generator.hpp"
#include "sockkit/net/endpoint.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

using client::LoadGenerator;
using client::LoadReport;

std::atomic<LoadGenerator*> running_generator{nullptr};

// Ctrl-C ends the run early; the report still prints. stop() is one atomic store, which is
// safe in a signal handler.
extern "C" void stop_on_signal(int /*signal*/) {
  if (auto* generator = running_generator.load()) generator->stop();
}

// The mode and the target; the rest of the options are plain values.
client::LoadConfig make_config(const std::string& target, const std::string& mode) {
  client::LoadConfig config;
  const auto parsed_mode = client::parse_load_mode(mode);
  if (!parsed_mode) {
    throw UsageError("--mode: '" + mode + "' is not one of pingpong, rate, stream, connect, hold");
  }
  config.mode = *parsed_mode;
  const auto endpoint =
      parse_option("TARGET", target, [](const std::string& t) { return net::Endpoint::parse(t); });
  const auto addresses = endpoint.resolve();  // a resolver failure is a runtime error, not usage
  config.target = addresses.front();
  return config;
}

double microseconds(std::chrono::nanoseconds d) {
  return static_cast<double>(d.count()) / 1e3;
}

nlohmann::json to_json(const client::LoadConfig& config, const LoadReport& report) {
  const auto& c = report.counters;
  const auto& h = report.latency;
  return {
      {"mode", client::to_string(config.mode)},
      {"target", config.target.to_string()},
      {"connections", config.connections},
      {"threads", config.threads},
      {"size", {{"min", config.min_size}, {"max", config.max_size}}},
      {"framed", config.framed},
      {"measured_s", std::chrono::duration<double>(report.measured).count()},
      {"messages", c.messages},
      {"messages_per_second", report.messages_per_second()},
      {"mib_per_second", report.mib_per_second()},
      {"bytes_sent", c.bytes_sent},
      {"bytes_received", c.bytes_received},
      {"connects", c.connects},
      {"held", c.held},
      {"latency_us",
       {{"min", microseconds(h.min())},
        {"mean", microseconds(h.mean())},
        {"p50", microseconds(h.percentile(50))},
        {"p90", microseconds(h.percentile(90))},
        {"p99", microseconds(h.percentile(99))},
        {"p99.9", microseconds(h.percentile(99.9))},
        {"p99.99", microseconds(h.percentile(99.99))},
        {"max", microseconds(h.max())}}},
      {"errors",
       {{"total", c.errors()},
        {"mismatches", c.mismatches},
        {"framing_errors", c.framing_errors},
        {"early_closes", c.early_closes},
        {"resets", c.resets},
        {"connect_errors", c.connect_errors},
        {"other", c.other_errors}}},
      {"overflows", c.overflows},
      {"unanswered", c.unanswered},
      {"first_error", report.first_error},
      {"generator_cpu_s", std::chrono::duration<double>(report.cpu).count()},
      {"generator_saturated", report.generator_saturated()},
      {"host_steal_percent", 100.0 * report.steal},
  };
}

// 0 when every echo was right; 1, said on stderr with the reason, when any error was seen or
// no message was answered at all (a server that accepts and never replies).
int exit_status(const client::LoadCounters& c) {
  if (c.errors() > 0) {
    fmt::print(stderr, "sockkit bench: exit 1: {} error{} seen (see errors above)\n",
               format_count(c.errors()), c.errors() == 1 ? "" : "s");
    return 1;
  }
  if (c.messages == 0) {
    fmt::print(stderr,
               "sockkit bench: exit 1: no message was answered in the measured time ({} sent "
               "got no reply)\n",
               format_count(c.unanswered));
    return 1;
  }
  return 0;
}

void print_summary(std::ostream& out, const client::LoadConfig& config, const LoadReport& report) {
  const auto& c = report.counters;
  const auto& h = report.latency;
  const auto size = config.min_size == config.max_size
                        ? format_size(config.min_size)
                        : format_size(config.min_size) + "-" + format_size(config.max_size);
  out << fmt::format("sockkit bench: {} to {}, {} connection{}, {} thread{}, {} {}messages\n",
                     client::to_string(config.mode), config.target.to_string(), config.connections,
                     config.connections == 1 ? "" : "s", config.threads,
                     config.threads == 1 ? "" : "s", size, config.framed ? "framed " : "");
  out << fmt::format("  messages   {} in {} ({:.0f}/s), {:.2f} MiB/s echoed\n",
                     format_count(c.messages), format_duration(report.measured),
                     report.messages_per_second(), report.mib_per_second());
  if (config.mode == client::LoadMode::hold) {
    out << fmt::format("  held       {} of {} connections answered both probes\n",
                       format_count(c.held), format_count(config.connections));
  }
  if (h.count() > 0) {
    out << fmt::format("  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}\n",
                       format_duration(h.percentile(50)), format_duration(h.percentile(90)),
                       format_duration(h.percentile(99)), format_duration(h.percentile(99.9)),
                       format_duration(h.percentile(99.99)), format_duration(h.max()));
  }
  if (c.errors() == 0) {
    out << "  errors     none\n";
  } else {
    out << fmt::format(
        "  errors     {} (mismatches {}, framing errors {}, early closes {}, resets {}, connect "
        "errors {}, other {})\n"
        "             first: {}\n",
        c.errors(), c.mismatches, c.framing_errors, c.early_closes, c.resets, c.connect_errors,
        c.other_errors, report.first_error);
  }
  if (c.unanswered > 0) {
    // In a healthy run these are the messages in flight when it stopped (one per connection
    // in ping-pong); against a server that stalls, they are what it never answered.
    out << fmt::format("  in flight  {} message{} still owed a reply when the run ended\n",
                       format_count(c.unanswered), c.unanswered == 1 ? "" : "s");
  }
  if (c.overflows > 0) {
    out << fmt::format(
        "  overflows  {} messages not sent: the server owed {} replies on a connection\n",
        format_count(c.overflows), config.max_in_flight);
  }
  const double seconds = std::chrono::duration<double>(report.measured).count();
  out << fmt::format("  generator  {} CPU over {} ({:.0f}% of {} thread{}){}\n",
                     format_duration(report.cpu), format_duration(report.measured),
                     seconds > 0 ? 100.0 * std::chrono::duration<double>(report.cpu).count() /
                                       (seconds * static_cast<double>(config.threads))
                                 : 0.0,
                     config.threads, config.threads == 1 ? "" : "s",
                     report.generator_saturated()
                         ? ": the generator was saturated, so it may have set the pace; "
                           "try more --threads"
                         : "");
  if (report.steal >= LoadReport::kNotableSteal) {
    out << fmt::format(
        "  host       a hypervisor took {:.1f}% of this machine's CPU time (steal): its threads "
        "waited meanwhile, so the tail latencies are partly the host's\n",
        100.0 * report.steal);
  }
  // One greppable line per result, for scripts (docs/cli.md).
  out << fmt::format(
      "result mode={} connections={} messages_per_sec={:.0f} mib_per_sec={:.2f} p50_us={:.1f} "
      "p99_us={:.1f} p999_us={:.1f} max_us={:.1f} errors={}\n",
      client::to_string(config.mode), config.connections, report.messages_per_second(),
      report.mib_per_second(), microseconds(h.percentile(50)), microseconds(h.percentile(99)),
      microseconds(h.percentile(99.9)), microseconds(h.max()), c.errors());
}

// On a terminal: "  2.5 s / 6.0 s   24,100 msg/s" on stderr twice a second, erased at the end.
class ProgressLine {
 public:
  ProgressLine(const LoadGenerator& generator, std::chrono::milliseconds total)
      : generator_(generator), total_(total) {
    if (::isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
    std::cerr << "\r\033[K" << std::flush;
  }

 private:
  void loop() {
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t last = 0;
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) {
      const auto now = generator_.progress();
      const auto elapsed = std::chrono::steady_clock::now() - start;
      std::cerr << fmt::format("\r\033[K  {} / {}   {} msg/s", format_duration(elapsed),
                               format_duration(total_), format_count((now - last) * 2))
                << std::flush;
      last = now;
    }
  }

  const LoadGenerator& generator_;
  std::chrono::milliseconds total_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

BenchCommand::BenchCommand(CLI::App& parent) {
  command_ = parent.add_subcommand("bench",
                                   "Measure an echo server: throughput and latency, "
                                   "with every echoed byte checked");
  command_->footer(R"(
Modes:
  pingpong  closed loop: send a message, wait for all of its echo, repeat (messages/s)
  rate      open loop: --rate messages/s on a fixed schedule; latency counts from when each
            message was due, so a stalling server cannot hide (use this for latency claims)
  stream    pipelined: keep --window bytes in flight per connection (MiB/s)
  connect   connect, one echo, close, again (connections/s; latency includes the handshake)
  hold      open --connections, probe each, stay idle for --duration, probe each again

Exit status: 0 when every echo was right, 1 when any error was seen (mismatched bytes,
framing errors, early closes, resets, connect failures) or no message was answered at all
(a server that accepts and never replies; stderr says which), 2 for bad usage. Messages
still owed a reply when the run ends are counted as "unanswered".

Examples:
  sockkit bench                                  # 5 s of 64-byte ping-pong to 127.0.0.1:65432
  sockkit bench 127.0.0.1:9000 -c 100 -t 2 -d 10s
  sockkit bench -m rate --rate 20k/s -c 50 --percentiles latency.txt
  sockkit bench -m stream --size 64KiB --window 1MiB
  sockkit bench unix:/tmp/echo.sock --framed --size 16-4KiB --json
  sockkit bench -m hold -c 10000 -d 30s          # descriptors: about one per connection)");
  command_->add_option("TARGET", target_, "host:port, [ipv6]:port or unix:/path")
      ->type_name("ADDR")
      ->capture_default_str();
  command_->add_option("-m,--mode", mode_, "pingpong, rate, stream, connect or hold")
      ->type_name("MODE")
      ->capture_default_str();
  add_number_option(*command_, "-c,--connections", connections_,
                    "Connections, spread over the threads", std::size_t{1}, std::size_t{1'000'000});
  add_number_option(*command_, "-t,--threads", threads_,
                    "Generator threads, each with its own loop", std::size_t{1}, std::size_t{256});
  command_->add_option("-s,--size", size_, "Message size, or a range MIN-MAX drawn at random")
      ->type_name("SIZE[-MAX]")
      ->capture_default_str();
  command_->add_flag("--framed", framed_, "Send length-prefixed frames (for a framed-echo server)");
  add_number_option(*command_, "--header-bytes", header_bytes_, "Frame header width: 2, 4 or 8",
                    std::size_t{2}, std::size_t{8});
  command_->add_option("--max-frame", max_frame_, "Largest frame the server accepts")
      ->type_name("SIZE")
      ->capture_default_str();
  command_->add_option("-d,--duration", duration_, "Measured time (500ms, 10s, 2m)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--warmup", warmup_, "Traffic before measuring starts")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("-r,--rate", rate_, "rate mode: messages/s over all connections")
      ->type_name("RATE")
      ->capture_default_str();
  command_->add_option("--window", window_, "stream mode: bytes in flight per connection")
      ->type_name("SIZE")
      ->capture_default_str();
  command_->add_option("--connect-timeout", connect_timeout_, "Give up on a connect after this")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--percentiles", percentiles_,
                   "Write the whole latency distribution to this file, for plotting")
      ->type_name("FILE");
  command_->add_flag("--json", json_, "Print one JSON object instead of the summary");
}

int BenchCommand::run() {
  client::LoadConfig config;
  try {
    config = make_config(target_, mode_);
    config.connections = connections_;
    config.threads = threads_;
    std::tie(config.min_size, config.max_size) = parse_option("--size", size_, parse_size_range);
    config.framed = framed_;
    config.frames.header_bytes = header_bytes_;
    config.frames.max_frame = parse_option("--max-frame", max_frame_, parse_size);
    config.duration = parse_option("--duration", duration_, parse_duration);
    config.warmup = parse_option("--warmup", warmup_, parse_duration);
    config.rate = parse_option("--rate", rate_, parse_rate);
    config.window = parse_option("--window", window_, parse_size);
    config.connect_timeout = parse_option("--connect-timeout", connect_timeout_, parse_duration);
    if (!percentiles_.empty()) check_output_file("--percentiles", percentiles_);
  } catch (const UsageError& e) {
    return usage_error("bench", e.what());
  } catch (const std::exception& e) {
    std::cerr << "sockkit bench: " << e.what() << "\n";
    return 1;
  }

  std::unique_ptr<LoadGenerator> generator;
  try {
    generator = std::make_unique<LoadGenerator>(config);
  } catch (const std::invalid_argument& e) {
    return usage_error("bench", e.what());
  }

  running_generator = generator.get();
  struct sigaction action {};
  action.sa_handler = stop_on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  LoadReport report;
  {
    ProgressLine progress(*generator, config.warmup + config.duration);
    report = generator->run();
  }
  running_generator = nullptr;

  if (!percentiles_.empty()) {
    std::ostringstream distribution;
    report.latency.write_distribution(distribution);
    try {
      write_output_file("--percentiles", percentiles_, distribution.str());
    } catch (const std::exception& e) {
      std::cerr << "sockkit bench: " << e.what() << "\n";
      return 1;
    }
  }
  if (json_) {
    std::cout << to_json(config, report).dump(2) << '\n';
  } else {
    print_summary(std::cout, config, report);
  }
  return exit_status(report.counters);
}

}  // namespace sockkit::app
