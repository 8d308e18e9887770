#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "sockkit/codec/byte_buffer.hpp"
#include "sockkit/codec/frame_format.hpp"
#include "sockkit/proto/close_reason.hpp"

namespace sockkit::proto {

/// What a protocol wants after it has handled some input: carry on, or close the connection
/// once the replies already queued have been sent, for `reason`.
struct Verdict {
  bool close = false;
  CloseReason reason = CloseReason::peer_closed;

  static constexpr Verdict keep_open() noexcept { return {}; }
  static constexpr Verdict close_for(CloseReason why) noexcept { return {true, why}; }
};

/// A sans-I/O protocol: the state of one connection. It is handed the bytes that arrived
/// and appends its replies to an output buffer the engine owns (and reuses), so it never
/// touches a socket, a thread or a clock, runs unchanged on every engine and in unit tests,
/// and allocates nothing per message. One per connection; not synchronised.
class Protocol {
 public:
  virtual ~Protocol() = default;

  /// Handles `input` (all of it) and appends any replies to `out`.
  virtual Verdict on_data(std::span<const std::byte> input, codec::ByteBuffer& out) = 0;
  /// The peer has finished sending (read returned 0). Replies already queued are still sent;
  /// the answer says why the connection ends: `peer_closed`, or `truncated` mid-message.
  virtual CloseReason on_end_of_stream() = 0;
  /// True while a message has begun but not completed (engines apply the frame timeout).
  [[nodiscard]] virtual bool mid_message() const noexcept { return false; }
  /// Bytes taken toward a message not answered yet, which its reply will hold besides the
  /// bytes still to come: an engine sets aside memory for replies the next input may
  /// complete (max_buffer_memory) on the assumption that they hold no more than these bytes
  /// and that input.
  [[nodiscard]] virtual std::size_t held() const noexcept { return 0; }
  /// True when each on_data() appends its replies in one append (or none): the engine can
  /// then foresee exactly how much the reply storage grows; otherwise it allows for pieces,
  /// each of which may double it.
  [[nodiscard]] virtual bool replies_at_once() const noexcept { return false; }

 protected:
  Protocol() = default;
  Protocol(const Protocol&) = default;
  Protocol& operator=(const Protocol&) = default;
};

/// The protocols sockkit ships, by the names the command line uses.
enum class ProtocolKind { echo, framed_echo, discard };

/// "echo", "framed-echo", "discard".
[[nodiscard]] std::string_view to_string(ProtocolKind kind) noexcept;
/// Reads a name `to_string` gives; nothing for any other text.
[[nodiscard]] std::optional<ProtocolKind> parse_protocol_kind(std::string_view name) noexcept;

/// A new connection's protocol state. `frames` matters only to framed protocols.
[[nodiscard]] std::unique_ptr<Protocol> make_protocol(ProtocolKind kind,
                                                      const codec::FrameFormat& frames = {});

}  // namespace sockkit::proto
