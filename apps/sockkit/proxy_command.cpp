#include "proxy_command.hpp"

#include <fmt/format.h>

#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "fault_proxy.hpp"
#include "options.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/sys/resources.hpp"
#include "stop_signals.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

// What the faults are, in words, for the line printed at start.
std::string describe(const DirectionFaults& f) {
  std::vector<std::string> parts;
  if (f.latency.count() > 0 || f.jitter.count() > 0) {
    parts.push_back(fmt::format("latency {}{}", format_duration(f.latency),
                                f.jitter.count() > 0 ? " ± " + format_duration(f.jitter) : ""));
  }
  if (f.bytes_per_second > 0) {
    parts.push_back(
        fmt::format("bandwidth {}/s", format_size(static_cast<std::size_t>(f.bytes_per_second))));
  }
  if (f.slice_max > 0) {
    parts.push_back(fmt::format("slices of {}-{} B every {}", f.slice_min, f.slice_max,
                                format_duration(f.slice_delay)));
  }
  if (f.cut_after) parts.push_back(fmt::format("cut after {}", format_size(*f.cut_after)));
  if (f.blackhole_after) {
    parts.push_back(fmt::format("black hole after {}", format_duration(*f.blackhole_after)));
  }
  if (f.slow_close.count() > 0) {
    parts.push_back(fmt::format("slow close {}", format_duration(f.slow_close)));
  }
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : ", ") + p;
  return text;
}

nlohmann::json to_json(const ProxyStats& s) {
  return {{"accepted", s.accepted},
          {"faulted", s.faulted},
          {"upstream_failed", s.upstream_failed},
          {"closed", s.closed},
          {"cut", s.cut},
          {"reset", s.reset},
          {"stalled", s.stalled},
          {"idle", s.idle},
          {"active", s.active()},
          {"bytes_up", s.bytes_up},
          {"bytes_down", s.bytes_down},
          {"buffered", s.buffered},
          {"budget_pauses", s.budget_pauses}};
}

}  // namespace

ProxyCommand::ProxyCommand(CLI::App& parent) {
  command_ = parent.add_subcommand(
      "proxy",
      "Relay connections to a server, injecting faults: latency, bandwidth, slicing, "
      "cuts, resets, black holes");
  command_->footer(R"(
Every connection accepted on --listen is relayed to --to, byte for byte, half-close and all.
The faults apply to the direction chosen (up: client to server, down: server to client, or
both) on the share of connections given by --fraction; the rest are relayed cleanly. A
direction that is slowed buffers at most --buffer and then stops reading its sender, so a
slow proxy pushes back instead of growing; all connections together never hold more than
--max-buffer-memory (once it is spent, no connection reads until bytes go out), and by
default --max-connections is what that budget covers in full (256MiB / (2 x 64KiB) = 2048).
A connection where bytes wait to move one way and none does for --stall-timeout (its
receiver reads nothing, or the budget stays spent), or that is silent both ways for
--idle-timeout (for --stall-timeout once one side has finished sending), is closed, so a peer that stops reading cannot hold the proxy's memory and
descriptors for long. The first line on stdout says where it listens. SIGINT, SIGTERM or
SIGHUP stops it (closing every connection); a second signal exits at once.

Faults (toxiproxy's, for a kernel without netem):
  --latency 50ms --jitter 10ms   hold every byte 40-60 ms (bytes never overtake each other)
  --bandwidth 1MiB/s             a token bucket per connection and direction
  --slice 1-7 --slice-delay 1ms  writes of 1 to 7 bytes, 1 ms apart (TCP_NODELAY)
  --cut-after 64KiB              pass on 64 KiB, then close both sides
  --reset-after 2s               reset (RST) both sides 2 s after the connection opened
  --blackhole-after 1s           from 1 s on, pass nothing more (the connection stays open)
  --slow-close 3s                pass on an end of stream 3 s late

Exit status: 0 after a stop signal, 1 when it cannot listen or the server address does not
resolve, 2 for bad usage.

Examples:
  sockkit proxy --listen 127.0.0.1:9000 --to 127.0.0.1:65432 --latency 100ms
  sockkit proxy --to 127.0.0.1:65432 --slice 1-7 --direction up -v
  sockkit proxy --to unix:/tmp/echo.sock --reset-after 500ms --fraction 0.1 --json)");
  command_
      ->add_option("-l,--listen", listen_,
                   "Where to listen: HOST:PORT, PORT or :PORT (every IPv4 interface), "
                   "[::]:PORT (every interface, IPv4 too), [IPv6]:PORT or unix:/path")
      ->type_name("ADDR")
      ->capture_default_str();
  command_->add_option("--to", to_, "The server to relay to: HOST:PORT, [IPv6]:PORT or unix:/path")
      ->type_name("ADDR")
      ->required();
  command_->add_option("--direction", direction_, "Where the faults apply: up, down or both")
      ->type_name("DIRECTION")
      ->capture_default_str();
  command_->add_option("--latency", latency_, "Hold every byte this long")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--jitter", jitter_, "Vary the latency by up to this much either way")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--bandwidth", bandwidth_, "Pass on at most this many bytes per second")
      ->type_name("BYTES/S");
  command_->add_option("--slice", slice_, "Write in pieces of this many bytes: N or MIN-MAX")
      ->type_name("SIZE[-MAX]");
  command_->add_option("--slice-delay", slice_delay_, "Wait this long between pieces")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--cut-after", cut_after_, "Close both sides after passing on this much")
      ->type_name("SIZE");
  command_
      ->add_option("--reset-after", reset_after_,
                   "Reset both sides this long after the connection opened")
      ->type_name("DURATION");
  command_
      ->add_option("--blackhole-after", blackhole_after_,
                   "From this long after opening, pass nothing (0: from the start)")
      ->type_name("DURATION");
  command_->add_option("--slow-close", slow_close_, "Pass on an end of stream this much later")
      ->type_name("DURATION")
      ->capture_default_str();
  add_number_option(*command_, "--fraction", fraction_, "Share of connections faulted", 0.0, 1.0);
  add_number_option(*command_, "--seed", seed_, "Seed for jitter, slice sizes and --fraction",
                    std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max());
  command_->add_option("--buffer", buffer_, "Bytes held per direction before reading stops")
      ->type_name("SIZE")
      ->capture_default_str();
  command_
      ->add_option("--max-buffer-memory", max_buffer_memory_,
                   "All connections' buffered bytes together, never exceeded (0: no limit)")
      ->type_name("SIZE")
      ->capture_default_str();
  add_number_option(*command_, "--max-connections", max_connections_,
                    "More clients are accepted and closed at once (default: what "
                    "--max-buffer-memory covers, --max-buffer-memory / (2 x --buffer))",
                    std::size_t{1}, std::size_t{10'000'000})
      ->default_str("");
  command_
      ->add_option("--stall-timeout", stall_timeout_,
                   "Close a connection where bytes wait to move one way and none does for this "
                   "long: its receiver reads nothing, or the memory budget stays spent (0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--idle-timeout", idle_timeout_,
                   "Close a connection silent both ways this long (0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--connect-timeout", connect_timeout_, "Give up reaching the server after this")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_flag("--json", json_, "Print the final counters as JSON on exit");
  command_->add_flag("-v,--verbose", verbose_, "Log each connection to stderr");
}

int ProxyCommand::run() {
  ProxyConfig config;
  try {
    const auto listen = parse_option("--listen", listen_, parse_listen);
    const auto to =
        parse_option("--to", to_, [](const std::string& t) { return net::Endpoint::parse(t); });
    DirectionFaults faults;
    faults.latency = parse_option("--latency", latency_, parse_duration);
    faults.jitter = parse_option("--jitter", jitter_, parse_duration);
    if (!bandwidth_.empty()) {
      faults.bytes_per_second = parse_option("--bandwidth", bandwidth_, parse_byte_rate);
      if (faults.bytes_per_second < 1) throw std::invalid_argument("--bandwidth: at least 1 B/s");
    }
    if (!slice_.empty()) {
      std::tie(faults.slice_min, faults.slice_max) =
          parse_option("--slice", slice_, parse_size_range);
      if (faults.slice_min == 0) throw std::invalid_argument("--slice: pieces of at least 1 byte");
    }
    faults.slice_delay = parse_option("--slice-delay", slice_delay_, parse_duration);
    if (!cut_after_.empty()) faults.cut_after = parse_option("--cut-after", cut_after_, parse_size);
    if (!blackhole_after_.empty()) {
      faults.blackhole_after = parse_option("--blackhole-after", blackhole_after_, parse_duration);
    }
    faults.slow_close = parse_option("--slow-close", slow_close_, parse_duration);
    if (!reset_after_.empty()) {
      config.reset_after = parse_option("--reset-after", reset_after_, parse_duration);
    }
    if (direction_ == "up" || direction_ == "both") config.up = faults;
    if (direction_ == "down" || direction_ == "both") config.down = faults;
    if (direction_ != "up" && direction_ != "down" && direction_ != "both") {
      throw std::invalid_argument("--direction: '" + direction_ + "' is not one of up, down, both");
    }
    if (!(fraction_ >= 0 && fraction_ <= 1)) {
      throw std::invalid_argument("--fraction: the share of connections must be from 0 to 1");
    }
    config.fraction = fraction_;
    config.seed = seed_;
    config.buffer = parse_option("--buffer", buffer_, parse_size);
    if (config.buffer == 0) throw std::invalid_argument("--buffer: at least 1 byte");
    config.max_buffer_memory = parse_option("--max-buffer-memory", max_buffer_memory_, parse_size);
    if (max_connections_ > 0) {
      config.max_connections = max_connections_;
    } else if (config.max_buffer_memory > 0) {
      config.max_connections =
          std::max<std::size_t>(1, config.max_buffer_memory / (2 * config.buffer));
    } else {
      config.max_connections = 10'000;  // no budget asked for: the descriptors are the bound
    }
    config.stall_timeout = parse_option("--stall-timeout", stall_timeout_, parse_duration);
    config.idle_timeout = parse_option("--idle-timeout", idle_timeout_, parse_duration);
    config.connect_timeout = parse_option("--connect-timeout", connect_timeout_, parse_duration);
    if (config.connect_timeout.count() <= 0) {
      throw std::invalid_argument("--connect-timeout: must be above 0");
    }
    config.listen = listen.resolve().front();
    config.upstream = to.resolve();
  } catch (const std::invalid_argument& e) {
    return usage_error("proxy", e.what());
  } catch (const std::exception& e) {
    std::cerr << "sockkit proxy: " << e.what() << "\n";
    return 1;
  }
  if (verbose_) {
    config.log = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  }

  block_stop_signals();
  (void)sys::raise_open_file_limit(2 * config.max_connections + 64);  // two per connection
  std::optional<FaultProxy> proxy;
  try {
    proxy.emplace(config);
  } catch (const std::exception& e) {
    std::cerr << "sockkit proxy: " << e.what() << "\n";
    return 1;
  }
  const auto up = describe(config.up);
  const auto down = describe(config.down);
  std::string faults;
  if (!up.empty() && up == down) {
    faults = up + " both ways";
  } else {
    if (!up.empty()) faults = "up: " + up;
    if (!down.empty()) faults += (faults.empty() ? "down: " : "; down: ") + down;
  }
  if (config.reset_after) {
    faults += (faults.empty() ? "" : "; ") +
              fmt::format("reset after {}", format_duration(*config.reset_after));
  }
  if (faults.empty()) faults = "none";
  fmt::print(
      "Proxying {} -> {} (faults: {}{})\n", proxy->local_address().to_string(),
      config.upstream.front().to_string(), faults,
      config.fraction < 1 ? fmt::format(" on {:g}% of connections", config.fraction * 100) : "");
  std::fflush(stdout);
  warn_if_every_interface("proxy", config.listen);

  {
    StopSignals signals([&proxy] { proxy->stop(); }, remove_socket_file(proxy->local_address()));
    try {
      proxy->run();
    } catch (const std::exception& e) {
      std::cerr << "sockkit proxy: " << e.what() << "\n";
      return 1;
    }
  }
  const auto stats = proxy->stats();
  if (json_) {
    std::cout << to_json(stats).dump(2) << std::endl;
  } else {
    fmt::print(
        "stats accepted={} faulted={} upstream_failed={} cut={} reset={} stalled={} idle={} "
        "bytes_up={} bytes_down={} budget_pauses={}\n",
        stats.accepted, stats.faulted, stats.upstream_failed, stats.cut, stats.reset, stats.stalled,
        stats.idle, stats.bytes_up, stats.bytes_down, stats.budget_pauses);
  }
  return 0;
}

}  // namespace sockkit::app
