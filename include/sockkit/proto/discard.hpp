#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

#include "sockkit/proto/protocol.hpp"

namespace sockkit::proto {

/// RFC 863 discard: reads everything and answers nothing. Holds no state.
class Discard final : public Protocol {
 public:
  Verdict on_data(std::span<const std::byte> /*input*/, codec::ByteBuffer& /*out*/) override {
    return Verdict::keep_open();
  }
  CloseReason on_end_of_stream() override { return CloseReason::peer_closed; }
  [[nodiscard]] bool replies_at_once() const noexcept override { return true; }
};

}  // namespace sockkit::proto
