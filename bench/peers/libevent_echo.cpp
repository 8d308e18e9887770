// A peer: the echo server a libevent user would write: an evconnlistener and a bufferevent
// per connection whose read callback moves its input buffer to its output buffer.
// Usage: libevent_echo [PORT]   (0: the kernel picks)
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

void on_read(bufferevent* connection, void* /*context*/) {
  evbuffer_add_buffer(bufferevent_get_output(connection), bufferevent_get_input(connection));
}

void on_event(bufferevent* connection, short events, void* /*context*/) {
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(connection);
}

void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* /*address*/, int /*length*/,
               void* /*context*/) {
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  bufferevent* connection =
      bufferevent_socket_new(evconnlistener_get_base(listener), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(connection, on_read, nullptr, on_event, nullptr);
  bufferevent_enable(connection, EV_READ | EV_WRITE);
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  std::signal(SIGPIPE, SIG_IGN);  // as every server on this library does: a reset peer
  event_base* base = event_base_new();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  evconnlistener* listener =
      evconnlistener_new_bind(base, on_accept, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                              -1, reinterpret_cast<sockaddr*>(&address), sizeof address);
  if (listener == nullptr) {
    std::fprintf(stderr, "libevent_echo: cannot listen on port %d\n", port);
    return 1;
  }
  socklen_t length = sizeof address;
  getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  return event_base_dispatch(base);
}
