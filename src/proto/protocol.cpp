#include "sockkit/proto/protocol.hpp"

#include "sockkit/proto/discard.hpp"
#include "sockkit/proto/echo.hpp"
#include "sockkit/proto/framed_echo.hpp"

namespace sockkit::proto {

std::string_view to_string(ProtocolKind kind) noexcept {
  switch (kind) {
    case ProtocolKind::echo: return "echo";
    case ProtocolKind::framed_echo: return "framed-echo";
    case ProtocolKind::discard: return "discard";
  }
  return "unknown";
}

std::optional<ProtocolKind> parse_protocol_kind(std::string_view name) noexcept {
  for (const auto kind : {ProtocolKind::echo, ProtocolKind::framed_echo, ProtocolKind::discard}) {
    if (name == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::unique_ptr<Protocol> make_protocol(ProtocolKind kind, const codec::FrameFormat& frames) {
  switch (kind) {
    case ProtocolKind::echo: return std::make_unique<Echo>();
    case ProtocolKind::framed_echo: return std::make_unique<FramedEcho>(frames);
    case ProtocolKind::discard: return std::make_unique<Discard>();
  }
  return nullptr;
}

}  // namespace sockkit::proto
