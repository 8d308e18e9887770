#include "send_command.hpp"

#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "exit_status.hpp"
#include "options.hpp"
#include "sockkit/codec/text.hpp"
#include "sockkit/net/endpoint.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/net/framing.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/sys/socket.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

// Sends `data` and receives exactly as many bytes back, both at once: a reply as large as
// the message can fill both directions' buffers, so writing everything first could stall.
std::vector<std::byte> echo_exchange(net::StreamSocket& stream, std::span<const std::byte> data) {
  std::error_code send_ec;
  std::thread writer([&] { stream.send_all(data, send_ec); });
  std::vector<std::byte> reply(data.size());
  std::error_code recv_ec;
  const auto got = stream.recv_exact(reply, recv_ec);
  if (recv_ec) {
    std::error_code ignored;  // wakes a writer stuck on a server that stopped reading
    sys::shutdown(stream.native_handle(), SHUT_RDWR, ignored);
  }
  writer.join();
  if (recv_ec) {
    throw std::system_error(recv_ec,
                            fmt::format("reply from {} ({} of {} bytes arrived)",
                                        stream.peer_address().to_string(), got, data.size()));
  }
  if (send_ec) throw std::system_error(send_ec, "send to " + stream.peer_address().to_string());
  return reply;
}

int print_until_close(net::StreamSocket& stream, bool hex) {
  // Printed as it arrives, in constant memory (as nc does): one buffer, one reused line of
  // output. The quote cannot depend on the whole reply, so it is always ' (a ' inside is
  // \'), which reads back as the same bytes in Python. Whatever arrived before a timeout or
  // a reset is printed before the error.
  std::array<std::byte, 64 * 1024> buffer{};
  std::string out = hex ? "Received " : "Received b'";
  std::uint64_t total = 0;
  std::error_code ec;
  while (true) {
    const auto n = stream.recv_some(buffer, ec);
    if (ec || n == 0) break;
    total += n;
    const auto piece = std::span(buffer).first(n);
    if (hex) {
      out += format_hex(piece);
    } else {
      codec::append_python_bytes_escaped(out, piece, '\'');
    }
    std::cout << out << std::flush;
    out.clear();
  }
  std::cout << (hex ? "" : "'") << std::endl;
  if (ec) {
    std::cerr << fmt::format("sockkit send: reply from {} ({} bytes arrived): {}\n",
                             stream.peer_address().to_string(), total, ec.message());
    return exit_status_for(ec);
  }
  return kExitOk;
}

}  // namespace

SendCommand::SendCommand(CLI::App& parent) {
  command_ = parent.add_subcommand(
      "send", "Send messages and print the replies (the tutorial's client, by default)");
  command_->footer(std::string(R"(
With no arguments: connect to 127.0.0.1:65432, send 'Hello, world' and print
"Received b'Hello, world'", like the tutorial's client. Each MESSAGE is sent in turn and
its reply read in full (as many bytes as were sent; TCP may deliver them in pieces) before
the next. Replies are printed as Python prints bytes: printable ASCII as is, the rest
escaped (\xNN), so nothing a server sends can reach your terminal raw.
)") + kClientExitStatusHelp +
                   R"(

Examples:
  sockkit send                                   # Received b'Hello, world'
  sockkit send 127.0.0.1:9000 ping pong          # two messages, two replies
  sockkit send [::1]:9000 --hex 'de ad be ef'    # hex in, hex out
  sockkit send unix:/tmp/echo.sock --framed one two
  sockkit send example.org:80 $'GET / HTTP/1.0\r\n\r\n' --until-close)");
  command_->add_option("ADDR", target_, "HOST:PORT, [IPv6]:PORT or unix:/path")
      ->type_name("ADDR")
      ->capture_default_str();
  command_->add_option("MESSAGE", messages_, "What to send (default: 'Hello, world')")
      ->type_name("MESSAGE");
  command_->add_flag("--framed", framed_,
                     "Send each MESSAGE as a length-prefixed frame (4-byte big-endian length) "
                     "and read one frame back for each");
  command_->add_flag("--hex", hex_,
                     "MESSAGEs are hex digits ('48656c6c6f', 'de:ad'); replies print as hex");
  command_->add_flag("--until-close", until_close_,
                     "Send every MESSAGE, shut down the sending side, and print all that "
                     "arrives until the server closes");
  command_->add_option("--connect-timeout", connect_timeout_, "Give up connecting after this")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--timeout", timeout_, "Give up when a reply stalls this long")
      ->type_name("DURATION")
      ->capture_default_str();
  command_->add_option("--max-frame", max_frame_, "--framed: the largest reply frame accepted")
      ->type_name("SIZE")
      ->capture_default_str();
}

int SendCommand::run() {
  std::vector<std::vector<std::byte>> messages;
  std::optional<net::Endpoint> endpoint;
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds timeout{};
  codec::FrameFormat format;
  try {
    endpoint =
        parse_option("ADDR", target_, [](const std::string& t) { return net::Endpoint::parse(t); });
    connect_timeout = parse_option("--connect-timeout", connect_timeout_, parse_duration);
    timeout = parse_option("--timeout", timeout_, parse_duration);
    format.max_frame = parse_option("--max-frame", max_frame_, parse_size);
    if (framed_ && until_close_) throw UsageError("--framed and --until-close do not go together");
    if (messages_.empty())
      messages_.emplace_back(hex_ ? "48656c6c6f2c20776f726c64" : "Hello, world");
    for (const auto& text : messages_) {
      if (hex_) {
        messages.push_back(parse_option("MESSAGE", text, parse_hex));
      } else {
        const auto bytes = std::as_bytes(std::span(text));
        messages.emplace_back(bytes.begin(), bytes.end());
      }
    }
  } catch (const std::invalid_argument& e) {
    return usage_error("send", e.what());
  }

  const auto show = [this](std::span<const std::byte> reply) {
    std::cout << "Received " << (hex_ ? format_hex(reply) : codec::python_bytes_repr(reply))
              << std::endl;
  };
  try {
    auto stream = net::StreamSocket::connect(*endpoint, connect_timeout);
    stream.set_read_timeout(timeout);
    stream.set_write_timeout(timeout);
    if (until_close_) {
      for (const auto& message : messages) stream.send_all(message);
      stream.shutdown_write();
      return print_until_close(stream, hex_);
    }
    std::vector<std::byte> frame;
    for (const auto& message : messages) {
      if (!framed_) {
        show(echo_exchange(stream, message));
        continue;
      }
      net::send_frame(stream, message, format);
      if (!net::recv_frame(stream, frame, format)) {
        throw std::system_error(net::make_error_code(net::Errc::closed_early),
                                "reply from " + stream.peer_address().to_string() +
                                    ": the server closed before sending a frame");
      }
      show(frame);
    }
    return kExitOk;
  } catch (const std::system_error& e) {
    std::cerr << "sockkit send: " << e.what() << "\n";
    return exit_status_for(e.code());
  }
}

}  // namespace sockkit::app
