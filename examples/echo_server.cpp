// The socket lesson's echo server on sockkit: bind, listen, accept one client, send back
// every byte until the client closes. Usage: echo_server [HOST [PORT]]
// (default 127.0.0.1 65432; port 0 lets the kernel choose, and the line below says which).
#include <array>
#include <cstddef>
#include <iostream>
#include <span>

#include "sockkit/sockkit.hpp"

int main(int argc, char** argv) {
  using namespace sockkit::net;
  const char* host = argc > 1 ? argv[1] : "127.0.0.1";
  const char* port = argc > 2 ? argv[2] : "65432";
  try {
    auto listener = TcpListener::bind(Endpoint::parse(host, port));
    std::cout << "Listening on " << listener.local_address() << std::endl;

    Address peer;
    auto conn = listener.accept(&peer);
    std::cout << "Connected by " << peer << std::endl;

    std::array<std::byte, 64 * 1024> buffer;
    // recv_some returns 0 when the client closes; send_all loops until every byte is out.
    while (const auto n = conn.recv_some(buffer)) conn.send_all(std::span(buffer).first(n));
    return 0;  // conn and listener close themselves here
  } catch (const std::exception& e) {
    std::cerr << "echo_server: " << e.what() << '\n';
    return 1;
  }
}
