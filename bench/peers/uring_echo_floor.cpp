// The io_uring floor: the smallest honest io_uring echo server, on liburing alone, so the
// uring engine can be measured against what io_uring itself costs. One ring on one thread:
// multishot accept, multishot receive into a provided buffer ring, and each received buffer
// sent straight back (one send in flight per connection, so replies keep their order; the
// rest wait in a per-connection queue) and returned to the ring once sent.
// Usage: uring_echo_floor [PORT [--until-idle]]   (0: the kernel picks; the first line says which)
//   --until-idle: exit once the last client has gone. Under valgrind a thread blocked in
//   io_uring_enter takes no signal (bench/cost_per_message.py --instructions stops it so).
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

namespace {

constexpr unsigned kBuffers = 4096;  // a power of two
constexpr unsigned kBufferSize = 16 * 1024;
constexpr int kGroup = 0;
enum Op : std::uint64_t { kAccept = 1, kRecv = 2, kSend = 3 };

struct Chunk {
  unsigned short id;
  unsigned offset;
  unsigned length;
};
struct Connection {
  std::deque<Chunk> queue;  // the front is in flight
  bool open = false;
  bool ended = false;  // no more receives: close once the queue is empty
};

io_uring ring;
io_uring_buf_ring* buffer_ring;
char* buffers;
std::vector<Connection> connections;
std::size_t open_count = 0;
bool served = false;  // a client came

[[noreturn]] void die(const char* what, int error) {
  std::fprintf(stderr, "uring_echo_floor: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

std::uint64_t tag(Op op, int fd, unsigned id = 0) {
  return static_cast<std::uint64_t>(op) | (static_cast<std::uint64_t>(fd) << 8) |
         (static_cast<std::uint64_t>(id) << 40);
}

io_uring_sqe* sqe() {
  io_uring_sqe* entry = io_uring_get_sqe(&ring);
  while (entry == nullptr) {
    io_uring_submit(&ring);
    entry = io_uring_get_sqe(&ring);
  }
  return entry;
}

void recycle(unsigned id) {
  io_uring_buf_ring_add(buffer_ring, buffers + std::size_t{id} * kBufferSize, kBufferSize,
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(buffer_ring, 1);
}

void arm_recv(int fd) {
  io_uring_sqe* entry = sqe();
  io_uring_prep_recv(entry, fd, nullptr, 0, 0);
  entry->ioprio |= IORING_RECV_MULTISHOT;
  entry->flags |= IOSQE_BUFFER_SELECT;
  entry->buf_group = kGroup;
  io_uring_sqe_set_data64(entry, tag(kRecv, fd));
}

void send_front(int fd) {
  const Chunk& c = connections[static_cast<std::size_t>(fd)].queue.front();
  io_uring_sqe* entry = sqe();
  io_uring_prep_send(entry, fd, buffers + std::size_t{c.id} * kBufferSize + c.offset, c.length,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(entry, tag(kSend, fd));
}

void close_if_done(int fd) {
  Connection& c = connections[static_cast<std::size_t>(fd)];
  if (c.ended && c.queue.empty() && c.open) {
    c.open = false;
    --open_count;
    ::close(fd);
  }
}

void on_completion(const io_uring_cqe& cqe, int listener) {
  const auto op = static_cast<Op>(cqe.user_data & 0xFF);
  const int fd = static_cast<int>((cqe.user_data >> 8) & 0xFFFFFFFF);
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (op == kAccept) {
    if (cqe.res >= 0) {
      const int on = 1;
      ::setsockopt(cqe.res, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      if (connections.size() <= static_cast<std::size_t>(cqe.res)) {
        connections.resize(static_cast<std::size_t>(cqe.res) + 1);
      }
      connections[static_cast<std::size_t>(cqe.res)] = Connection{{}, true, false};
      ++open_count;
      served = true;
      arm_recv(cqe.res);
    }
    if (!more) {
      io_uring_sqe* entry = sqe();
      io_uring_prep_multishot_accept(entry, listener, nullptr, nullptr, SOCK_CLOEXEC);
      io_uring_sqe_set_data64(entry, tag(kAccept, listener));
    }
    return;
  }
  Connection& c = connections[static_cast<std::size_t>(fd)];
  if (op == kRecv) {
    if (cqe.res > 0) {
      const auto id = static_cast<unsigned short>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      c.queue.push_back({id, 0, static_cast<unsigned>(cqe.res)});
      if (c.queue.size() == 1) send_front(fd);
      if (!more) arm_recv(fd);
    } else if (cqe.res == -ENOBUFS) {
      arm_recv(fd);  // buffers come back as sends complete
    } else {
      c.ended = true;  // end of stream or an error
      close_if_done(fd);
    }
    return;
  }
  // kSend
  Chunk& front = c.queue.front();
  if (cqe.res > 0 && static_cast<unsigned>(cqe.res) < front.length) {
    front.offset += static_cast<unsigned>(cqe.res);
    front.length -= static_cast<unsigned>(cqe.res);
    send_front(fd);
    return;
  }
  recycle(front.id);
  c.queue.pop_front();
  if (cqe.res < 0) {
    while (!c.queue.empty()) {
      recycle(c.queue.front().id);
      c.queue.pop_front();
    }
    c.ended = true;
    ::shutdown(fd, SHUT_RDWR);  // ends the multishot receive
  } else if (!c.queue.empty()) {
    send_front(fd);
  }
  close_if_done(fd);
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 ||
      ::listen(listener, SOMAXCONN) < 0) {
    die("bind", errno);
  }
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = 65536;
  if (const int r = io_uring_queue_init_params(4096, &ring, &params); r < 0) die("io_uring", -r);
  const std::size_t ring_bytes = kBuffers * sizeof(io_uring_buf);
  buffer_ring = static_cast<io_uring_buf_ring*>(
      ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0));
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring);
  registration.ring_entries = kBuffers;
  registration.bgid = kGroup;
  if (const int r = io_uring_register_buf_ring(&ring, &registration, 0); r < 0) {
    die("io_uring_register_buf_ring", -r);
  }
  buffers = static_cast<char*>(std::malloc(std::size_t{kBuffers} * kBufferSize));
  io_uring_buf_ring_init(buffer_ring);
  for (unsigned id = 0; id < kBuffers; ++id) {
    io_uring_buf_ring_add(buffer_ring, buffers + std::size_t{id} * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBuffers),
                          static_cast<int>(id));
  }
  io_uring_buf_ring_advance(buffer_ring, kBuffers);

  io_uring_sqe* entry = sqe();
  io_uring_prep_multishot_accept(entry, listener, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(entry, tag(kAccept, listener));
  std::printf("Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const bool until_idle = argc > 2 && std::strcmp(argv[2], "--until-idle") == 0;
  while (!(until_idle && served && open_count == 0)) {
    io_uring_cqe* first = nullptr;
    const int r = io_uring_submit_and_wait_timeout(&ring, &first, 1, nullptr, nullptr);
    if (r < 0 && r != -EINTR && r != -ETIME) die("io_uring_submit_and_wait", -r);
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring, head, cqe) {
      on_completion(*cqe, listener);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
  }
}
