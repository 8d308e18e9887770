#include "connect_command.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <vector>

#include "exit_status.hpp"
#include "options.hpp"
#include "relay.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/net/stream_listener.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/net/udp_socket.hpp"
#include "units.hpp"

namespace sockkit::app {

ConnectCommand::ConnectCommand(CLI::App& parent) {
  command_ = parent.add_subcommand(
      "connect",
      "Talk to a server from the terminal or a pipe, like nc (stdin to it, it to stdout)");
  command_->footer(std::string(R"(
Everything read from standard input goes to the peer and everything the peer sends goes
to standard output, byte for byte. At the end of the input the sending side is shut down
(the peer sees EOF, like OpenBSD nc -N) and the replies are still printed until the peer
closes. Status lines (Listening on ..., errors) go to stderr, never into the data.
With -u, each read of the input is one datagram; after the input ends, replies are printed
until none arrive for a second (or --idle-timeout, if set).
)") + kClientExitStatusHelp +
                   R"(

Examples:
  sockkit connect 127.0.0.1:65432                 # type lines, see them echoed
  printf 'Hello' | sockkit connect 127.0.0.1:65432
  sockkit connect unix:/tmp/echo.sock < request.bin > reply.bin
  sockkit connect --listen 127.0.0.1:9000         # wait for one peer (nc -l)
  sockkit connect -u 127.0.0.1:5353               # UDP
  sockkit connect -w 5s 127.0.0.1:65432           # give up after 5 s silent (nc -w)
  sockkit connect --framed 127.0.0.1:9000         # a frame per line, a line per frame
  sockkit connect -z 127.0.0.1:65432 && echo open # is it listening? (nc -z)
  sockkit connect -6 localhost:65432              # IPv6 only (nc -6))");
  command_->add_option("ADDR", target_, "Where to connect: HOST:PORT, [IPv6]:PORT or unix:/path")
      ->type_name("ADDR");
  command_
      ->add_option("-l,--listen", listen_,
                   "Instead of connecting, listen on this address and serve one peer: "
                   "HOST:PORT, PORT or :PORT (every IPv4 interface), [::]:PORT (every "
                   "interface, IPv4 too) or unix:/path")
      ->type_name("ADDR");
  command_->add_flag("-u,--udp", udp_, "UDP datagrams instead of a TCP stream");
  command_->add_flag("--framed", framed_,
                     "Send each input line as a length-prefixed frame (4-byte big-endian length); "
                     "print each frame received as one line, escaped as send prints bytes (\\n, "
                     "\\xNN, \\\\)");
  command_->add_flag("-v,--verbose", verbose_, "Say on stderr whom we connected to");
  auto* ipv4 = command_->add_flag("-4", ipv4_only_, "IPv4 addresses only (as nc -4)");
  command_->add_flag("-6", ipv6_only_, "IPv6 addresses only (as nc -6)")->excludes(ipv4);
  command_->add_flag("-z,--zero-io", zero_io_,
                     "Only find out whether a TCP connection to ADDR can be made, sending "
                     "nothing (as nc -z): exit 0 if it can, 1 if refused, 3 on a timeout");
  command_->add_option("--connect-timeout", connect_timeout_, "Give up connecting after this")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("--idle-timeout", idle_timeout_,
                   "Close after no traffic either way for this long (0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  command_
      ->add_option("-w,--wait", wait_,
                   "As nc -w: give up connecting, and close a session silent both ways, after "
                   "this (sets --connect-timeout and --idle-timeout)")
      ->type_name("DURATION")
      ->excludes("--connect-timeout")
      ->excludes("--idle-timeout");
  command_->add_option("--max-frame", max_frame_, "--framed: the largest frame either way")
      ->type_name("SIZE")
      ->capture_default_str();
}

int ConnectCommand::run() {
  RelayOptions options;
  std::chrono::milliseconds connect_timeout{};
  std::optional<net::Endpoint> endpoint;
  const bool listening = !listen_.empty();
  try {
    if (listening == !target_.empty()) {
      throw UsageError(listening ? "give either ADDR or --listen ADDR, not both"
                                 : "where to? give ADDR (or --listen ADDR)");
    }
    endpoint = listening ? parse_option("--listen", listen_, parse_listen)
                         : parse_option("ADDR", target_, [](const std::string& t) {
                             return net::Endpoint::parse(t);
                           });
    connect_timeout = parse_option("--connect-timeout", connect_timeout_, parse_duration);
    options.idle_timeout = parse_option("--idle-timeout", idle_timeout_, parse_duration);
    if (!wait_.empty()) {
      connect_timeout = options.idle_timeout = parse_option("-w", wait_, parse_duration);
      if (connect_timeout.count() == 0)
        throw UsageError("-w: '0' would never give up; leave it out");
    }
    options.format.max_frame = parse_option("--max-frame", max_frame_, parse_size);
    options.framed = framed_;
    if (udp_ && framed_) throw UsageError("--framed is for streams; a datagram is its own frame");
    const bool unix_path = endpoint->to_string().starts_with("unix:");
    if (udp_ && unix_path) {
      throw UsageError("-u: UDP needs an IP address, not a Unix socket path");
    }
    if ((ipv4_only_ || ipv6_only_) && unix_path) {
      throw UsageError(std::string(ipv4_only_ ? "-4" : "-6") + ": not for a Unix socket path");
    }
    if (zero_io_ && (listening || udp_ || framed_)) {
      throw UsageError("-z: only for a TCP or Unix stream to ADDR (no --listen, -u, --framed)");
    }
  } catch (const std::invalid_argument& e) {
    return usage_error("connect", e.what());
  }

  try {
    auto addresses = endpoint->resolve();
    const bool one_family = ipv4_only_ || ipv6_only_;
    if (one_family) {
      const int family = ipv4_only_ ? AF_INET : AF_INET6;
      std::erase_if(addresses, [family](const net::Address& a) { return a.domain() != family; });
      if (addresses.empty()) {
        fmt::print(stderr, "sockkit connect: {} has no {} address\n", endpoint->to_string(),
                   ipv4_only_ ? "IPv4" : "IPv6");
        return kExitFailed;
      }
    }
    if (listening) warn_if_every_interface("connect", addresses.front());
    if (udp_) {
      if (listening) {
        auto socket = net::UdpSocket::bind(addresses.front());
        fmt::print(stderr, "Listening on {} (udp)\n", socket.local_address().to_string());
        return run_datagram_relay(socket, std::nullopt, options);
      }
      auto socket = net::UdpSocket::connect(addresses.front());
      return run_datagram_relay(socket, addresses.front(), options);
    }
    net::StreamSocket stream;
    if (listening) {
      // [::] takes IPv4 peers too, as nc -l does.
      auto listener =
          net::StreamListener::bind(addresses.front(), {.backlog = 1, .dual_stack = true});
      fmt::print(stderr, "Listening on {}\n", listener.local_address().to_string());
      stream = listener.accept();
      listener.close();  // one peer: the next is refused, not left waiting
      if (verbose_) fmt::print(stderr, "Connection from {}\n", stream.peer_address().to_string());
    } else if (one_family) {
      std::error_code ec;
      stream = net::StreamSocket::connect_any(addresses, connect_timeout, ec);
      if (ec) {
        fmt::print(stderr, "sockkit connect: connect {} ({} only): {}\n", endpoint->to_string(),
                   ipv4_only_ ? "IPv4" : "IPv6", ec.message());
        return exit_status_for(ec);
      }
    } else {
      stream = net::StreamSocket::connect(*endpoint, connect_timeout);
    }
    if (!listening && verbose_) {
      fmt::print(stderr, "Connected to {}\n", stream.peer_address().to_string());
    }
    if (zero_io_) return kExitOk;  // it can be made: that is all -z asks
    return run_stream_relay(stream.native_handle(), stream.peer_address(), options);
  } catch (const std::system_error& e) {
    fmt::print(stderr, "sockkit connect: {}\n", e.what());
    return exit_status_for(e.code());
  }
}

}  // namespace sockkit::app
