#include "sockkit/codec/byte_buffer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sockkit::codec {
namespace {

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text));
}

std::string text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

TEST(ByteBuffer, IsAQueueOfBytes) {
  ByteBuffer buffer;
  EXPECT_TRUE(buffer.empty());
  buffer.append(bytes("hello "));
  buffer.append(bytes("world"));
  EXPECT_EQ(text(buffer.readable()), "hello world");
  buffer.consume(6);
  EXPECT_EQ(text(buffer.readable()), "world");
  buffer.append(bytes("!"));
  EXPECT_EQ(text(buffer.readable()), "world!");
  buffer.consume(100);  // more than there is: empties it
  EXPECT_TRUE(buffer.empty());
}

TEST(ByteBuffer, SteadyTrafficKeepsItsStorage) {
  ByteBuffer buffer;
  const std::string chunk(1000, 'x');
  std::size_t capacity = 0;
  for (int i = 0; i < 10000; ++i) {
    buffer.append(bytes(chunk));
    buffer.consume(i % 2 == 0 ? 700 : 1300);  // leaves a partial read sometimes
    if (i == 100) capacity = buffer.capacity();
  }
  EXPECT_EQ(buffer.capacity(), capacity) << "the buffer kept growing";
  EXPECT_LE(buffer.size(), 1000u);
}

}  // namespace
}  // namespace sockkit::codec
