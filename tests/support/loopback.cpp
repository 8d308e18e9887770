#include "support/loopback.hpp"

#include <stdlib.h>

#include <random>
#include <stdexcept>

namespace sockkit::test {

std::pair<net::TcpStream, net::TcpStream> make_tcp_pair(const net::Address& listen_on) {
  auto listener = net::TcpListener::bind(listen_on);
  auto client = net::TcpStream::connect(listener.local_address());
  auto server = listener.accept();
  return {std::move(client), std::move(server)};
}

std::size_t open_fd_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;  // the iterator's own descriptor is counted every time, so counts compare
}

std::vector<std::byte> random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::byte> bytes(size);
  for (auto& b : bytes) b = static_cast<std::byte>(byte(engine));
  return bytes;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sockkit-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace sockkit::test
