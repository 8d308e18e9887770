#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Typed socket options. Each option is a small value type that knows its level, its name
// and how it looks to the kernel, so `set_option(fd, NoDelay{true})` cannot pass the wrong
// size or the wrong unit:
//
//   sys::set_option(fd, sys::ReuseAddress{true});
//   auto idle = sys::get_option<sys::KeepAliveIdle>(fd).value;   // std::chrono::seconds

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>

#include "sockkit/sys/error.hpp"
#include "sockkit/sys/socket.hpp"

namespace sockkit::sys {
namespace detail {

// A string literal usable as a template argument, so each option carries its own name
// for error messages ("setsockopt TCP_NODELAY: Bad file descriptor").
template <std::size_t N>
struct OptionName {
  constexpr OptionName(const char (&text)[N]) { std::copy_n(text, N, chars); }  // NOLINT
  char chars[N] = {};
};

}  // namespace detail

/// An on/off option, stored by the kernel as an int.
template <int Level, int Name, detail::OptionName Label>
struct BoolOption {
  static constexpr int level = Level;
  static constexpr int name = Name;
  static constexpr const char* label = Label.chars;
  using Raw = int;

  bool value = false;

  [[nodiscard]] Raw to_raw() const noexcept { return value ? 1 : 0; }
  static BoolOption from_raw(Raw raw) noexcept { return {raw != 0}; }
};

/// A count or a size, stored as an int.
template <int Level, int Name, detail::OptionName Label>
struct IntOption {
  static constexpr int level = Level;
  static constexpr int name = Name;
  static constexpr const char* label = Label.chars;
  using Raw = int;

  int value = 0;

  [[nodiscard]] Raw to_raw() const noexcept { return value; }
  static IntOption from_raw(Raw raw) noexcept { return {raw}; }
};

/// A duration the kernel stores as an int in `Unit` (seconds for keepalive, milliseconds
/// for TCP_USER_TIMEOUT).
template <int Level, int Name, class Unit, detail::OptionName Label>
struct DurationOption {
  static constexpr int level = Level;
  static constexpr int name = Name;
  static constexpr const char* label = Label.chars;
  using Raw = int;

  Unit value{};

  [[nodiscard]] Raw to_raw() const noexcept { return static_cast<Raw>(value.count()); }
  static DurationOption from_raw(Raw raw) noexcept { return {Unit(raw)}; }
};

/// SO_RCVTIMEO / SO_SNDTIMEO: how long a blocking receive or send may wait; zero waits forever.
template <int Name, detail::OptionName Label>
struct TimeoutOption {
  static constexpr int level = SOL_SOCKET;
  static constexpr int name = Name;
  static constexpr const char* label = Label.chars;
  using Raw = timeval;

  std::chrono::microseconds value{};

  [[nodiscard]] Raw to_raw() const noexcept {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(value);
    return {static_cast<time_t>(seconds.count()),
            static_cast<suseconds_t>((value - seconds).count())};
  }
  static TimeoutOption from_raw(Raw raw) noexcept {
    return {std::chrono::seconds(raw.tv_sec) + std::chrono::microseconds(raw.tv_usec)};
  }
};

/// SO_LINGER. `enabled` with a zero timeout makes close() send a reset instead of a FIN.
struct Linger {
  static constexpr int level = SOL_SOCKET;
  static constexpr int name = SO_LINGER;
  static constexpr const char* label = "SO_LINGER";
  using Raw = ::linger;

  bool enabled = false;
  std::chrono::seconds timeout{};

  [[nodiscard]] Raw to_raw() const noexcept {
    return {enabled ? 1 : 0, static_cast<int>(timeout.count())};
  }
  static Linger from_raw(Raw raw) noexcept {
    return {raw.l_onoff != 0, std::chrono::seconds(raw.l_linger)};
  }
};

using ReuseAddress = BoolOption<SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR">;
using ReusePort = BoolOption<SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT">;
using KeepAlive = BoolOption<SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE">;
/// The kernel doubles what is set (for its bookkeeping); reading it back returns the double.
using ReceiveBufferSize = IntOption<SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF">;
using SendBufferSize = IntOption<SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF">;
using ReceiveTimeout = TimeoutOption<SO_RCVTIMEO, "SO_RCVTIMEO">;
using SendTimeout = TimeoutOption<SO_SNDTIMEO, "SO_SNDTIMEO">;
using NoDelay = BoolOption<IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY">;
/// TCP_QUICKACK: acknowledge at once instead of delaying. The kernel drops back to delayed
/// acknowledgements by itself, so a receiver that wants it keeps setting it.
using QuickAck = BoolOption<IPPROTO_TCP, TCP_QUICKACK, "TCP_QUICKACK">;
using KeepAliveIdle =
    DurationOption<IPPROTO_TCP, TCP_KEEPIDLE, std::chrono::seconds, "TCP_KEEPIDLE">;
using KeepAliveInterval =
    DurationOption<IPPROTO_TCP, TCP_KEEPINTVL, std::chrono::seconds, "TCP_KEEPINTVL">;
using KeepAliveCount = IntOption<IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT">;
/// The most unsent data the kernel queues for a socket (sent-but-unacknowledged data is
/// not limited): past it, send() takes no more and the socket is not writable.
using NotSentLowWater = IntOption<IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT">;
/// How long sent data may stay unacknowledged before the kernel gives up on the peer.
using UserTimeout =
    DurationOption<IPPROTO_TCP, TCP_USER_TIMEOUT, std::chrono::milliseconds, "TCP_USER_TIMEOUT">;
using V6Only = BoolOption<IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY">;
/// Bind a source address without reserving a port: the port is chosen at connect() for the
/// whole 4-tuple, so many clients can share a few source addresses.
using BindAddressNoPort =
    BoolOption<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT">;

template <class Option>
void set_option(int fd, const Option& option, std::error_code& ec) noexcept {
  const typename Option::Raw raw = option.to_raw();
  set_option_raw(fd, Option::level, Option::name, &raw, sizeof raw, ec);
}

template <class Option>
void set_option(int fd, const Option& option) {
  std::error_code ec;
  set_option(fd, option, ec);
  if (ec) throw_error(ec, std::string("setsockopt ") + Option::label);
}

template <class Option>
[[nodiscard]] Option get_option(int fd, std::error_code& ec) noexcept {
  typename Option::Raw raw{};
  socklen_t length = sizeof raw;
  get_option_raw(fd, Option::level, Option::name, &raw, length, ec);
  return Option::from_raw(raw);
}

template <class Option>
[[nodiscard]] Option get_option(int fd) {
  std::error_code ec;
  Option option = get_option<Option>(fd, ec);
  if (ec) throw_error(ec, std::string("getsockopt ") + Option::label);
  return option;
}

}  // namespace sockkit::sys
