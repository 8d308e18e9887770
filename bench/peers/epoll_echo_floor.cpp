// The floor: the smallest honest epoll echo server, written with raw syscalls and nothing
// else, so every sockkit server can be measured against it in the same run. One thread,
// level-triggered, reads up to 64 KiB and writes it straight back; only what the kernel
// refuses is buffered (and EPOLLOUT armed until it drains).
// Usage: epoll_echo_floor [PORT]   (default 0: the kernel picks; the first line says which)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace {

struct Pending {
  std::string bytes;  // what the kernel did not take yet
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  const int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) die("bind");
  if (::listen(listener, SOMAXCONN) < 0) die("listen");
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{EPOLLIN, {.fd = listener}};
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  std::unordered_map<int, Pending> pending;
  static char buffer[64 * 1024];
  epoll_event events[256];

  for (;;) {
    const int ready = ::epoll_wait(epoll, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) break;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          epoll_event add{EPOLLIN, {.fd = client}};
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &add);
        }
        continue;
      }
      bool close_it = false;
      auto found = pending.find(fd);
      if (found != pending.end() && (events[i].events & EPOLLOUT)) {
        auto& rest = found->second.bytes;
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n > 0) rest.erase(0, static_cast<std::size_t>(n));
        if (n < 0 && errno != EAGAIN) close_it = true;
        if (!close_it && rest.empty()) {
          pending.erase(found);
          epoll_event in{EPOLLIN, {.fd = fd}};
          ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &in);
        }
      } else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
          close_it = true;
        } else if (n > 0) {
          const ssize_t sent = ::send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
          if (sent < 0 && errno != EAGAIN) {
            close_it = true;
          } else if (sent < n) {
            // The kernel took part: keep the rest, stop reading until it drains.
            pending[fd].bytes.assign(buffer + (sent > 0 ? sent : 0), buffer + n);
            epoll_event out{EPOLLOUT, {.fd = fd}};
            ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &out);
          }
        }
      }
      if (close_it) {
        pending.erase(fd);
        ::close(fd);
      }
    }
  }
}
