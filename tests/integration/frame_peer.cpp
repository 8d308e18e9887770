// A framed peer for the Python interop tests.
//   frame_peer serve                 listen on 127.0.0.1:0, print "Listening on ADDR", serve
//                                    one client with proto::FramedEcho, print "closed: REASON"
//   frame_peer send PORT HEX...      send each HEX payload as a frame to 127.0.0.1:PORT,
//                                    half-close, print each frame received back as hex
#include <array>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sockkit/sockkit.hpp"

namespace {

using namespace sockkit;

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const auto b : bytes) {
    const auto c = std::to_integer<unsigned>(b);
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

int serve() {
  auto listener = net::TcpListener::bind(net::Address::ipv4_loopback());
  std::cout << "Listening on " << listener.local_address() << std::endl;
  auto conn = listener.accept();
  proto::FramedEcho protocol;
  codec::ByteBuffer out;
  std::array<std::byte, 64 * 1024> buffer{};
  proto::CloseReason reason{};
  for (;;) {
    const auto n = conn.recv_some(buffer);
    if (n == 0) {
      reason = protocol.on_end_of_stream();
      break;
    }
    const auto verdict = protocol.on_data(std::span(buffer).first(n), out);
    conn.send_all(out.readable());
    out.clear();
    if (verdict.close) {
      reason = verdict.reason;
      break;
    }
  }
  std::cout << "closed: " << proto::to_string(reason) << std::endl;
  return 0;
}

int send(const std::string& port, const std::vector<std::string>& payloads) {
  auto stream = net::TcpStream::connect(net::Endpoint::parse("127.0.0.1", port));
  for (const auto& hex : payloads) net::send_frame(stream, from_hex(hex));
  stream.shutdown_write();
  std::vector<std::byte> frame;
  while (net::recv_frame(stream, frame)) std::cout << "frame " << to_hex(frame) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 1 && args[0] == "serve") return serve();
    if (args.size() >= 2 && args[0] == "send") return send(args[1], {args.begin() + 2, args.end()});
    std::cerr << "usage: frame_peer serve | frame_peer send PORT HEX...\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "frame_peer: " << e.what() << '\n';
    return 1;
  }
}
