#include "sockkit/codec/byte_order.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sockkit::codec {
namespace {

// Hex of the bytes Python's struct.pack('!H' / '!I' / '!Q', value) produces.
std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

static_assert(load_be32(std::array<std::byte, 4>{std::byte{0x12}, std::byte{0x34}, std::byte{0x56},
                                                 std::byte{0x78}}) == 0x12345678,
              "load_be32 is usable at compile time");
static_assert(byte_swap(std::uint16_t{0x1234}) == 0x3412);
static_assert(byte_swap(std::uint64_t{0x0102030405060708}) == 0x0807060504030201);
static_assert(from_network_order(to_network_order(std::uint32_t{0xCAFEBABE})) == 0xCAFEBABE);

TEST(ByteOrder, MatchesTheCLibrary) {
  std::mt19937 engine(42);
  for (int i = 0; i < 10000; ++i) {
    const auto v32 = static_cast<std::uint32_t>(engine());
    const auto v16 = static_cast<std::uint16_t>(engine());
    EXPECT_EQ(to_network_order(v32), htonl(v32));
    EXPECT_EQ(from_network_order(v32), ntohl(v32));
    EXPECT_EQ(to_network_order(v16), htons(v16));
    EXPECT_EQ(from_network_order(v16), ntohs(v16));
    const std::uint64_t v64 = (std::uint64_t{v32} << 32) | engine();
    EXPECT_EQ(to_network_order(v64), htobe64(v64));
  }
}

TEST(ByteOrder, StoreMatchesPythonStructPack) {
  struct Case {
    std::uint64_t value;
    std::string hex;
  };
  for (const auto& [value, hex] : std::vector<Case>{
           {0, "0000"}, {1, "0001"}, {0x1234, "1234"}, {65535, "ffff"}, {65432, "ff98"}}) {
    std::array<std::byte, 2> out{};
    store_be16(out, static_cast<std::uint16_t>(value));
    EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), from_hex(hex)) << value;
  }
  for (const auto& [value, hex] : std::vector<Case>{{0, "00000000"},
                                                    {1, "00000001"},
                                                    {0x12345678, "12345678"},
                                                    {0xFFFFFFFF, "ffffffff"},
                                                    {1048576, "00100000"},
                                                    {0x7FFFFFFF, "7fffffff"}}) {
    std::array<std::byte, 4> out{};
    store_be32(out, static_cast<std::uint32_t>(value));
    EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), from_hex(hex)) << value;
  }
  for (const auto& [value, hex] : std::vector<Case>{{1, "0000000000000001"},
                                                    {0x0102030405060708, "0102030405060708"},
                                                    {~std::uint64_t{0}, "ffffffffffffffff"}}) {
    std::array<std::byte, 8> out{};
    store_be64(out, value);
    EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), from_hex(hex)) << value;
  }
}

TEST(ByteOrder, LoadReadsPythonStructPackOutput) {
  const auto i = from_hex("12345678");
  EXPECT_EQ(load_be32(std::span(i).first<4>()), 0x12345678u);
  const auto h = from_hex("ff98");
  EXPECT_EQ(load_be16(std::span(h).first<2>()), 65432u);
  const auto q = from_hex("0102030405060708");
  EXPECT_EQ(load_be64(std::span(q).first<8>()), 0x0102030405060708u);
}

TEST(ByteOrder, LoadAndStoreWorkAtEveryAlignment) {
  std::array<std::byte, 16> buffer{};
  for (std::size_t offset = 0; offset + 8 <= buffer.size(); ++offset) {
    const auto span = std::span(buffer).subspan(offset);
    store_be64(span.first<8>(), 0x1122334455667788u + offset);
    EXPECT_EQ(load_be64(span.first<8>()), 0x1122334455667788u + offset);
    store_be32(span.first<4>(), 0xA1B2C3D4u);
    EXPECT_EQ(load_be32(span.first<4>()), 0xA1B2C3D4u);
    EXPECT_EQ(buffer[offset], std::byte{0xA1});
  }
}

}  // namespace
}  // namespace sockkit::codec
