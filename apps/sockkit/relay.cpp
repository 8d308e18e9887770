#include "relay.hpp"

#include <fmt/format.h>

#include <string>

#include "exit_status.hpp"
#include "units.hpp"

namespace sockkit::app {
namespace {

using Why = tools::RelayEnd::Why;

int report(int status, const std::string& message) {
  fmt::print(stderr, "sockkit connect: {}\n", message);
  return status;
}

// What ended a relay with `peer` ("the peer" for a listener that heard from nobody), said
// once, and the exit status that goes with it.
int ended(const tools::RelayEnd& end, const std::string& peer, const RelayOptions& options,
          bool datagrams) {
  switch (end.why) {
    case Why::done: return kExitOk;
    case Why::idle:
      return report(kExitTimedOut, datagrams
                                       ? fmt::format("no datagrams for {}; closing",
                                                     format_duration(options.idle_timeout))
                                       : fmt::format("no traffic with {} for {}; closing", peer,
                                                     format_duration(options.idle_timeout)));
    case Why::input_failed: return report(kExitFailed, "reading the input: " + end.error.message());
    case Why::output_failed:
      return report(kExitFailed, "writing the output: " + end.error.message());
    case Why::line_too_long:
      return report(kExitBadInput, fmt::format("an input line is longer than --max-frame ({})",
                                               format_size(options.format.max_frame)));
    case Why::frame_too_large:
      return report(kExitBadData,
                    fmt::format("{} sent a frame of {} bytes, above --max-frame ({})", peer,
                                end.declared, format_size(options.format.max_frame)));
    case Why::cut_mid_frame:
      return report(
          kExitReset,
          fmt::format("{} closed in the middle of a frame ({} of {} {} bytes)", peer, end.cut.have,
                      end.cut.need, end.cut.in_header ? "header" : "payload"));
    case Why::unreachable:
      return report(kExitFailed,
                    "nothing listens at " + peer + " (the host answered: port unreachable)");
    case Why::peer_failed:
      return report(exit_status_for(end.error),
                    (datagrams ? std::string("the exchange with ") : "connection to ") + peer +
                        ": " + end.error.message());
  }
  return kExitFailed;
}

}  // namespace

int run_stream_relay(int socket, const net::Address& peer, const RelayOptions& options) {
  return ended(tools::relay_stream(socket, options), peer.to_string(), options, false);
}

int run_datagram_relay(net::UdpSocket& socket, std::optional<net::Address> peer,
                       const RelayOptions& options) {
  const auto end = tools::relay_datagrams(socket, peer, options);
  return ended(end, peer ? peer->to_string() : "the peer", options, true);
}

}  // namespace sockkit::app
