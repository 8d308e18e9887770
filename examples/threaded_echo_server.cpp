// The socket lesson's multi-client server: the accept loop hands each client to its own
// thread, which echoes until that client closes. Runs until Ctrl-C.
// Usage: threaded_echo_server [HOST [PORT]]   (default 127.0.0.1 65432)
#include <array>
#include <cstddef>
#include <iostream>
#include <span>
#include <string>
#include <thread>

#include "sockkit/sockkit.hpp"

namespace {

void client_thread(sockkit::net::TcpStream conn) {
  try {
    std::array<std::byte, 64 * 1024> buffer;
    while (const auto n = conn.recv_some(buffer)) conn.send_all(std::span(buffer).first(n));
  } catch (const std::exception& e) {
    std::cerr << "client " << conn.peer_address() << ": " << e.what() << '\n';
  }
  std::cout << ("Disconnected " + conn.peer_address().to_string() + "\n") << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sockkit::net;
  const char* host = argc > 1 ? argv[1] : "127.0.0.1";
  const char* port = argc > 2 ? argv[2] : "65432";
  try {
    auto listener = TcpListener::bind(Endpoint::parse(host, port));
    std::cout << "Listening on " << listener.local_address() << std::endl;
    for (;;) {
      Address peer;
      auto conn = listener.accept(&peer);
      std::cout << ("Connected by " + peer.to_string() + "\n") << std::flush;
      std::thread(client_thread, std::move(conn)).detach();
    }
  } catch (const std::exception& e) {
    std::cerr << "threaded_echo_server: " << e.what() << '\n';
    return 1;
  }
}
