#include "sockkit/proto/protocol.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/proto/discard.hpp"
#include "sockkit/proto/echo.hpp"
#include "sockkit/proto/framed_echo.hpp"
#include "support/bytes.hpp"

namespace sockkit::proto {
namespace {

using test::as_string;
using test::bytes;

std::string framed(const std::vector<std::string>& payloads) {
  codec::FrameEncoder encoder;
  std::string out;
  for (const auto& payload : payloads) {
    std::error_code ec;
    out += as_string(encoder.header(payload.size(), ec));
    out += payload;
  }
  return out;
}

// Drives a protocol the way an engine does: chunks in, replies out, then end of stream.
struct Run {
  std::string output;
  Verdict verdict;
  CloseReason end = CloseReason::peer_closed;
};

Run drive(Protocol& protocol, const std::string& input, std::size_t chunk) {
  Run run;
  codec::ByteBuffer out;
  for (std::size_t pos = 0; pos < input.size() && !run.verdict.close; pos += chunk) {
    run.verdict = protocol.on_data(bytes(std::string_view(input).substr(pos, chunk)), out);
  }
  if (!run.verdict.close) run.end = protocol.on_end_of_stream();
  run.output = as_string(out.readable());
  return run;
}

TEST(Echo, SendsEveryByteBack) {
  Echo echo;
  const std::string input = "Hello, world\x00\xff and more";
  for (const std::size_t chunk : {1u, 3u, 1000u}) {
    const auto run = drive(echo, input, chunk);
    EXPECT_EQ(run.output, input);
    EXPECT_FALSE(run.verdict.close);
    EXPECT_EQ(run.end, CloseReason::peer_closed);
  }
}

TEST(Discard, AnswersNothing) {
  Discard discard;
  const auto run = drive(discard, std::string(10000, 'x'), 512);
  EXPECT_TRUE(run.output.empty());
  EXPECT_EQ(run.end, CloseReason::peer_closed);
}

TEST(FramedEcho, EchoesEachFrameWhateverTheChunking) {
  std::mt19937 engine(3);
  std::vector<std::string> payloads;
  for (int i = 0; i < 100; ++i)
    payloads.push_back(std::string(engine() % 700, static_cast<char>('a' + i % 26)));
  payloads.push_back("");
  const auto input = framed(payloads);
  for (const std::size_t chunk : {1u, 2u, 5u, 64u, 4096u, 1u << 20}) {
    FramedEcho echo;
    const auto run = drive(echo, input, chunk);
    EXPECT_EQ(run.output, input) << "chunk " << chunk;
    EXPECT_EQ(run.end, CloseReason::peer_closed);
  }
}

TEST(FramedEcho, AHostileLengthClosesAfterTheGoodFrames) {
  FramedEcho echo;
  const auto good = framed({"ok", "fine"});
  const auto run = drive(echo, good + "GET / HTTP/1.1\r\n\r\n", 7);
  EXPECT_TRUE(run.verdict.close);
  EXPECT_EQ(run.verdict.reason, CloseReason::frame_too_large);
  EXPECT_EQ(run.output, good);  // the frames before it are still answered, nothing of it is
}

TEST(FramedEcho, EndOfStreamInsideAFrameIsTruncatedAndNeverEchoed) {
  const auto whole = framed({"complete", "cut short"});
  for (std::size_t cut = whole.size() - 9 - 3; cut < whole.size(); ++cut) {
    FramedEcho echo;
    const auto run = drive(echo, whole.substr(0, cut), 4);
    EXPECT_EQ(run.end, CloseReason::truncated) << "cut " << cut;
    EXPECT_EQ(run.output, framed({"complete"})) << "cut " << cut;
  }
}

TEST(FramedEcho, MidMessageTracksTheFrameInProgress) {
  FramedEcho echo;
  codec::ByteBuffer out;
  const auto frame = framed({"abc"});
  EXPECT_FALSE(echo.mid_message());
  (void)echo.on_data(bytes(std::string_view(frame).substr(0, 2)), out);
  EXPECT_TRUE(echo.mid_message());
  (void)echo.on_data(bytes(std::string_view(frame).substr(2)), out);
  EXPECT_FALSE(echo.mid_message());
}

TEST(FramedEcho, UsesTheConfiguredFormat) {
  FramedEcho echo(codec::FrameFormat{.header_bytes = 2, .max_frame = 10});
  codec::ByteBuffer out;
  const std::string two_byte_frame("\x00\x03xyz", 5);
  EXPECT_FALSE(echo.on_data(bytes(two_byte_frame), out).close);
  EXPECT_EQ(as_string(out.readable()), two_byte_frame);
  const std::string too_big("\x00\x0b", 2);
  EXPECT_EQ(echo.on_data(bytes(too_big), out).reason, CloseReason::frame_too_large);
}

TEST(ProtocolKind, NamesRoundTrip) {
  for (const auto kind : {ProtocolKind::echo, ProtocolKind::framed_echo, ProtocolKind::discard}) {
    EXPECT_EQ(parse_protocol_kind(to_string(kind)), kind);
    EXPECT_NE(make_protocol(kind), nullptr);
  }
  EXPECT_EQ(to_string(ProtocolKind::framed_echo), "framed-echo");
  EXPECT_FALSE(parse_protocol_kind("Echo"));
  EXPECT_FALSE(parse_protocol_kind(""));
}

TEST(CloseReason, HasAStableNameForEachReason) {
  EXPECT_EQ(to_string(CloseReason::frame_too_large), "frame_too_large");
  EXPECT_EQ(to_string(CloseReason::peer_closed), "peer_closed");
  EXPECT_EQ(to_string(CloseReason::error), "error");
  EXPECT_EQ(to_string(CloseReason::peer_gone), "peer_gone");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    const auto name = to_string(static_cast<CloseReason>(i));
    EXPECT_NE(name, "unknown") << i;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kCloseReasonCount);
}

}  // namespace
}  // namespace sockkit::proto
