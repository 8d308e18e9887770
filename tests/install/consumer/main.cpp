// Uses the installed headers and library: one round trip over loopback.
#include <array>
#include <iostream>
#include <sockkit/sockkit.hpp>

int main() {
  using namespace sockkit::net;
  auto listener = TcpListener::bind(Address::ipv4_loopback());
  auto client = TcpStream::connect(listener.local_address());
  auto server = listener.accept();
  client.send_all("installed");
  std::array<std::byte, 9> buffer{};
  server.recv_exact(buffer);
  std::cout << sockkit::codec::python_bytes_repr(buffer) << '\n';
  return 0;
}
