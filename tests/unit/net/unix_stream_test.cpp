#include "sockkit/net/unix_stream.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "sockkit/net/error.hpp"
#include "sockkit/net/unix_listener.hpp"
#include "sockkit/sys/socket.hpp"
#include "support/bytes.hpp"
#include "support/loopback.hpp"

namespace sockkit::net {
namespace {

using test::as_string;

void expect_exchange(StreamSocket& a, StreamSocket& b) {
  a.send_all("ping");
  std::array<std::byte, 4> buffer{};
  b.recv_exact(buffer);
  EXPECT_EQ(as_string(buffer), "ping");
  b.send_all("pong");
  a.recv_exact(buffer);
  EXPECT_EQ(as_string(buffer), "pong");
}

std::string unique_abstract_name() {
  static std::atomic<int> counter{0};
  return "sockkit-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// The path is taken by something of the user's: binding fails, naming why, and leaves it
// exactly as it was.
void expect_refused_and_kept(const std::string& path) {
  const auto address = Address::unix_path(path);
  try {
    (void)UnixListener::bind(address);
    FAIL() << "binding over " << path << " must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), Errc::path_not_a_socket);
    EXPECT_EQ(std::string(e.what()),
              "bind " + address.to_string() + ": exists and is not a socket");
  }
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

// A socket file with nobody listening, as a server killed with -9 leaves behind.
void make_stale_socket(const std::string& path) {
  const auto address = Address::unix_path(path);
  std::error_code ec;
  sys::Fd fd = sys::open_socket(AF_UNIX, SOCK_STREAM, 0, ec);
  sys::bind(fd.get(), address.data(), address.size(), ec);
  ASSERT_FALSE(ec) << ec.message();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(UnixStream, PathListenerServesAndRemovesItsFile) {
  test::TempDir dir;
  const auto path = dir.file("echo.sock");
  {
    auto listener = UnixListener::bind(Address::unix_path(path));
    EXPECT_TRUE(std::filesystem::is_socket(path));
    EXPECT_EQ(listener.local_address().to_string(), "unix:" + path);
    auto client = UnixStream::connect(Address::unix_path(path));
    auto server = listener.accept();
    expect_exchange(client, server);
    EXPECT_EQ(client.peer_address().host(), path);
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "the listener must remove its socket file";
}

TEST(UnixStream, AbstractNamesLeaveNoFile) {
  const auto address = Address::unix_abstract(unique_abstract_name());
  auto listener = UnixListener::bind(address);
  EXPECT_EQ(listener.local_address(), address);
  auto client = UnixStream::connect(address);
  auto server = listener.accept();
  expect_exchange(client, server);
}

TEST(UnixStream, AStaleSocketFileIsReplaced) {
  test::TempDir dir;
  const auto address = Address::unix_path(dir.file("stale.sock"));
  {
    // A server that died without cleaning up: the file stays, nobody listens.
    make_stale_socket(address.host());
  }
  ASSERT_TRUE(std::filesystem::exists(address.host()));
  auto listener = UnixListener::bind(address);
  auto client = UnixStream::connect(address);
  auto server = listener.accept();
  expect_exchange(client, server);
}

TEST(UnixStream, ALivePathIsAddressInUse) {
  test::TempDir dir;
  const auto address = Address::unix_path(dir.file("live.sock"));
  auto first = UnixListener::bind(address);
  try {
    (void)UnixListener::bind(address);
    FAIL() << "a second listener on a live path must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_EQ(std::string(e.what()), "bind " + address.to_string() + ": Address already in use");
  }
  // The stale-file check connected once to see whether a server answers: the live server
  // sees that probe as a connection that ends at once, and goes on serving.
  auto probe = first.accept();
  std::array<std::byte, 1> buffer{};
  EXPECT_EQ(probe.recv_some(buffer), 0u);
  auto client = UnixStream::connect(address);
  auto server = first.accept();
  expect_exchange(client, server);
}

TEST(UnixStream, ARegularFileAtThePathIsNeverRemoved) {
  test::TempDir dir;
  const auto path = dir.file("data.txt");
  write_file(path, "important\n");
  expect_refused_and_kept(path);
  EXPECT_EQ(read_file(path), "important\n");
}

TEST(UnixStream, ADirectoryAtThePathIsNeverRemoved) {
  test::TempDir dir;
  const auto path = dir.file("folder");
  std::filesystem::create_directory(path);
  expect_refused_and_kept(path);
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

TEST(UnixStream, ASymlinkToAFileIsNeverRemovedNorItsTarget) {
  test::TempDir dir;
  const auto target = dir.file("victim.txt");
  write_file(target, "important\n");
  const auto path = dir.file("link.sock");
  std::filesystem::create_symlink(target, path);
  expect_refused_and_kept(path);
  EXPECT_TRUE(std::filesystem::is_symlink(path));
  EXPECT_EQ(read_file(target), "important\n");
}

TEST(UnixStream, ASymlinkToAStaleSocketIsNotReplaced) {
  test::TempDir dir;
  const auto target = dir.file("stale.sock");
  make_stale_socket(target);
  const auto path = dir.file("link.sock");
  std::filesystem::create_symlink(target, path);
  expect_refused_and_kept(path);
  EXPECT_TRUE(std::filesystem::is_symlink(path));
  EXPECT_TRUE(std::filesystem::is_socket(target));
}

TEST(UnixStream, ConnectingToAMissingPathNamesIt) {
  test::TempDir dir;
  const auto address = Address::unix_path(dir.file("missing.sock"));
  try {
    (void)UnixStream::connect(address);
    FAIL() << "must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "connect " + address.to_string() + ": No such file or directory");
  }
}

TEST(UnixStream, PairIsConnectedBothWays) {
  auto [a, b] = UnixStream::pair();
  expect_exchange(a, b);
  a.shutdown_write();
  std::array<std::byte, 1> buffer{};
  EXPECT_EQ(b.recv_some(buffer), 0u);
}

TEST(UnixStream, RecvExactReportsEarlyClose) {
  auto [a, b] = UnixStream::pair();
  a.send_all("12");
  a.close();
  std::array<std::byte, 5> buffer{};
  std::error_code ec;
  EXPECT_EQ(b.recv_exact(buffer, ec), 2u);
  EXPECT_EQ(ec, Errc::closed_early);
}

TEST(UnixStream, RejectsIpAddresses) {
  std::error_code ec;
  (void)UnixStream::connect(Address::ipv4_loopback(1), Timeout::zero(), ec);
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
  (void)UnixListener::bind(Address::ipv4_loopback(), {}, ec);
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
}

TEST(StreamSocket, OneConnectServesTcpAndUnixAlike) {
  const auto abstract = Address::unix_abstract(unique_abstract_name());
  for (const auto& address : {Address::ipv4_loopback(), abstract}) {
    auto listener = StreamListener::bind(address);
    auto client = StreamSocket::connect(Endpoint(listener.local_address()));
    auto server = listener.accept();
    expect_exchange(client, server);
  }
}

}  // namespace
}  // namespace sockkit::net
