#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Network byte order (big-endian), the C++ way. The C library's htonl/ntohl/htons/ntohs are
// `to_network_order` and `from_network_order` here: one name for every width, constexpr, and
// impossible to call with the wrong width. `load_be*`/`store_be*` read and write integers in
// a byte buffer at any alignment: they assemble bytes with shifts, never by casting a
// `std::byte*` to `uint32_t*` (muduo's unaligned cast is undefined behaviour).
//
//   std::array<std::byte, 4> header;
//   codec::store_be32(header, 12);                       // == Python struct.pack('!I', 12)
//   auto length = codec::load_be32(std::span(bytes).first<4>());

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sockkit::codec {

/// Reverses the bytes of `value` (std::byteswap arrives only in C++23).
template <std::unsigned_integral T>
[[nodiscard]] constexpr T byte_swap(T value) noexcept {
  // Widened to 64 bits so that narrow types are not promoted to (signed) int on the way.
  const std::uint64_t in = value;
  std::uint64_t out = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) out = (out << 8) | ((in >> (8 * i)) & 0xFFu);
  return static_cast<T>(out);
}

/// Host to network byte order: htons for uint16_t, htonl for uint32_t, and 64 bits too.
template <std::unsigned_integral T>
[[nodiscard]] constexpr T to_network_order(T value) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    return value;
  } else {
    return byte_swap(value);
  }
}

/// Network to host byte order: ntohs, ntohl, and 64 bits. The same swap as the way out.
template <std::unsigned_integral T>
[[nodiscard]] constexpr T from_network_order(T value) noexcept {
  return to_network_order(value);
}

/// Reads a big-endian unsigned integer of sizeof(T) bytes.
template <std::unsigned_integral T>
[[nodiscard]] constexpr T load_be(std::span<const std::byte, sizeof(T)> bytes) noexcept {
  std::uint64_t value = 0;
  for (const std::byte b : bytes) value = (value << 8) | std::to_integer<std::uint64_t>(b);
  return static_cast<T>(value);
}

/// Writes `value` as sizeof(T) big-endian bytes.
template <std::unsigned_integral T>
constexpr void store_be(std::span<std::byte, sizeof(T)> bytes, T value) noexcept {
  std::uint64_t rest = value;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes[sizeof(T) - 1 - i] = static_cast<std::byte>(rest & 0xFFu);
    rest >>= 8;
  }
}

[[nodiscard]] constexpr std::uint16_t load_be16(std::span<const std::byte, 2> b) noexcept {
  return load_be<std::uint16_t>(b);
}
[[nodiscard]] constexpr std::uint32_t load_be32(std::span<const std::byte, 4> b) noexcept {
  return load_be<std::uint32_t>(b);
}
[[nodiscard]] constexpr std::uint64_t load_be64(std::span<const std::byte, 8> b) noexcept {
  return load_be<std::uint64_t>(b);
}
constexpr void store_be16(std::span<std::byte, 2> b, std::uint16_t v) noexcept {
  store_be(b, v);
}
constexpr void store_be32(std::span<std::byte, 4> b, std::uint32_t v) noexcept {
  store_be(b, v);
}
constexpr void store_be64(std::span<std::byte, 8> b, std::uint64_t v) noexcept {
  store_be(b, v);
}

}  // namespace sockkit::codec
