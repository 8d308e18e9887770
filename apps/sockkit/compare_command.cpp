#include "compare_command.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "child_process.hpp"
#include "options.hpp"
#include "output_file.hpp"
#include "sockkit/client/load_generator.hpp"
#include "sockkit/sys/file.hpp"
#include "sockkit/sys/resources.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using client::LoadMode;

constexpr int kGeneratorCpu = 0;
constexpr int kServerCpu = 1;
constexpr std::size_t kHoldConnections = 10'000;

struct Server {
  std::string name;
  std::string family;  // "floor", "sockkit" or "peer": what the ratios compare against
  std::vector<std::string> argv;
};

struct Scenario {
  std::string id;
  std::string title;
  client::LoadConfig load;
  double rate_fraction = 0;  // rate scenarios: this fraction of the floor's ping-pong peak
};

/// One server under one scenario, once.
struct Sample {
  double messages_per_second = 0;
  double mib_per_second = 0;
  double cpu_us_per_message = NAN;
  double syscalls_per_message = NAN;  // NAN: perf is not available
  double p99_us = 0;
  double p999_us = 0;
  double kib_per_connection = NAN;  // hold only
  bool generator_saturated = false;
  double steal = 0;  // the share of the machine's CPU time the hypervisor took (LoadReport's)
  std::uint64_t errors = 0;
  std::string first_error;
};

double median(std::vector<double> values) {
  std::erase_if(values, [](double v) { return std::isnan(v); });
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

template <class Field>
std::vector<double> column(const std::vector<Sample>& samples, Field field) {
  std::vector<double> values;
  for (const auto& s : samples) values.push_back(s.*field);
  return values;
}

std::string number(double value, int decimals = 0) {
  if (std::isnan(value)) return "n/a";
  if (decimals == 0) return format_count(static_cast<std::uint64_t>(std::llround(value)));
  return fmt::format("{:.{}f}", value, decimals);
}

std::string ratio(double value, double base) {
  if (std::isnan(value) || std::isnan(base) || base <= 0) return "-";
  return fmt::format("{:.2f}", value / base);
}

bool perf_works() {
  try {
    auto perf =
        ChildProcess::spawn({"perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"});
    const int status = perf.stop(0, 5s);  // signal 0: just wait for it
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// Reads `perf stat -x,` output: the count of the first event.
double perf_count(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    try {
      return std::stod(line.substr(0, line.find(',')));
    } catch (const std::exception&) {
      return NAN;
    }
  }
  return NAN;
}

std::vector<Scenario> all_scenarios(std::chrono::milliseconds duration) {
  const auto make = [&](std::string id, std::string title, LoadMode mode, std::size_t connections,
                        std::size_t size) {
    Scenario s{std::move(id), std::move(title), {}, 0};
    s.load.mode = mode;
    s.load.connections = connections;
    s.load.min_size = s.load.max_size = size;
    s.load.duration = duration;
    return s;
  };
  std::vector<Scenario> list{
      make("pingpong-1", "64 B ping-pong, 1 connection", LoadMode::pingpong, 1, 64),
      make("pingpong-10", "64 B ping-pong, 10 connections", LoadMode::pingpong, 10, 64),
      make("pingpong-100", "64 B ping-pong, 100 connections", LoadMode::pingpong, 100, 64),
      make("pingpong-1000", "64 B ping-pong, 1,000 connections", LoadMode::pingpong, 1000, 64),
      make("pingpong-4k", "4 KiB ping-pong, 100 connections", LoadMode::pingpong, 100, 4096),
      make("rate-50", "64 B open loop at 50% of the epoll floor's peak, 100 connections",
           LoadMode::rate, 100, 64),
      make("rate-80", "64 B open loop at 80% of the epoll floor's peak, 100 connections",
           LoadMode::rate, 100, 64),
      make("bulk", "64 KiB stream, 1 MiB in flight, 4 connections", LoadMode::stream, 4, 65536),
      make("churn", "connect, one 64 B echo, close: 16 at a time", LoadMode::connect, 16, 64),
      make("hold", "10,000 idle connections held: server memory per connection", LoadMode::hold,
           kHoldConnections, 64),
  };
  list[5].rate_fraction = 0.5;
  list[6].rate_fraction = 0.8;
  list[7].load.window = 1024 * 1024;
  return list;
}

class Comparison {
 public:
  Comparison(std::vector<Server> servers, std::vector<Scenario> scenarios, int reps)
      : servers_(std::move(servers)), scenarios_(std::move(scenarios)), reps_(reps) {}

  void run() {
    has_perf_ = perf_works();
    if (!has_perf_) {
      std::cout << "note: perf is not available (install linux-perf): syscalls per message are "
                   "not counted\n";
    }
    for (int rep = 0; rep < reps_; ++rep) {
      for (const auto& scenario : scenarios_) {
        for (const auto& server : servers_) {
          if (skip(server, scenario)) continue;
          auto sample = run_one(server, scenario);
          std::cout << fmt::format("run {}/{} {:<13} {:<14} {:>12} msg/s  {:>7} CPU-us/msg{}{}",
                                   rep + 1, reps_, scenario.id, server.name,
                                   number(sample.messages_per_second),
                                   number(sample.cpu_us_per_message, 2),
                                   sample.steal >= client::LoadReport::kNotableSteal
                                       ? fmt::format("  steal {:.1f}%", 100 * sample.steal)
                                       : "",
                                   sample.errors > 0 ? "  ERRORS: " + sample.first_error : "")
                    << std::endl;
          results_[{scenario.id, server.name}].push_back(std::move(sample));
        }
      }
    }
  }

  /// The table, as text.
  void print(std::ostream& out) const {
    for (const auto& scenario : scenarios_) {
      const auto floor = summary(scenario.id, "epoll-floor");
      const auto best_peer = best_of(scenario.id, "peer");
      out << fmt::format("\n{} ({})\n", scenario.title, scenario.id);
      out << fmt::format("  {:<17}{:>26}{:>7}{:>7}{:>12}{:>7}{:>7}{:>11}{:>11}{:>11}{}\n", "server",
                         "msgs/s (min-max)", "/floor", "/peer", "CPU-us/msg", "/floor", "/peer",
                         "syscl/msg", "p99 us", "p99.9 us",
                         scenario.load.mode == LoadMode::hold ? "   KiB/conn" : "");
      bool saturated = false;
      double most_steal = 0;
      for (const auto& server : servers_) {
        const auto found = results_.find({scenario.id, server.name});
        if (found == results_.end()) continue;
        const auto& samples = found->second;
        const auto rates = column(samples, &Sample::messages_per_second);
        const auto s = summary(scenario.id, server.name);
        saturated = saturated || std::ranges::any_of(samples, [](const Sample& x) {
                      return x.generator_saturated;
                    });
        for (const auto& x : samples) most_steal = std::max(most_steal, x.steal);
        const auto [low, high] = std::ranges::minmax(rates);
        out << fmt::format(
            "  {:<17}{:>26}{:>7}{:>7}{:>12}{:>7}{:>7}{:>11}{:>11}{:>11}{}\n", server.name,
            fmt::format("{} ({}-{})", number(s.messages_per_second), number(low), number(high)),
            ratio(s.messages_per_second, floor.messages_per_second),
            ratio(s.messages_per_second, best_peer.messages_per_second),
            number(s.cpu_us_per_message, 2), ratio(s.cpu_us_per_message, floor.cpu_us_per_message),
            ratio(s.cpu_us_per_message, best_peer.cpu_us_per_message),
            number(s.syscalls_per_message, 3), number(s.p99_us, 1), number(s.p999_us, 1),
            scenario.load.mode == LoadMode::hold
                ? fmt::format("{:>11}", number(s.kib_per_connection, 2))
                : "");
      }
      if (scenario.load.mode == LoadMode::stream && iperf_mib_per_second_) {
        const auto bulk = summary(scenario.id, "sockkit-epoll");
        out << fmt::format(
            "  iperf3 one way on this loopback: {} MiB/s; sockkit-epoll echoes {} MiB/s each way "
            "({} of it)\n",
            number(*iperf_mib_per_second_), number(bulk.mib_per_second),
            ratio(bulk.mib_per_second, *iperf_mib_per_second_));
      }
      if (saturated) {
        out << "  the generator saturated its core in some runs: messages/s of the fast servers "
               "converge there, and CPU per message is what ranks them\n";
      }
      if (most_steal >= client::LoadReport::kNotableSteal) {
        out << fmt::format(
            "  a hypervisor took up to {:.1f}% of this machine's CPU time in these runs "
            "(steal): the threads waited meanwhile, so p99 and p99.9 are partly the host's\n",
            100 * most_steal);
      }
    }
  }

  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& [key, samples] : results_) {
      nlohmann::json runs = nlohmann::json::array();
      for (const auto& s : samples) runs.push_back(sample_json(s));
      results.push_back({{"scenario", key.first},
                         {"server", key.second},
                         {"median", sample_json(summary(key.first, key.second))},
                         {"runs", runs}});
    }
    utsname machine{};
    ::uname(&machine);
    return {{"machine",
             {{"cores", std::thread::hardware_concurrency()},
              {"kernel", std::string(machine.release)}}},
            {"repetitions", reps_},
            {"iperf3_mib_per_second", iperf_mib_per_second_ ? *iperf_mib_per_second_ : NAN},
            {"results", results}};
  }

  /// A PNG through gnuplot: messages/s per scenario and server, and p99 against offered load.
  /// Drawn in a new private folder (nothing planted in /tmp is written through), and
  /// returned as bytes; nothing when it could not be drawn.
  [[nodiscard]] std::optional<std::string> chart() const {
    std::error_code ec;
    const fs::path dir = sys::make_temp_directory("sockkit-compare", ec);
    if (ec) return std::nullopt;
    const auto png = dir / "chart.png";
    {
      std::ofstream rates(dir / "rates.dat");
      rates << "scenario";
      for (const auto& server : servers_) rates << ' ' << server.name;
      rates << '\n';
      for (const auto& scenario : scenarios_) {
        if (scenario.load.mode == LoadMode::hold) continue;
        rates << scenario.id;
        for (const auto& server : servers_) {
          const auto m = summary(scenario.id, server.name).messages_per_second;
          rates << ' ' << (std::isnan(m) ? 0.0 : m);
        }
        rates << '\n';
      }
      std::ofstream latency(dir / "latency.dat");
      latency << "load";
      for (const auto& server : servers_) latency << ' ' << server.name;
      latency << '\n';
      for (const auto& scenario : scenarios_) {
        if (scenario.load.mode != LoadMode::rate) continue;
        latency << scenario.rate_fraction * 100;
        for (const auto& server : servers_) {
          const auto p = summary(scenario.id, server.name).p99_us;
          latency << ' ' << (std::isnan(p) ? 0.0 : p);
        }
        latency << '\n';
      }
    }
    const auto columns = servers_.size() + 1;
    std::ofstream script(dir / "chart.gp");
    script << "set terminal pngcairo size 1400,1000 noenhanced\n"
           << "set output '" << png.string() << "'\n"
           << "set multiplot layout 2,1\n"
           << "set title 'messages/s per scenario (median of " << reps_ << " interleaved runs)'\n"
           << "set style data histograms\nset style histogram clustered gap 1\n"
           << "set style fill solid border -1\nset key outside right\nset grid ytics\n"
           << "set xtics rotate by -30\n"
           << "plot for [i=2:" << columns << "] '" << (dir / "rates.dat").string()
           << "' using i:xtic(1) title columnheader(i)\n"
           << "set title 'p99 latency against offered load (% of the epoll floor peak)'\n"
           << "set style data linespoints\nset xlabel 'offered load %'\nset ylabel 'p99 us'\n"
           << "set xtics norotate\n";
    if (std::ranges::any_of(scenarios_,
                            [](const Scenario& s) { return s.load.mode == LoadMode::rate; })) {
      script << "plot for [i=2:" << columns << "] '" << (dir / "latency.dat").string()
             << "' using 1:i title columnheader(i)\n";
    } else {
      script << "set label 'no rate scenario was run' at graph 0.4,0.5\n"
             << "plot [0:1][0:1] NaN notitle\n";
    }
    script << "unset multiplot\n";
    script.close();
    std::optional<std::string> drawn;
    try {
      auto gnuplot = ChildProcess::spawn({"gnuplot", (dir / "chart.gp").string()});
      const int status = gnuplot.stop(0, 60s);
      if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && fs::exists(png)) {
        std::ifstream in(png, std::ios::binary);
        drawn.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    } catch (const std::exception&) {
    }
    fs::remove_all(dir, ec);
    return drawn;
  }

  void measure_iperf() {
    try {
      const auto port = std::to_string(20000 + ::getpid() % 20000);
      auto server = ChildProcess::spawn({"iperf3", "-s", "-1", "-p", port}, kServerCpu);
      std::this_thread::sleep_for(300ms);
      auto client = ChildProcess::spawn({"iperf3", "-c", "127.0.0.1", "-p", port, "-t", "2", "-J"},
                                        kGeneratorCpu);
      std::string text;
      while (auto line = client.read_line(20s)) text += *line + "\n";
      client.stop(0, 5s);
      server.stop(SIGTERM, 2s);
      const auto report = nlohmann::json::parse(text);
      iperf_mib_per_second_ =
          report["end"]["sum_received"]["bits_per_second"].get<double>() / 8 / 1024 / 1024;
    } catch (const std::exception& e) {
      std::cout << "note: iperf3 could not be run (" << e.what()
                << "): the bulk scenario has no one-way reference\n";
    }
  }

  [[nodiscard]] bool clean() const {
    for (const auto& [key, samples] : results_) {
      for (const auto& s : samples) {
        if (s.errors > 0) return false;
      }
    }
    return true;
  }

 private:
  static nlohmann::json sample_json(const Sample& s) {
    const auto value = [](double v) {
      return std::isnan(v) ? nlohmann::json() : nlohmann::json(v);
    };
    return {{"messages_per_second", value(s.messages_per_second)},
            {"mib_per_second", value(s.mib_per_second)},
            {"cpu_us_per_message", value(s.cpu_us_per_message)},
            {"syscalls_per_message", value(s.syscalls_per_message)},
            {"p99_us", value(s.p99_us)},
            {"p999_us", value(s.p999_us)},
            {"kib_per_connection", value(s.kib_per_connection)},
            {"generator_saturated", s.generator_saturated},
            {"host_steal_percent", value(100 * s.steal)},
            {"errors", s.errors}};
  }

  [[nodiscard]] Sample summary(const std::string& scenario, const std::string& server) const {
    Sample m;
    m.messages_per_second = m.mib_per_second = m.p99_us = m.p999_us = NAN;
    const auto found = results_.find({scenario, server});
    if (found == results_.end()) return m;
    const auto& samples = found->second;
    m.messages_per_second = median(column(samples, &Sample::messages_per_second));
    m.mib_per_second = median(column(samples, &Sample::mib_per_second));
    m.cpu_us_per_message = median(column(samples, &Sample::cpu_us_per_message));
    m.syscalls_per_message = median(column(samples, &Sample::syscalls_per_message));
    m.p99_us = median(column(samples, &Sample::p99_us));
    m.p999_us = median(column(samples, &Sample::p999_us));
    m.kib_per_connection = median(column(samples, &Sample::kib_per_connection));
    m.steal = median(column(samples, &Sample::steal));
    return m;
  }

  // Among the servers of `family` in a scenario: the most messages/s and the least CPU per
  // message (each from whichever server did best at it).
  [[nodiscard]] Sample best_of(const std::string& scenario, const std::string& family) const {
    Sample best;
    best.messages_per_second = best.cpu_us_per_message = NAN;
    for (const auto& server : servers_) {
      if (server.family != family) continue;
      const auto s = summary(scenario, server.name);
      if (std::isnan(best.messages_per_second) ||
          s.messages_per_second > best.messages_per_second) {
        best.messages_per_second = s.messages_per_second;
      }
      if (std::isnan(best.cpu_us_per_message) || s.cpu_us_per_message < best.cpu_us_per_message) {
        best.cpu_us_per_message = s.cpu_us_per_message;
      }
    }
    return best;
  }

  static bool skip(const Server& server, const Scenario& scenario) {
    // A thread per connection is not for 10,000 idle ones; that is what the others are for.
    return server.name == "sockkit-threaded" && scenario.load.mode == LoadMode::hold;
  }

  Sample run_one(const Server& server, const Scenario& scenario) {
    auto process = ChildProcess::spawn(server.argv, kServerCpu);
    const auto line = process.read_line(10s);
    if (!line || !line->starts_with("Listening on ")) {
      throw std::runtime_error(server.name + " did not start (no 'Listening on ADDR' line)");
    }
    auto target_text = line->substr(13);
    target_text = target_text.substr(0, target_text.find(' '));
    auto load = scenario.load;
    load.target = net::Address::parse(target_text);
    if (scenario.rate_fraction > 0) load.rate = floor_peak() * scenario.rate_fraction;
    const auto rss_before = process.resident_kib();

    std::optional<ChildProcess> perf;
    const auto perf_file =
        fs::temp_directory_path() / fmt::format("sockkit-compare-{}.perf", ::getpid());
    if (has_perf_) {
      perf = ChildProcess::spawn({"perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                                  std::to_string(process.pid()), "-o", perf_file.string()});
    }
    std::atomic<std::size_t> rss_holding{0};
    std::jthread sampler;
    if (load.mode == LoadMode::hold) {
      // Every connection is open and probed well before 60% of the run; then it sits idle.
      sampler = std::jthread([&, when = load.duration * 6 / 10](const std::stop_token& stop) {
        const auto until = std::chrono::steady_clock::now() + when;
        while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(10ms);
        }
        rss_holding = process.resident_kib();
      });
    }
    const auto cpu_before = process.cpu_time();
    client::LoadGenerator generator(load);
    const auto report = generator.run();
    const auto cpu_after = process.cpu_time();
    if (sampler.joinable()) sampler.join();
    double syscalls = NAN;
    if (perf) {
      perf->stop(SIGINT, 10s);
      syscalls = perf_count(perf_file);
      fs::remove(perf_file);
    }
    process.stop(SIGTERM, 3s);

    Sample s;
    const auto& c = report.counters;
    // Messages the server echoed over the run: hold sends only its two probes.
    const double messages =
        static_cast<double>(load.mode == LoadMode::hold ? c.held * 2 : c.messages);
    s.messages_per_second = report.messages_per_second();
    s.mib_per_second = report.mib_per_second();
    if (messages > 0) {
      s.cpu_us_per_message =
          std::chrono::duration<double, std::micro>(cpu_after - cpu_before).count() / messages;
      s.syscalls_per_message = syscalls / messages;
    }
    s.p99_us = std::chrono::duration<double, std::micro>(report.latency.percentile(99)).count();
    s.p999_us = std::chrono::duration<double, std::micro>(report.latency.percentile(99.9)).count();
    if (load.mode == LoadMode::hold && c.held > 0) {
      s.kib_per_connection =
          static_cast<double>(rss_holding.load() - std::min(rss_before, rss_holding.load())) /
          static_cast<double>(c.held);
    }
    s.generator_saturated = report.generator_saturated();
    s.steal = report.steal;
    s.errors = c.errors();
    s.first_error = report.first_error;
    if (scenario.id == "pingpong-100" && server.name == "epoll-floor") {
      floor_peaks_.push_back(s.messages_per_second);
    }
    return s;
  }

  // The epoll floor's 64 B ping-pong rate at 100 connections: what the rate scenarios offer
  // a fraction of. Measured once here if no pingpong-100 run has measured it yet.
  double floor_peak() {
    if (floor_peaks_.empty()) {
      const auto floor = std::ranges::find(servers_, std::string("epoll-floor"), &Server::name);
      auto probe = all_scenarios(2s)[2];
      if (floor != servers_.end()) (void)run_one(*floor, probe);
      if (floor_peaks_.empty()) throw std::runtime_error("the rate scenarios need the epoll floor");
    }
    return median(floor_peaks_);
  }

  std::vector<Server> servers_;
  std::vector<Scenario> scenarios_;
  int reps_;
  bool has_perf_ = false;
  std::map<std::pair<std::string, std::string>, std::vector<Sample>> results_;
  std::vector<double> floor_peaks_;
  std::optional<double> iperf_mib_per_second_;
};

std::vector<Server> known_servers(const fs::path& bin, const fs::path& peers) {
  const auto sockkit = (bin / "sockkit").string();
  const auto serve = [&](const char* engine) {
    return std::vector<std::string>{
        sockkit, "serve",     "--listen", "127.0.0.1:0",       "--engine",
        engine,  "--threads", "1",        "--max-connections", "20000"};
  };
  return {
      {"epoll-floor", "floor", {(peers / "epoll_echo_floor").string(), "0"}},
      {"uring-floor", "floor", {(peers / "uring_echo_floor").string(), "0"}},
      {"sockkit-epoll", "sockkit", serve("epoll")},
      {"sockkit-uring", "sockkit", serve("uring")},
      {"sockkit-threaded", "sockkit", serve("threaded")},
      {"asio", "peer", {(peers / "asio_echo").string(), "0"}},
      {"libuv", "peer", {(peers / "libuv_echo").string(), "0"}},
      {"libevent", "peer", {(peers / "libevent_echo").string(), "0"}},
  };
}

}  // namespace

CompareCommand::CompareCommand(CLI::App& parent) {
  command_ =
      parent.add_subcommand("compare",
                            "Measure sockkit's engines against the floors and the Asio, libuv and "
                            "libevent peers, side by side");
  command_->footer(R"(
Each scenario runs every server in turn (A B C A B C ...) for --reps repetitions, with a
fresh server each time. The server runs pinned to core 1 and the load generator (sockkit
bench's, in this process) to core 0. Reported per server: messages/s (median, min-max),
its ratio to the epoll floor and to the best peer, the server's CPU-us per message (from
/proc/PID/stat), syscalls per message (perf stat, where perf works), p99 and p99.9 latency.
On two cores the generator saturates first, so the fast servers' messages/s converge and
CPU per message is what ranks them; the table says when that happened. This machine may be
shared and noisy: trust ratios from one run, not absolute numbers across runs.

Scenarios: pingpong-1, pingpong-10, pingpong-100, pingpong-1000, pingpong-4k, rate-50,
rate-80 (open loop at that % of the epoll floor's ping-pong peak), bulk (64 KiB stream;
compared with iperf3 one way when installed), churn (connect, echo, close), hold (10,000
idle connections: server memory per connection). Multi-thread scaling needs 4 cores.
The peers are built with -DSOCKKIT_BUILD_PEERS=ON (the release preset); missing ones are
left out and named.

Exit status: 0 when every run was error-free, 1 when a server failed a run, 2 for bad usage.

Examples:
  sockkit compare --quick                          # about a minute
  sockkit compare --json compare.json --chart compare.png
  sockkit compare --scenarios pingpong-100,pingpong-1000 --servers epoll-floor,sockkit-epoll --reps 5)");
  command_->add_option("--scenarios", scenarios_, "Which scenarios (default: all)")
      ->type_name("NAME,...")
      ->delimiter(',');
  command_
      ->add_option("--servers", servers_,
                   "Which servers: epoll-floor, uring-floor, sockkit-epoll, sockkit-uring, "
                   "sockkit-threaded, asio, libuv, libevent (default: all that are built)")
      ->type_name("NAME,...")
      ->delimiter(',');
  add_number_option(*command_, "-r,--reps", reps_, "Repetitions of each run", 1, 1000);
  command_->add_option("-d,--duration", duration_, "Length of each run")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_flag("--quick", quick_,
                     "pingpong-100 and churn, 2 repetitions of 1 s: about a minute");
  command_->add_option("--json", json_, "Also write every result to this file as JSON")
      ->type_name("FILE");
  command_->add_option("--chart", chart_, "Also draw a PNG chart here (needs gnuplot)")
      ->type_name("FILE");
  command_
      ->add_option("--peers-dir", peers_dir_,
                   "Where the floors and peers are (default: next to this program)")
      ->type_name("DIR");
}

int CompareCommand::run() {
  std::vector<Server> servers;
  std::vector<Scenario> scenarios;
  int reps = reps_;
  try {
    auto duration = parse_option("--duration", duration_, parse_duration);
    if (quick_) {
      duration = std::min(duration, std::chrono::milliseconds(1s));
      reps = std::min(reps, 2);
      if (scenarios_.empty()) scenarios_ = {"pingpong-100", "churn"};
    }
    const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
    const fs::path peers = peers_dir_.empty() ? bin : fs::path(peers_dir_);
    for (auto& server : known_servers(bin, peers)) {
      if (!servers_.empty() && std::ranges::find(servers_, server.name) == servers_.end()) {
        continue;
      }
      if (!fs::exists(server.argv.front())) {
        std::cout << "note: " << server.name << " is not built (" << server.argv.front()
                  << "); configure with -DSOCKKIT_BUILD_PEERS=ON, as the release preset does\n";
        continue;
      }
      servers.push_back(std::move(server));
    }
    for (const auto& name : servers_) {
      if (std::ranges::none_of(known_servers(bin, peers),
                               [&](const Server& s) { return s.name == name; })) {
        throw std::invalid_argument("--servers: no server called '" + name + "'");
      }
    }
    for (auto& scenario : all_scenarios(duration)) {
      if (scenarios_.empty() || std::ranges::find(scenarios_, scenario.id) != scenarios_.end()) {
        if (quick_ && scenario.load.mode == LoadMode::hold) scenario.load.connections = 1000;
        scenarios.push_back(std::move(scenario));
      }
    }
    for (const auto& id : scenarios_) {
      if (std::ranges::none_of(all_scenarios(duration),
                               [&](const Scenario& s) { return s.id == id; })) {
        throw std::invalid_argument("--scenarios: no scenario called '" + id + "'");
      }
    }
    if (servers.empty()) throw std::invalid_argument("no server to compare");
  } catch (const std::invalid_argument& e) {
    return usage_error("compare", e.what());
  }
  try {
    if (!json_.empty()) check_output_file("--json", json_);
    if (!chart_.empty()) check_output_file("--chart", chart_);
  } catch (const std::exception& e) {
    std::cerr << "sockkit compare: " << e.what() << "\n";
    return 1;
  }

  const auto cores = std::thread::hardware_concurrency();
  if (cores >= 2) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(kGeneratorCpu, &cpus);
    ::sched_setaffinity(0, sizeof cpus, &cpus);  // the generator's threads inherit it
  } else {
    std::cout << "note: one core: server and generator share it\n";
  }
  std::cout << "note: multi-thread scaling needs at least 4 cores (this machine has " << cores
            << "); not run\n";
  ::signal(SIGPIPE, SIG_IGN);
  (void)sys::raise_open_file_limit(2 * kHoldConnections + 1000);  // children inherit it

  Comparison comparison(std::move(servers), scenarios, reps);
  try {
    if (std::ranges::any_of(scenarios, [](const Scenario& s) { return s.id == "bulk"; })) {
      comparison.measure_iperf();
    }
    comparison.run();
  } catch (const std::exception& e) {
    std::cerr << "sockkit compare: " << e.what() << "\n";
    return 1;
  }
  comparison.print(std::cout);
  try {
    if (!json_.empty()) {
      write_output_file("--json", json_, comparison.to_json().dump(2) + '\n');
      std::cout << "\nJSON written to " << json_ << "\n";
    }
    if (!chart_.empty()) {
      const auto png = comparison.chart();
      if (!png) {
        std::cerr << "sockkit compare: the chart could not be drawn (is gnuplot installed?)\n";
        return 1;
      }
      write_output_file("--chart", chart_, *png);
      std::cout << "chart written to " << chart_ << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "sockkit compare: " << e.what() << "\n";
    return 1;
  }
  return comparison.clean() ? 0 : 1;
}

}  // namespace sockkit::app
