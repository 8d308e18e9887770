#include "serve_command.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "connection_log.hpp"
#include "options.hpp"
#include "privileges.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/server/engine.hpp"
#include "sockkit/sys/file.hpp"
#include "stats_signal.hpp"
#include "stop_signals.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

// The counters, and when they were read: a reader of the JSON can tell a line taken after
// some event of its own from one written before it and read late.
struct Reading {
  server::Stats stats;
  std::chrono::system_clock::time_point taken;
};

Reading read_stats(const server::Engine& engine) {
  const auto taken = std::chrono::system_clock::now();  // (before: the counters are newer)
  return {engine.stats(), taken};
}

nlohmann::json to_json(const Reading& reading) {
  const auto& stats = reading.stats;
  nlohmann::json closed;
  for (std::size_t i = 0; i < proto::kCloseReasonCount; ++i) {
    closed[std::string(proto::to_string(static_cast<proto::CloseReason>(i)))] = stats.closed[i];
  }
  const std::chrono::duration<double> unix_time = reading.taken.time_since_epoch();
  return {{"time", unix_time.count()},
          {"accepted", stats.accepted},
          {"rejected", stats.rejected},
          {"active", stats.active()},
          {"bytes_in", stats.bytes_in},
          {"bytes_out", stats.bytes_out},
          {"closed_by_reason", closed},
          {"buffered", stats.buffered},
          {"budget_pauses", stats.budget_pauses},
          {"promised", stats.promised},
          {"buffer_waits", stats.buffer_waits}};
}

std::string stats_line(const server::Stats& stats) {
  return fmt::format("stats accepted={} active={} rejected={} bytes_in={} bytes_out={} buffered={}",
                     stats.accepted, stats.active(), stats.rejected, stats.bytes_in,
                     stats.bytes_out, stats.buffered);
}

// "IDLE,INTERVAL,COUNT" ("60s,10s,6"), or "0" for no keepalive.
void parse_keepalive(const std::string& text, server::ServerConfig& config) {
  if (text == "0") {
    config.keepalive_idle = std::chrono::seconds(0);
    return;
  }
  const auto first = text.find(',');
  const auto second = first == std::string::npos ? first : text.find(',', first + 1);
  if (second == std::string::npos) {
    throw std::invalid_argument("--keepalive: '" + text +
                                "' is not IDLE,INTERVAL,COUNT (e.g. 60s,10s,6) or 0");
  }
  const auto seconds = [&](std::string_view part) {
    const auto value = parse_option("--keepalive", std::string(part), parse_duration);
    if (value < std::chrono::seconds(1)) {
      throw std::invalid_argument("--keepalive: the kernel counts in whole seconds, at least 1");
    }
    return std::chrono::duration_cast<std::chrono::seconds>(value);
  };
  config.keepalive_idle = seconds(std::string_view(text).substr(0, first));
  config.keepalive_interval = seconds(std::string_view(text).substr(first + 1, second - first - 1));
  const auto count = std::string_view(text).substr(second + 1);
  int value = 0;
  const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), value);
  if (error != std::errc{} || end != count.data() + count.size() || value < 1 || value > 127) {
    throw std::invalid_argument("--keepalive: COUNT '" + std::string(count) +
                                "' is not a number from 1 to 127");
  }
  config.keepalive_count = value;
}

// "0660", "660", "0600": permission bits in octal, at least the owner's read and write
// (without them the server's own user could not use the socket).
unsigned parse_unix_mode(const std::string& text) {
  unsigned mode = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (error != std::errc{} || end != text.data() + text.size() || mode > 0777 ||
      (mode & 0600) != 0600) {
    throw UsageError("--unix-mode: '" + text +
                     "' is not permission bits in octal with the owner's read and write "
                     "(0600 to 0777, e.g. 0660)");
  }
  return mode;
}

}  // namespace

ServeCommand::ServeCommand(CLI::App& parent) {
  const server::ServerConfig defaults;
  keepalive_ = fmt::format("{}s,{}s,{}", defaults.keepalive_idle.count(),
                           defaults.keepalive_interval.count(), defaults.keepalive_count);
  tcp_user_timeout_ = fmt::format("{}s", defaults.tcp_user_timeout.count() / 1000);
  socket_send_buffer_ = format_size_exact(defaults.socket_send_buffer);
  socket_unsent_limit_ = format_size_exact(defaults.socket_unsent_limit);
  max_buffer_memory_ = format_size_exact(defaults.max_buffer_memory);
  uring_queue_depth_ = defaults.uring.queue_depth;
  uring_buffers_ = defaults.uring.buffer_count;
  uring_buffer_size_ = format_size_exact(defaults.uring.buffer_size);
  command_ = parent.add_subcommand(
      "serve", "Run an echo server (the tutorial's, by default) on any of sockkit's engines");
  command_->footer(R"(
With no arguments: echo on 127.0.0.1:65432, like the tutorial's server. Every resource a
client can make the server hold has a limit, and every limit is a flag with a safe default.
SIGINT or SIGTERM stops accepting at once and lets active clients finish within
--drain-timeout; a second signal exits at once. SIGUSR1 prints one stats line (as
--stats-interval does) without stopping anything.

Exit status: 0 after a clean stop, 1 when the server cannot start (port in use, permission
denied), 2 for bad usage.

Examples:
  sockkit serve                                   # echo on 127.0.0.1:65432
  sockkit serve --listen :9000 --engine threaded  # every interface (prints a warning)
  sockkit serve --listen [::1]:9000 --protocol framed-echo --max-frame 64KiB
  sockkit serve --listen unix:/tmp/echo.sock --stats-interval 1s
  sockkit serve --idle-timeout 30s --max-connections 1000 --json
  sudo sockkit serve --listen :80 --user nobody   # bind as root, then serve as nobody
  sockkit serve -v                                # log each connection to stderr)");
  command_
      ->add_option("-l,--listen", listen_,
                   "HOST:PORT, PORT or :PORT (every IPv4 interface), [::]:PORT (every "
                   "interface, IPv4 too), [IPv6]:PORT or unix:/path; a port may be a "
                   "service name (http)")
      ->type_name("ADDR")
      ->capture_default_str();
  command_
      ->add_option("-e,--engine", engine_,
                   "auto (io_uring if the kernel allows, else epoll), iterative, threaded, "
                   "epoll or uring")
      ->type_name("ENGINE")
      ->capture_default_str();
  add_number_option(*command_, "-t,--threads", threads_,
                    "epoll and uring: event loops (0: one per core)", std::size_t{0},
                    std::size_t{256});
  command_->add_option("-p,--protocol", protocol_, "echo, framed-echo or discard")
      ->type_name("PROTOCOL")
      ->capture_default_str();
  add_number_option(*command_, "--max-connections", max_connections_,
                    "More clients are accepted and closed at once", std::size_t{1},
                    std::size_t{10'000'000});
  command_->add_option("--idle-timeout", idle_timeout_, "Close a connection silent this long")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--send-timeout", send_timeout_,
                   "Close a client that takes no replies for this long")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--frame-timeout", frame_timeout_,
                   "framed-echo: a frame must arrive within this of its first byte")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--drain-timeout", drain_timeout_, "After a stop signal, wait this long")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--turn-limit", turn_limit_,
                   "iterative (one client at a time): a client served this long is closed as "
                   "soon as another waits, so one slow client cannot hold the server; a client "
                   "alone is never cut (0: no limit)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--max-frame", max_frame_, "framed-echo: the largest frame accepted")
      ->type_name("SIZE")
      ->capture_default_str();
  command_
      ->add_option("--high-water-mark", high_water_mark_,
                   "Stop reading a client with this much unsent reply")
      ->type_name("SIZE")
      ->capture_default_str();
  command_
      ->add_option("--max-buffer-memory", max_buffer_memory_,
                   "All clients' unsent replies together (0: no limit), exact but for 4 KiB a "
                   "client; once spent, a client holding replies is not read until they go, "
                   "and one owing nothing reads 4 KiB at a time")
      ->type_name("SIZE")
      ->capture_default_str();
  add_number_option(*command_, "--backlog", backlog_,
                    "Pending connections the kernel queues (it caps them at net.core.somaxconn)", 1,
                    65535);
  command_
      ->add_option("--keepalive", keepalive_,
                   "TCP keepalive IDLE,INTERVAL,COUNT: probe a silent peer after IDLE, every "
                   "INTERVAL, and give up after COUNT unanswered (0: off)")
      ->type_name("IDLE,INTERVAL,COUNT")
      ->capture_default_str();
  command_
      ->add_option("--tcp-user-timeout", tcp_user_timeout_,
                   "Close a connection whose sent data stays unacknowledged this long (0: the "
                   "kernel's default)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--socket-send-buffer", socket_send_buffer_,
                   "Each client's kernel send buffer (SO_SNDBUF; 0: the kernel's autotuning)")
      ->type_name("SIZE")
      ->capture_default_str();
  command_
      ->add_option("--socket-unsent-limit", socket_unsent_limit_,
                   "TCP: the most replies the kernel holds unsent for one client "
                   "(TCP_NOTSENT_LOWAT; 0: the kernel's default, no limit)")
      ->type_name("SIZE")
      ->capture_default_str();
  add_number_option(*command_, "--uring-queue-depth", uring_queue_depth_,
                    "uring: submission queue entries", 2U, 32768U);
  add_number_option(*command_, "--uring-buffers", uring_buffers_,
                    "uring: receive buffers per loop (a power of two)", 1U, 32768U);
  command_->add_option("--uring-buffer-size", uring_buffer_size_, "uring: each receive buffer")
      ->type_name("SIZE")
      ->capture_default_str();
  command_
      ->add_option("--unix-mode", unix_mode_,
                   "unix:/path: the socket file's permissions, in octal (0660: owner and group "
                   "may connect), whatever the umask")
      ->type_name("OCTAL")
      ->capture_default_str();
  command_
      ->add_option("--user", user_,
                   "Once listening, run as this user (its own group, no others, no "
                   "capabilities): start as root for a port below 1024, then drop root")
      ->type_name("USER");
  command_->add_option("--stats-interval", stats_interval_, "Print a stats line this often")
      ->type_name("DURATION");
  command_->add_flag("--json", json_,
                     "Print the final stats as JSON on exit (and each --stats-interval line as "
                     "one line of JSON); \"time\" is when they were read, in Unix seconds");
  command_->add_flag("-v,--verbose", verbose_,
                     "Log each connection to stderr: who connected, its first bytes (escaped, "
                     "at most 64), and why it closed");
}

int ServeCommand::run() {
  server::ServerConfig config;
  server::EngineKind engine_kind{};
  std::chrono::milliseconds interval{0};
  std::optional<Account> account;
  try {
    const auto endpoint = parse_option("--listen", listen_, parse_listen);
    config.listen = endpoint.resolve().front();
    config.dual_stack = true;  // [::]:PORT takes IPv4 clients too, as nc -l does
    if (engine_ == "auto") {
      // io_uring where the kernel allows it, else epoll, and say so once.
      const auto refused = server::check_engine(server::EngineKind::uring);
      engine_kind = refused ? server::EngineKind::epoll : server::EngineKind::uring;
      if (refused) {
        std::cerr << "sockkit serve: io_uring is refused here (" << refused.message()
                  << "); using epoll\n";
      }
    } else {
      const auto kind = server::parse_engine_kind(engine_);
      if (!kind) {
        throw std::invalid_argument("--engine: '" + engine_ +
                                    "' is not one of auto, iterative, threaded, epoll, uring");
      }
      engine_kind = *kind;
    }
    const auto protocol = proto::parse_protocol_kind(protocol_);
    if (!protocol) {
      throw std::invalid_argument("--protocol: '" + protocol_ +
                                  "' is not one of echo, framed-echo, discard");
    }
    config.protocol = *protocol;
    config.threads = threads_;
    config.backlog = backlog_;
    config.max_connections = max_connections_;
    config.idle_timeout = parse_option("--idle-timeout", idle_timeout_, parse_duration);
    config.send_timeout = parse_option("--send-timeout", send_timeout_, parse_duration);
    config.frame_timeout = parse_option("--frame-timeout", frame_timeout_, parse_duration);
    config.drain_timeout = parse_option("--drain-timeout", drain_timeout_, parse_duration);
    config.turn_limit = parse_option("--turn-limit", turn_limit_, parse_duration);
    config.frames.max_frame = parse_option("--max-frame", max_frame_, parse_size);
    config.high_water_mark = parse_option("--high-water-mark", high_water_mark_, parse_size);
    config.max_buffer_memory = parse_option("--max-buffer-memory", max_buffer_memory_, parse_size);
    // The kernel takes these as an int (and doubles the send buffer).
    const auto kernel_size = [](std::string_view text) {
      return parse_size_at_most(text, std::size_t{1} << 30);
    };
    config.socket_send_buffer =
        parse_option("--socket-send-buffer", socket_send_buffer_, kernel_size);
    config.socket_unsent_limit =
        parse_option("--socket-unsent-limit", socket_unsent_limit_, kernel_size);
    parse_keepalive(keepalive_, config);
    config.tcp_user_timeout = parse_option("--tcp-user-timeout", tcp_user_timeout_, parse_duration);
    config.uring.queue_depth = uring_queue_depth_;
    config.uring.buffer_count = uring_buffers_;
    config.uring.buffer_size =
        static_cast<unsigned>(parse_option("--uring-buffer-size", uring_buffer_size_, kernel_size));
    if (!stats_interval_.empty()) {
      interval = parse_option("--stats-interval", stats_interval_, parse_duration);
    }
    config.unix_mode = parse_unix_mode(unix_mode_);
    if (!user_.empty()) account = find_account(user_);
  } catch (const std::invalid_argument& e) {
    return usage_error("serve", e.what());
  } catch (const std::exception& e) {
    std::cerr << "sockkit serve: " << e.what() << "\n";
    return 1;
  }
  config.log = [](std::string_view message) {
    fmt::print(stderr, "sockkit serve: {}\n", message);  // one write per line, from any thread
  };
  if (verbose_) {
    config.on_connection = [](const server::ConnectionEvent& event) {
      fmt::print(stderr, "{}\n", describe(event));
    };
  }

  // Signals go to one thread that waits for them; blocked here, before any engine thread
  // exists, so all inherit the mask.
  block_stop_signals();

  std::unique_ptr<server::Engine> engine;
  try {
    // A server that has just exited may hold its port a few milliseconds longer (the
    // kernel tears an io_uring down after its process: docs/performance.md, C9),
    // so a restart retries "address in use" for up to a second before saying so.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!engine) {
      try {
        engine = server::make_engine(engine_kind, config);
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::address_in_use || std::chrono::steady_clock::now() >= give_up) {
          throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  } catch (const std::invalid_argument& e) {  // sizes the engine cannot use
    return usage_error("serve", e.what());
  } catch (const std::exception& e) {
    std::cerr << "sockkit serve: " << e.what() << "\n";
    return 1;
  }
  if (account) {
    try {
      if (config.listen.family() == net::Address::Family::unix_path) {
        // The socket file was made as root: give it to the server's user, who can then
        // remove it on exit wherever the folder lets it (a sticky /tmp does).
        std::error_code ec;
        sys::change_owner(engine->local_address().host(), account->uid, account->gid, ec);
        if (ec) throw std::system_error(ec, "--user: giving the socket file to " + account->name);
      }
      become(*account);  // listening already: nothing else needs root
    } catch (const std::exception& e) {
      std::cerr << "sockkit serve: " << e.what() << "\n";
      return 1;
    }
  }
  warn_if_every_interface("serve", config.listen);
  std::mutex print_mutex;  // the interval and SIGUSR1 lines come from two threads
  const auto print_stats = [&] {
    const auto now = read_stats(*engine);
    const std::lock_guard lock(print_mutex);
    std::cout << (json_ ? to_json(now).dump() : stats_line(now.stats)) << std::endl;
  };
  std::optional<StatsSignal> stats_signal;
  try {
    stats_signal.emplace(print_stats);
  } catch (const std::exception& e) {
    std::cerr << "sockkit serve: " << e.what() << "\n";
    return 1;
  }
  std::optional<StopSignals> signals;
  signals.emplace(
      [&engine] {
        std::cerr << "sockkit serve: stopping (a second signal exits at once)\n";
        engine->stop();
      },
      remove_socket_file(engine->local_address()));
  std::cout << "Listening on " << engine->local_address()
            << " (engine: " << server::to_string(engine_kind)
            << ", protocol: " << proto::to_string(config.protocol) << ")" << std::endl;

  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread reporter;
  if (interval.count() > 0) {
    reporter = std::thread([&] {
      std::unique_lock lock(mutex);
      while (!done_cv.wait_for(lock, interval, [&] { return done; })) print_stats();
    });
  }

  engine->run();

  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  if (reporter.joinable()) reporter.join();
  signals.reset();
  stats_signal.reset();

  const auto last = read_stats(*engine);
  if (json_) {
    std::cout << to_json(last).dump(2) << std::endl;
  } else {
    std::cout << stats_line(last.stats) << std::endl;
  }
  return 0;
}

}  // namespace sockkit::app
