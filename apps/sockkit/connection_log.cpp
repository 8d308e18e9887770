#include "connection_log.hpp"

#include <fmt/format.h>

#include "sockkit/codec/text.hpp"
#include "units.hpp"

namespace sockkit::app {

std::string quoted_prefix(std::span<const std::byte> data, std::size_t limit) {
  if (data.size() <= limit) return codec::python_bytes_repr(data);
  return fmt::format("{}... ({} more bytes)", codec::python_bytes_repr(data.first(limit)),
                     data.size() - limit);
}

std::string describe(const server::ConnectionEvent& event) {
  using Kind = server::ConnectionEvent::Kind;
  const auto peer = event.peer.family() == net::Address::Family::unspecified
                        ? std::string("a client")
                        : event.peer.to_string();
  switch (event.kind) {
    case Kind::opened: return "Connected by " + peer;
    case Kind::first_data: return peer + " sent " + quoted_prefix(event.data);
    case Kind::closed:
      return fmt::format("Closed {}: {} (in {}, out {})", peer, proto::to_string(event.reason),
                         format_size(event.bytes_in), format_size(event.bytes_out));
  }
  return peer;
}

}  // namespace sockkit::app
