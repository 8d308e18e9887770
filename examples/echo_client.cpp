// The socket lesson's echo client on sockkit: connect, send a message, read the whole echo
// back (not just whatever one recv returns), print it as Python would.
// Usage: echo_client [HOST [PORT [MESSAGE]]]   (default 127.0.0.1 65432 "Hello, world")
#include <iostream>
#include <span>
#include <string>

#include "sockkit/sockkit.hpp"

int main(int argc, char** argv) {
  using namespace sockkit;
  const char* host = argc > 1 ? argv[1] : "127.0.0.1";
  const char* port = argc > 2 ? argv[2] : "65432";
  const std::string message = argc > 3 ? argv[3] : "Hello, world";
  try {
    auto stream = net::TcpStream::connect(net::Endpoint::parse(host, port));
    stream.send_all(message);

    std::string reply(message.size(), '\0');
    stream.recv_exact(std::as_writable_bytes(std::span(reply)));
    std::cout << "Received " << codec::python_bytes_repr(reply) << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "echo_client: " << e.what() << '\n';
    return 1;
  }
}
