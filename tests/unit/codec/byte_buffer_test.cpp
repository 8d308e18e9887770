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

// Pinned, the unread bytes are lent out (the kernel reads them for an io_uring send): they
// must stay where they are, unchanged, through appends that grow the buffer, a reclaim of
// the front that would otherwise happen, and a clear or release; unpin frees what was kept.
TEST(ByteBuffer, PinnedBytesStayWhereTheyAreUntilUnpinned) {
  ByteBuffer buffer;
  const std::string lent(100, 'a');
  buffer.append(bytes("skip"));
  buffer.append(bytes(lent));
  buffer.consume(4);  // a front to reclaim, later
  buffer.pin();
  const auto loan = buffer.readable();
  ASSERT_EQ(text(loan), lent);
  const std::string more(5000, 'b');
  for (int i = 0; i < 10; ++i) buffer.append(bytes(more));  // grows several times
  EXPECT_EQ(text(loan), lent) << "the lent bytes moved or changed";
  EXPECT_EQ(buffer.size(), 100u + 50000u);
  EXPECT_EQ(text(buffer.readable().first(100)), lent);
  EXPECT_GE(buffer.capacity(), 50100u + 104u) << "the storage kept for the loan is counted";
  buffer.consume(buffer.size());  // all of it sent (a clear while pinned)
  buffer.append(bytes(std::string(100, 'c')));
  EXPECT_EQ(text(loan), lent) << "an append after the clear wrote over the loan";
  buffer.release();
  EXPECT_EQ(text(loan), lent);
  buffer.unpin();
  EXPECT_EQ(buffer.capacity(), 0u) << "what was kept for the loan is freed";
}

TEST(ByteBuffer, APinWithRoomToGrowChangesNothing) {
  ByteBuffer buffer;
  buffer.append(bytes(std::string(4096, 'x')));
  buffer.consume(4096);
  const auto capacity = buffer.capacity();
  buffer.append(bytes("hello"));
  buffer.pin();
  const auto loan = buffer.readable();
  buffer.append(bytes(" world"));  // room enough: in place, nothing kept
  EXPECT_EQ(text(loan), "hello");
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.unpin();
  buffer.consume(5);
  EXPECT_EQ(text(buffer.readable()), " world");
  EXPECT_EQ(buffer.capacity(), capacity);
}

}  // namespace
}  // namespace sockkit::codec
