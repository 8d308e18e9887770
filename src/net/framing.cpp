#include "sockkit/net/framing.hpp"

#include <array>
#include <string>

#include "sockkit/codec/frame_encoder.hpp"
#include "sockkit/net/error.hpp"
#include "sockkit/sys/error.hpp"

namespace sockkit::net {
namespace {

// What recv_frame found, for the throwing overload's message.
struct Received {
  bool got_frame = false;
  std::string problem;  // "2 of 4 header bytes arrived", "declared 4294967295 bytes, ..."
};

Received receive(StreamSocket& stream, std::vector<std::byte>& payload,
                 const codec::FrameFormat& format, std::error_code& ec) {
  if (!format.valid()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return {};
  }
  std::array<std::byte, 8> header{};
  const auto header_span = std::span(header).first(format.header_bytes);
  const auto have = stream.recv_exact(header_span, ec);
  if (ec == Errc::closed_early) {
    if (have == 0) {
      ec.clear();
      return {};  // closed between frames: the normal end of a framed stream
    }
    ec = codec::FrameErrc::truncated;
    return {false, std::to_string(have) + " of " + std::to_string(format.header_bytes) +
                       " header bytes arrived"};
  }
  if (ec) return {};

  const auto declared = format.read_length(header_span);
  if (declared > format.max_frame) {
    ec = codec::FrameErrc::too_large;
    return {false, "declared " + std::to_string(declared) + " bytes; the maximum is " +
                       std::to_string(format.max_frame)};
  }
  payload.resize(static_cast<std::size_t>(declared));
  const auto got = stream.recv_exact(payload, ec);
  if (ec == Errc::closed_early) {
    ec = codec::FrameErrc::truncated;
    return {false,
            std::to_string(got) + " of " + std::to_string(declared) + " payload bytes arrived"};
  }
  return {!ec, {}};
}

}  // namespace

void send_frame(StreamSocket& stream, std::span<const std::byte> payload,
                const codec::FrameFormat& format, std::error_code& ec) noexcept {
  if (!format.valid()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  codec::FrameEncoder encoder(format);
  const auto header = encoder.header(payload.size(), ec);
  if (ec) return;
  const std::array<std::span<const std::byte>, 2> parts{header, payload};
  stream.send_all(parts, ec);
}

void send_frame(StreamSocket& stream, std::span<const std::byte> payload,
                const codec::FrameFormat& format) {
  std::error_code ec;
  send_frame(stream, payload, format, ec);
  if (ec) {
    sys::throw_error(ec, "send_frame of " + std::to_string(payload.size()) + " bytes to " +
                             stream.peer_address().to_string());
  }
}

bool recv_frame(StreamSocket& stream, std::vector<std::byte>& payload,
                const codec::FrameFormat& format, std::error_code& ec) {
  return receive(stream, payload, format, ec).got_frame;
}

bool recv_frame(StreamSocket& stream, std::vector<std::byte>& payload,
                const codec::FrameFormat& format) {
  std::error_code ec;
  const auto result = receive(stream, payload, format, ec);
  if (ec) {
    std::string context = "recv_frame from " + stream.peer_address().to_string();
    if (!result.problem.empty()) context += " (" + result.problem + ")";
    sys::throw_error(ec, context);
  }
  return result.got_frame;
}

}  // namespace sockkit::net
