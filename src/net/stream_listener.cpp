#include "sockkit/net/stream_listener.hpp"

#include <utility>

#include "socket_helpers.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/sys/file.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"

namespace sockkit::net {
namespace {

// A Unix path can outlive its server (a crash, a kill -9). If it is a socket file (not a
// symbolic link to one) and nothing answers on it, it is stale and may be replaced; if a
// server answers (or is too busy to), it is in use. Anything else at the path is the
// user's, and is never removed: connecting to a regular file is refused too, which is why
// the file's type is checked first.
void check_stale_unix_path(const Address& address, std::error_code& ec) noexcept {
  const bool socket = sys::is_socket_file(address.host(), ec);
  if (ec) return;
  if (!socket) {
    ec = make_error_code(Errc::path_not_a_socket);
    return;
  }
  sys::Fd probe = sys::open_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ec);
  if (ec) return;
  sys::connect(probe.get(), address.data(), address.size(), ec);
  ec = ec == std::errc::connection_refused ? std::error_code()
                                           : std::make_error_code(std::errc::address_in_use);
}

void bind_and_listen(int fd, const Address& address, const ListenOptions& options,
                     std::error_code& ec) noexcept {
  if (address.is_ip()) {
    sys::set_option(fd, sys::ReuseAddress{true}, ec);
    if (!ec && options.reuse_port) sys::set_option(fd, sys::ReusePort{true}, ec);
    if (!ec && address.family() == Address::Family::ipv6) {
      sys::set_option(fd, sys::V6Only{!options.dual_stack}, ec);
    }
    if (ec) return;
  }
  sys::bind(fd, address.data(), address.size(), ec);
  if (ec == std::errc::address_in_use && address.family() == Address::Family::unix_path) {
    check_stale_unix_path(address, ec);
    if (!ec) sys::unlink_path(address.host(), ec);
    if (!ec) sys::bind(fd, address.data(), address.size(), ec);
  }
  if (!ec && address.family() == Address::Family::unix_path && options.unix_mode != 0) {
    sys::change_mode(address.host(), options.unix_mode, ec);
    if (ec) {
      std::error_code ignored;  // bound, but not as asked: take the file away again
      sys::unlink_path(address.host(), ignored);
    }
  }
  if (!ec) sys::listen(fd, options.backlog, ec);
}

}  // namespace

StreamListener::StreamListener(StreamListener&& other) noexcept
    : fd_(std::move(other.fd_)),
      local_(other.local_),
      owns_path_(std::exchange(other.owns_path_, false)) {}

StreamListener& StreamListener::operator=(StreamListener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::move(other.fd_);
    local_ = other.local_;
    owns_path_ = std::exchange(other.owns_path_, false);
  }
  return *this;
}

StreamListener::~StreamListener() {
  close();
}

void StreamListener::close() noexcept {
  if (owns_path_) {
    std::error_code ignored;  // already gone is fine: the goal is that it does not stay
    sys::unlink_path(local_.host(), ignored);
    owns_path_ = false;
  }
  fd_.reset();
}

StreamListener StreamListener::bind(const Address& address, const ListenOptions& options,
                                    std::error_code& ec) noexcept {
  StreamListener listener;
  listener.fd_ = sys::open_socket(address.domain(), SOCK_STREAM, 0, ec);
  if (ec) return {};
  bind_and_listen(listener.fd_.get(), address, options, ec);
  if (ec) return {};
  listener.owns_path_ = address.family() == Address::Family::unix_path;
  listener.local_ = detail::bound_address(listener.fd_.get(), ec);
  if (ec) return {};
  return listener;
}

StreamListener StreamListener::bind(const Address& address, const ListenOptions& options) {
  std::error_code ec;
  auto listener = bind(address, options, ec);
  detail::throw_if(ec, "bind", address);
  return listener;
}

StreamSocket StreamListener::accept(Address* peer, std::error_code& ec) noexcept {
  sockaddr_storage storage{};
  socklen_t length = 0;
  sys::Fd fd = sys::accept(fd_.get(), &storage, &length, 0, ec);
  detail::timeout_as_timed_out(ec);
  if (ec) return {};
  const auto address = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
  if (peer != nullptr) *peer = address;
  return StreamSocket(std::move(fd), address);
}

StreamSocket StreamListener::accept(Address* peer) {
  std::error_code ec;
  auto stream = accept(peer, ec);
  detail::throw_if(ec, "accept on", local_);
  return stream;
}

}  // namespace sockkit::net
