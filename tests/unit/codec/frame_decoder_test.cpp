#include "sockkit/codec/frame_decoder.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sockkit/codec/frame_encoder.hpp"
#include "support/allocation_counter.hpp"

namespace sockkit::codec {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes(std::string_view text) {
  const auto view = std::as_bytes(std::span(text));
  return {view.begin(), view.end()};
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Bytes encode(const std::vector<Bytes>& frames, const FrameFormat& format = {}) {
  FrameEncoder encoder(format);
  Bytes stream;
  for (const auto& frame : frames) {
    std::error_code ec;
    const auto header = encoder.header(frame.size(), ec);
    EXPECT_FALSE(ec);
    stream.insert(stream.end(), header.begin(), header.end());
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  return stream;
}

struct Decoded {
  std::vector<Bytes> frames;
  std::error_code error;
};

// Feeds `stream` to `decoder` in the chunk sizes `chunks` gives (cycled), collecting frames.
Decoded decode_in_chunks(FrameDecoder& decoder, std::span<const std::byte> stream,
                         const std::vector<std::size_t>& chunks) {
  Decoded decoded;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size() && !decoded.error; ++i) {
    const auto size = std::min(chunks[i % chunks.size()], stream.size() - pos);
    auto chunk = stream.subspan(pos, size);
    pos += size;
    for (;;) {
      const auto result = decoder.decode(chunk);
      if (result.status == DecodeResult::Status::need_more) break;
      if (result.status == DecodeResult::Status::error) {
        decoded.error = result.error;
        break;
      }
      decoded.frames.emplace_back(result.frame.begin(), result.frame.end());
    }
  }
  return decoded;
}

std::vector<Bytes> random_frames(std::mt19937& engine, std::size_t count, std::size_t max_size) {
  std::uniform_int_distribution<std::size_t> size(0, max_size);
  std::uniform_int_distribution<int> value(0, 255);
  std::vector<Bytes> frames(count);
  for (auto& frame : frames) {
    frame.resize(size(engine) < max_size / 8 ? 0 : size(engine));  // plenty of empty frames
    for (auto& b : frame) b = static_cast<std::byte>(value(engine));
  }
  return frames;
}

TEST(FrameDecoder, EveryChunkingDecodesTheSameFrames) {
  for (unsigned seed = 0; seed < 300; ++seed) {
    std::mt19937 engine(seed);
    const FrameFormat format{.header_bytes = std::array<std::size_t, 3>{2, 4, 8}[seed % 3]};
    const auto frames = random_frames(engine, 40, 3000);
    const auto stream = encode(frames, format);

    std::vector<std::size_t> chunks;
    std::uniform_int_distribution<std::size_t> chunk(1, seed % 4 == 0 ? 1 : 4096);
    for (int i = 0; i < 64; ++i) chunks.push_back(chunk(engine));

    FrameDecoder decoder(format);
    const auto decoded = decode_in_chunks(decoder, stream, chunks);
    ASSERT_FALSE(decoded.error) << "seed " << seed;
    ASSERT_EQ(decoded.frames, frames) << "seed " << seed;
    EXPECT_FALSE(decoder.mid_frame());
    EXPECT_FALSE(decoder.truncation());
  }
}

TEST(FrameDecoder, ManyFramesInOneChunkAndOneByteAtATime) {
  const std::vector<Bytes> frames{bytes("a"), bytes(""), bytes("hello"), bytes("")};
  const auto stream = encode(frames);
  FrameDecoder whole;
  EXPECT_EQ(decode_in_chunks(whole, stream, {stream.size()}).frames, frames);
  FrameDecoder drip;
  EXPECT_EQ(decode_in_chunks(drip, stream, {1}).frames, frames);
}

TEST(FrameDecoder, ReadsPythonStructPackFrames) {
  // struct.pack('!I', 5) + b'hello', then struct.pack('!I', 0), with '!H' and '!Q' too.
  FrameDecoder four;
  EXPECT_EQ(decode_in_chunks(four, from_hex("0000000568656c6c6f00000000"), {100}).frames,
            (std::vector<Bytes>{bytes("hello"), bytes("")}));
  FrameDecoder two(FrameFormat{.header_bytes = 2});
  EXPECT_EQ(decode_in_chunks(two, from_hex("000268690000"), {100}).frames,
            (std::vector<Bytes>{bytes("hi"), bytes("")}));
  FrameDecoder eight(FrameFormat{.header_bytes = 8});
  EXPECT_EQ(decode_in_chunks(eight, from_hex("000000000000000378797a"), {100}).frames,
            (std::vector<Bytes>{bytes("xyz")}));
}

TEST(FrameDecoder, RejectsHostileLengthsTheMomentTheHeaderIsComplete) {
  struct Case {
    std::uint32_t prefix;
    const char* what;
  };
  for (const auto& [prefix, what] : std::vector<Case>{{1024 * 1024 + 1, "max + 1"},
                                                      {0x7FFFFFFF, "2 GiB - 1"},
                                                      {0x80000000, "2 GiB"},
                                                      {0xFFFFFFFF, "4 GiB - 1"},
                                                      {0x47455420, "\"GET \""},
                                                      {0x16030100, "TLS record"}}) {
    Bytes stream(4 + 16, std::byte{0x41});
    std::array<std::byte, 8> header{};
    FrameFormat{}.write_length(header, prefix);
    std::copy_n(header.begin(), 4, stream.begin());

    FrameDecoder decoder;
    std::span<const std::byte> input(stream);
    test::AllocationCounter allocations;
    const auto result = decoder.decode(input);
    EXPECT_EQ(result.status, DecodeResult::Status::error) << what;
    EXPECT_EQ(result.error, FrameErrc::too_large) << what;
    EXPECT_EQ(result.declared_size, prefix) << what;
    EXPECT_EQ(input.size(), 16u) << what << ": only the header may be consumed";
    EXPECT_EQ(allocations.count(), 0u) << what << ": nothing may be allocated";
    // The stream has lost its framing: it stays rejected.
    EXPECT_EQ(decoder.decode(input).status, DecodeResult::Status::error) << what;
  }
}

TEST(FrameDecoder, AcceptsAFrameOfExactlyTheMaximum) {
  const FrameFormat format{.max_frame = 4096};
  const std::vector<Bytes> frames{Bytes(4096, std::byte{7})};
  FrameDecoder decoder(format);
  const auto decoded = decode_in_chunks(decoder, encode(frames, format), {1000});
  EXPECT_FALSE(decoded.error);
  EXPECT_EQ(decoded.frames, frames);
}

TEST(FrameDecoder, BuffersOnlyWhatHasArrivedOfALargeFrame) {
  // A legal 1 MiB frame whose sender dribbles: memory follows what arrived, not what the
  // header promised (the slowloris defence's memory half).
  Bytes start(4 + 100, std::byte{1});
  std::array<std::byte, 8> header{};
  FrameFormat{}.write_length(header, 1024 * 1024);
  std::copy_n(header.begin(), 4, start.begin());
  FrameDecoder decoder;
  test::AllocationCounter allocations;
  for (std::size_t pos = 0; pos < start.size(); pos += 10) {
    std::span<const std::byte> chunk =
        std::span(start).subspan(pos, std::min<std::size_t>(10, start.size() - pos));
    EXPECT_EQ(decoder.decode(chunk).status, DecodeResult::Status::need_more);
  }
  EXPECT_LT(allocations.largest(), 4096u);
  EXPECT_TRUE(decoder.mid_frame());
}

TEST(FrameDecoder, SteadyStateAllocatesNothing) {
  std::mt19937 engine(7);
  const auto frames = random_frames(engine, 200, 2000);
  const auto stream = encode(frames);
  FrameDecoder decoder;
  (void)decode_in_chunks(decoder, stream, {333});  // warms the payload buffer up
  std::size_t count = 0;
  {
    test::AllocationCounter allocations;
    std::span<const std::byte> all(stream);
    for (std::size_t pos = 0; pos < stream.size(); pos += 333) {
      auto chunk = all.subspan(pos, std::min<std::size_t>(333, stream.size() - pos));
      for (auto r = decoder.decode(chunk); r.status == DecodeResult::Status::frame;
           r = decoder.decode(chunk)) {
        ++count;
      }
    }
    EXPECT_EQ(allocations.count(), 0u);
  }
  EXPECT_EQ(count, frames.size());
}

TEST(FrameDecoder, AWholePayloadInOneChunkIsNotCopied) {
  const auto stream = encode({bytes("in place")});
  FrameDecoder decoder;
  std::span<const std::byte> input(stream);
  const auto result = decoder.decode(input);
  ASSERT_EQ(result.status, DecodeResult::Status::frame);
  EXPECT_EQ(result.frame.data(), stream.data() + 4);
}

TEST(FrameDecoder, ReportsTruncationAtEveryByteOffset) {
  const std::vector<Bytes> frames{bytes("first"), bytes(""), bytes("third frame")};
  const auto stream = encode(frames);
  // Frame boundaries: 0, 9, 13, 28.
  const std::vector<std::size_t> ends{9, 13, 28};
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    const auto decoded = decode_in_chunks(decoder, std::span(stream).first(cut), {3});
    std::size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    EXPECT_EQ(decoded.frames.size(), complete) << "cut at " << cut;
    const std::size_t frame_start = complete == 0 ? 0 : ends[complete - 1];
    const auto truncation = decoder.truncation();
    if (cut == frame_start) {
      EXPECT_FALSE(truncation) << "cut at a boundary " << cut;
      continue;
    }
    ASSERT_TRUE(truncation) << "cut at " << cut;
    const std::size_t into = cut - frame_start;
    EXPECT_EQ(truncation->in_header, into < 4) << "cut at " << cut;
    if (into < 4) {
      EXPECT_EQ(truncation->have, into);
      EXPECT_EQ(truncation->need, 4u);
    } else {
      EXPECT_EQ(truncation->have, into - 4);
      EXPECT_EQ(truncation->need, frames[complete].size());
    }
  }
}

TEST(FrameDecoder, ZeroLengthFramesRoundTrip) {
  const std::vector<Bytes> frames{bytes(""), bytes("12345"), bytes(""), bytes("")};
  FrameDecoder decoder;
  const auto stream = encode(frames);
  EXPECT_EQ(stream.size(), 4 * 4 + 5u);
  EXPECT_EQ(decode_in_chunks(decoder, stream, {2}).frames, frames);
}

TEST(FrameDecoder, MidFrameCoversHeaderAndPayload) {
  const auto stream = encode({bytes("ab")});
  FrameDecoder decoder;
  std::vector<bool> mid;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    std::span<const std::byte> one = std::span(stream).subspan(i, 1);
    (void)decoder.decode(one);
    mid.push_back(decoder.mid_frame());
  }
  EXPECT_EQ(mid, (std::vector<bool>{true, true, true, true, true, false}));
}

// What a reply to the frame under way will hold besides the bytes still to come (the
// buffer budget sets it aside): the header and payload taken so far, 0 between frames.
TEST(FrameDecoder, PendingCountsTheFrameUnderWaySoFar) {
  const auto stream = encode({bytes("abc"), bytes("d")});
  FrameDecoder decoder;
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    std::span<const std::byte> one = std::span(stream).subspan(i, 1);
    while (decoder.decode(one).status == DecodeResult::Status::frame) {
    }
    pending.push_back(decoder.pending());
  }
  EXPECT_EQ(pending, (std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 0}));
}

TEST(FrameDecoder, RejectsUnsupportedHeaderWidths) {
  EXPECT_THROW(FrameDecoder(FrameFormat{.header_bytes = 3}), std::invalid_argument);
  EXPECT_THROW(FrameEncoder(FrameFormat{.header_bytes = 0}), std::invalid_argument);
}

TEST(FrameEncoder, WritesWhatPythonStructPackWrites) {
  FrameEncoder four;
  std::error_code ec;
  const auto h4 = four.header(5, ec);
  EXPECT_EQ(Bytes(h4.begin(), h4.end()), from_hex("00000005"));
  FrameEncoder two(FrameFormat{.header_bytes = 2});
  const auto h2 = two.header(258, ec);
  EXPECT_EQ(Bytes(h2.begin(), h2.end()), from_hex("0102"));
  FrameEncoder eight(FrameFormat{.header_bytes = 8});
  const auto h8 = eight.header(65536, ec);
  EXPECT_EQ(Bytes(h8.begin(), h8.end()), from_hex("0000000000010000"));
}

TEST(FrameEncoder, RefusesWhatTheHeaderOrTheLimitCannotHold) {
  std::error_code ec;
  FrameEncoder two(FrameFormat{.header_bytes = 2, .max_frame = 1 << 20});
  EXPECT_TRUE(two.header(65535, ec).size() == 2 && !ec);
  EXPECT_TRUE(two.header(65536, ec).empty());
  EXPECT_EQ(ec, FrameErrc::too_large);
  FrameEncoder four(FrameFormat{.max_frame = 100});
  (void)four.header(101, ec);
  EXPECT_EQ(ec, FrameErrc::too_large);
}

}  // namespace
}  // namespace sockkit::codec
