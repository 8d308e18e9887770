#pragma once

// Test helpers over real loopback sockets. Everything binds port 0, never a fixed port, so
// tests can run in parallel.

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sockkit/net/tcp_listener.hpp"
#include "sockkit/net/tcp_stream.hpp"

namespace sockkit::test {

/// A connected pair over 127.0.0.1 (or `listen_on`): {client side, server side}.
std::pair<net::TcpStream, net::TcpStream> make_tcp_pair(
    const net::Address& listen_on = net::Address::ipv4_loopback());

/// How many descriptors this process has open (entries in /proc/self/fd).
std::size_t open_fd_count();

/// Deterministic pseudo-random bytes.
std::vector<std::byte> random_bytes(std::size_t size, unsigned seed);

/// A fresh directory under the system temporary directory, removed with its contents when
/// destroyed. Unix socket paths go here.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace sockkit::test
