// libFuzzer harness for codec::FrameDecoder (docs/robustness.md, B6). The fuzzer chooses the
// header width and a chunk schedule, then the stream; the harness checks that
//   - decoding in those chunks gives exactly what one-shot decoding gives (frames, error,
//     truncation), and
//   - encoding the decoded frames gives back the bytes they were decoded from.
// max_frame is 4 KiB, so libFuzzer's -malloc_limit_mb catches any allocation of a declared
// length.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_encoder.hpp"

namespace {

using sockkit::codec::DecodeResult;
using sockkit::codec::FrameDecoder;
using sockkit::codec::FrameEncoder;
using sockkit::codec::FrameFormat;
using Bytes = std::vector<std::byte>;

struct Outcome {
  std::vector<Bytes> frames;
  bool failed = false;
  std::size_t consumed = 0;  // bytes of the stream that belong to complete frames
  std::optional<sockkit::codec::Truncation> truncation;
};

Outcome decode(const FrameFormat& format, std::span<const std::byte> stream,
               const std::vector<std::size_t>& chunks) {
  FrameDecoder decoder(format);
  Outcome outcome;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size() && !outcome.failed; ++i) {
    const auto size = std::min(chunks[i % chunks.size()], stream.size() - pos);
    auto chunk = stream.subspan(pos, size);
    for (;;) {
      const auto before = chunk.size();
      const auto result = decoder.decode(chunk);
      pos += before - chunk.size();
      if (result.status == DecodeResult::Status::need_more) break;
      if (result.status == DecodeResult::Status::error) {
        outcome.failed = true;
        break;
      }
      outcome.frames.emplace_back(result.frame.begin(), result.frame.end());
      outcome.consumed = pos;
    }
  }
  outcome.truncation = decoder.truncation();
  return outcome;
}

bool same_truncation(const Outcome& a, const Outcome& b) {
  if (a.truncation.has_value() != b.truncation.has_value()) return false;
  if (!a.truncation) return true;
  return a.truncation->in_header == b.truncation->in_header &&
         a.truncation->have == b.truncation->have && a.truncation->need == b.truncation->need;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const FrameFormat format{.header_bytes = provider.PickValueInArray<std::size_t>({2, 4, 8}),
                           .max_frame = 4096};
  std::vector<std::size_t> chunks(provider.ConsumeIntegralInRange<std::size_t>(1, 16));
  for (auto& chunk : chunks) chunk = provider.ConsumeIntegralInRange<std::size_t>(1, 300);
  const auto stream = provider.ConsumeRemainingBytes<std::byte>();

  const auto whole = decode(format, stream, {stream.size() + 1});
  const auto chunked = decode(format, stream, chunks);
  if (whole.frames != chunked.frames || whole.failed != chunked.failed ||
      whole.consumed != chunked.consumed || !same_truncation(whole, chunked)) {
    std::abort();  // the chunking changed the result
  }

  FrameEncoder encoder(format);
  Bytes encoded;
  for (const auto& frame : whole.frames) {
    std::error_code ec;
    const auto header = encoder.header(frame.size(), ec);
    if (ec) std::abort();  // a frame that decoded must encode
    encoded.insert(encoded.end(), header.begin(), header.end());
    encoded.insert(encoded.end(), frame.begin(), frame.end());
  }
  if (encoded.size() != whole.consumed ||
      !std::equal(encoded.begin(), encoded.end(), stream.begin())) {
    std::abort();  // encode(decode(x)) is not the prefix of x it came from
  }
  return 0;
}
