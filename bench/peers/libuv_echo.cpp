// A peer: the echo server a libuv user would write, after the libuv guide's tcp-echo-server:
// a buffer from alloc_cb per read, handed to uv_write and freed when the write completes.
// Usage: libuv_echo [PORT]   (0: the kernel picks)
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace {

struct WriteRequest {
  uv_write_t request;
  uv_buf_t buffer;
};

void on_close(uv_handle_t* handle) {
  std::free(handle);
}

void on_alloc(uv_handle_t* /*handle*/, std::size_t suggested, uv_buf_t* buffer) {
  buffer->base = static_cast<char*>(std::malloc(suggested));
  buffer->len = suggested;
}

void on_written(uv_write_t* request, int /*status*/) {
  auto* write = reinterpret_cast<WriteRequest*>(request);
  std::free(write->buffer.base);
  std::free(write);
}

void on_read(uv_stream_t* client, ssize_t n, const uv_buf_t* buffer) {
  if (n > 0) {
    auto* write = static_cast<WriteRequest*>(std::malloc(sizeof(WriteRequest)));
    write->buffer = uv_buf_init(buffer->base, static_cast<unsigned>(n));
    uv_write(&write->request, client, &write->buffer, 1, on_written);
    return;
  }
  if (n < 0) uv_close(reinterpret_cast<uv_handle_t*>(client), on_close);  // UV_EOF too
  std::free(buffer->base);
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* client = static_cast<uv_tcp_t*>(std::malloc(sizeof(uv_tcp_t)));
  uv_tcp_init(server->loop, client);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) == 0) {
    uv_tcp_nodelay(client, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(client), on_alloc, on_read);
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(client), on_close);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  std::signal(SIGPIPE, SIG_IGN);  // as every server on this library does: a reset peer
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", port, &address);
  if (uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&address), 0) != 0 ||
      uv_listen(reinterpret_cast<uv_stream_t*>(&server), SOMAXCONN, on_connection) != 0) {
    std::fprintf(stderr, "libuv_echo: cannot listen on port %d\n", port);
    return 1;
  }
  int length = sizeof address;
  uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
