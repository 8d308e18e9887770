// Google Benchmark micro-benchmarks for the framing codec: encode and decode throughput for
// 16 B, 1 KiB and 64 KiB frames. Each run reports frames/s (items_per_second) and bytes/s.
//   build/release/bin/codec_bench [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <vector>

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/frame_decoder.hpp"
#include "sockkit/codec/frame_encoder.hpp"

namespace {

using namespace sockkit::codec;

constexpr std::size_t kStreamBytes = 4 * 1024 * 1024;  // frames per iteration fill ~4 MiB

std::vector<std::byte> make_stream(std::size_t frame_size, std::size_t& frames) {
  FrameEncoder encoder;
  std::vector<std::byte> payload(frame_size, std::byte{0x5A});
  std::vector<std::byte> stream;
  frames = std::max<std::size_t>(1, kStreamBytes / (frame_size + 4));
  for (std::size_t i = 0; i < frames; ++i) {
    std::error_code ec;
    const auto header = encoder.header(payload.size(), ec);
    stream.insert(stream.end(), header.begin(), header.end());
    stream.insert(stream.end(), payload.begin(), payload.end());
  }
  return stream;
}

// Decoding as an engine does: the stream arrives in 64 KiB reads, so frames that straddle
// a read boundary take the buffered path and the rest are returned in place.
void BM_Decode(benchmark::State& state) {
  const auto frame_size = static_cast<std::size_t>(state.range(0));
  std::size_t frames = 0;
  const auto stream = make_stream(frame_size, frames);
  FrameDecoder decoder;
  std::size_t decoded = 0;
  for (auto _ : state) {
    std::span<const std::byte> all(stream);
    for (std::size_t pos = 0; pos < all.size(); pos += 64 * 1024) {
      auto chunk = all.subspan(pos, std::min<std::size_t>(64 * 1024, all.size() - pos));
      for (auto r = decoder.decode(chunk); r.status == DecodeResult::Status::frame;
           r = decoder.decode(chunk)) {
        benchmark::DoNotOptimize(r.frame.data());
        ++decoded;
      }
    }
  }
  const auto iterations = static_cast<std::size_t>(state.iterations());
  if (decoded != frames * iterations) {
    state.SkipWithError("decoded the wrong number of frames");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(decoded));
  state.SetBytesProcessed(static_cast<std::int64_t>(stream.size() * iterations));
}

// Encoding into a reused output buffer, as FramedEcho does: header, then payload.
void BM_Encode(benchmark::State& state) {
  const auto frame_size = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> payload(frame_size, std::byte{0x5A});
  const std::size_t frames = std::max<std::size_t>(1, kStreamBytes / (frame_size + 4));
  FrameEncoder encoder;
  ByteBuffer out;
  for (auto _ : state) {
    for (std::size_t i = 0; i < frames; ++i) {
      std::error_code ec;
      out.append(encoder.header(payload.size(), ec));
      out.append(payload);
    }
    benchmark::DoNotOptimize(out.readable().data());
    out.clear();
  }
  const auto iterations = static_cast<std::size_t>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(frames * iterations));
  state.SetBytesProcessed(static_cast<std::int64_t>(frames * (frame_size + 4) * iterations));
}

BENCHMARK(BM_Decode)->Arg(16)->Arg(1024)->Arg(64 * 1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode)->Arg(16)->Arg(1024)->Arg(64 * 1024)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
