#include "exit_status.hpp"

#include "sockkit/codec/frame_format.hpp"
#include "sockkit/net/error.hpp"

namespace sockkit::app {

ExitStatus exit_status_for(const std::error_code& ec) noexcept {
  if (!ec) return kExitOk;
  if (ec == std::errc::timed_out || ec == std::errc::resource_unavailable_try_again) {
    return kExitTimedOut;
  }
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
      ec == std::errc::connection_aborted || ec == std::errc::not_connected ||
      ec == net::Errc::closed_early || ec == codec::FrameErrc::truncated) {
    return kExitReset;
  }
  if (ec.category() == codec::frame_category()) return kExitBadData;
  return kExitFailed;
}

}  // namespace sockkit::app
