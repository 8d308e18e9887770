#include "sockkit/codec/byte_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "support/bytes.hpp"

namespace sockkit::codec {
namespace {

using test::as_string;
using test::bytes;

TEST(ByteBuffer, IsAQueueOfBytes) {
  ByteBuffer buffer;
  EXPECT_TRUE(buffer.empty());
  buffer.append(bytes("hello "));
  buffer.append(bytes("world"));
  EXPECT_EQ(as_string(buffer.readable()), "hello world");
  buffer.consume(6);
  EXPECT_EQ(as_string(buffer.readable()), "world");
  buffer.append(bytes("!"));
  EXPECT_EQ(as_string(buffer.readable()), "world!");
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
  ASSERT_EQ(as_string(loan), lent);
  const std::string more(5000, 'b');
  for (int i = 0; i < 10; ++i) buffer.append(bytes(more));  // grows several times
  EXPECT_EQ(as_string(loan), lent) << "the lent bytes moved or changed";
  EXPECT_EQ(buffer.size(), 100u + 50000u);
  EXPECT_EQ(as_string(buffer.readable().first(100)), lent);
  EXPECT_GE(buffer.capacity(), 50100u + 104u) << "the storage kept for the loan is counted";
  buffer.consume(buffer.size());  // all of it sent (a clear while pinned)
  buffer.append(bytes(std::string(100, 'c')));
  EXPECT_EQ(as_string(loan), lent) << "an append after the clear wrote over the loan";
  buffer.release();
  EXPECT_EQ(as_string(loan), lent);
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
  EXPECT_EQ(as_string(loan), "hello");
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.unpin();
  buffer.consume(5);
  EXPECT_EQ(as_string(buffer.readable()), " world");
  EXPECT_EQ(buffer.capacity(), capacity);
}

// The budget is charged with capacity(), and an engine reserves a read's room before the
// read is in flight: growth_for must say exactly what an append will cost, and an append
// into reserved room must cost nothing.
TEST(ByteBuffer, GrowthForSaysWhatAnAppendWillAllocate) {
  ByteBuffer buffer;
  const auto append_costs = [&](std::size_t count) {
    const auto predicted = buffer.growth_for(count);
    const auto before = buffer.capacity();
    buffer.append(bytes(std::string(count, 'x')));
    EXPECT_EQ(buffer.capacity() - before, predicted) << "appending " << count;
    return predicted;
  };
  EXPECT_EQ(append_costs(1000), 1000u) << "an empty buffer takes what it needs";
  EXPECT_EQ(append_costs(10), 1000u) << "then doubles what it holds";
  EXPECT_EQ(append_costs(500), 0u) << "room enough";
  EXPECT_EQ(append_costs(5000), 6510u - 2000u) << "or grows to what the append needs";

  buffer.pin();  // the first storage replaced while pinned is kept for the loan
  const auto held = buffer.size();
  EXPECT_EQ(buffer.growth_for(held + 1), 2 * held + 1) << "nothing freed: the loan keeps it";
  EXPECT_EQ(append_costs(held + 1), 2 * held + 1);
  EXPECT_EQ(append_costs(buffer.size() + 1), 2 * buffer.size() + 1 - (2 * held + 1))
      << "a later copy is freed";
  buffer.unpin();

  ByteBuffer reserved;
  reserved.append(bytes(std::string(100, 'y')));
  reserved.reserve(4000);
  const auto capacity = reserved.capacity();
  EXPECT_EQ(reserved.growth_for(4000), 0u);
  reserved.append(bytes(std::string(4000, 'z')));
  EXPECT_EQ(reserved.capacity(), capacity) << "appending into reserved room allocates nothing";
  EXPECT_EQ(reserved.size(), 4100u);
}

// Bytes that come in pieces (io_uring's multishot receive) may grow the storage at each
// piece: however they are cut, the growth stays within growth_bound.
TEST(ByteBuffer, GrowthBoundHoldsForAppendsInPiecesOfAnySize) {
  for (const std::size_t piece : {1u, 7u, 100u, 1000u, 4096u, 10'000u}) {
    for (const bool pinned : {false, true}) {
      ByteBuffer buffer;
      buffer.append(bytes(std::string(300, 'a')));
      buffer.consume(100);
      if (pinned) buffer.pin();
      const std::size_t count = 10'000;
      const auto bound = buffer.growth_bound(count);
      const auto before = buffer.capacity();
      std::size_t most = before;
      for (std::size_t sent = 0; sent < count; sent += piece) {
        buffer.append(bytes(std::string(std::min(piece, count - sent), 'b')));
        most = std::max(most, buffer.capacity());
      }
      EXPECT_LE(most - before, bound) << "pieces of " << piece << (pinned ? ", pinned" : "");
    }
  }
  ByteBuffer roomy;
  roomy.reserve(5000);
  EXPECT_EQ(roomy.growth_bound(5000), 0u) << "within the room: no growth, in any pieces";
}

TEST(ByteBuffer, TheFrontIsReclaimedOnlyWhenThatFreesAsMuchAsItMoves) {
  ByteBuffer buffer;
  buffer.append(bytes(std::string(1000, 'a')));
  buffer.consume(400);  // 600 unread behind 400 consumed
  const auto capacity = buffer.capacity();
  EXPECT_GT(buffer.growth_for(1), 0u) << "moving 600 to free 400: grows instead";
  buffer.consume(200);  // 400 unread behind 600 consumed
  EXPECT_EQ(buffer.growth_for(600), 0u);
  buffer.append(bytes(std::string(600, 'b')));
  EXPECT_EQ(buffer.capacity(), capacity) << "the front was reused";
  EXPECT_EQ(as_string(buffer.readable()), std::string(400, 'a') + std::string(600, 'b'));
  buffer.pin();
  buffer.consume(600);
  EXPECT_GT(buffer.growth_for(600), 0u) << "pinned, the front is never reclaimed";
  buffer.unpin();
}

}  // namespace
}  // namespace sockkit::codec
