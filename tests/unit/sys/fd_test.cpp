#include "sockkit/sys/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <utility>

#include "sockkit/sys/socket.hpp"

namespace sockkit::sys {
namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

int new_descriptor() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[1]);
  return fds[0];
}

TEST(Fd, ClosesItsDescriptorWhenDestroyed) {
  const int raw = new_descriptor();
  {
    Fd fd(raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(Fd, MoveTransfersOwnershipAndEmptiesTheSource) {
  const int raw = new_descriptor();
  Fd a(raw);
  Fd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): testing the moved-from state
  EXPECT_EQ(b.get(), raw);
  Fd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(Fd, MoveAssignmentClosesTheDescriptorItReplaces) {
  const int first = new_descriptor();
  const int second = new_descriptor();
  Fd a(first);
  Fd b(second);
  a = std::move(b);
  EXPECT_FALSE(is_open(first));
  EXPECT_TRUE(is_open(second));
}

TEST(Fd, ReleaseGivesUpOwnershipWithoutClosing) {
  const int raw = new_descriptor();
  int released = -1;
  {
    Fd fd(raw);
    released = fd.release();
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_EQ(released, raw);
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(Fd, ResetClosesTheOldDescriptorAndAdoptsTheNew) {
  const int first = new_descriptor();
  const int second = new_descriptor();
  Fd fd(first);
  fd.reset(second);
  EXPECT_FALSE(is_open(first));
  EXPECT_EQ(fd.get(), second);
  fd.reset();
  EXPECT_FALSE(is_open(second));
  EXPECT_FALSE(fd);
}

TEST(Fd, ResetToTheSameDescriptorKeepsItOpen) {
  const int raw = new_descriptor();
  Fd fd(raw);
  fd.reset(raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(SysSocket, EverySocketIsCloseOnExec) {
  std::error_code ec;
  Fd tcp = open_socket(AF_INET, SOCK_STREAM, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(::fcntl(tcp.get(), F_GETFD) & FD_CLOEXEC);

  Fd first;
  Fd second;
  open_socket_pair(AF_UNIX, SOCK_STREAM, first, second, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(::fcntl(first.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(second.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(SysSocket, FailuresComeBackAsErrorCodesNotErrno) {
  std::error_code ec;
  Fd fd = open_socket(12345, SOCK_STREAM, 0, ec);  // no such address family
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(ec, std::errc::address_family_not_supported);
}

}  // namespace
}  // namespace sockkit::sys
