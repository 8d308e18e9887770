#pragma once

// The exit statuses every `sockkit` command uses, so scripts can tell failures apart.
// The README and each command's --help list them.

#include <system_error>

namespace sockkit::app {

enum ExitStatus : int {
  kExitOk = 0,        // done; for a client: the peer closed cleanly
  kExitFailed = 1,    // could not connect or listen (refused, no such host, port in use)
  kExitUsage = 2,     // bad flags or arguments
  kExitTimedOut = 3,  // connect, reply or idle timeout
  kExitReset = 4,     // the connection broke: reset, or closed before the whole reply
  kExitBadData = 5,   // --framed: the peer sent something that is not a valid frame
  kExitBadInput = 6,  // connect --framed: an input line longer than --max-frame
};

/// The status for the error that ended a client command.
[[nodiscard]] ExitStatus exit_status_for(const std::error_code& ec) noexcept;

/// The footer text listing the statuses, for --help.
inline constexpr const char* kClientExitStatusHelp = R"(
Exit status: 0 when the peer closed cleanly (or every reply arrived), 1 when the connection
could not be made (refused, unreachable, no such host, port in use), 2 for bad usage,
3 on a timeout (connect, reply or idle), 4 when the connection broke (reset, or closed
before the whole reply), 5 when --framed data from the peer is not a valid frame, 6 when
connect --framed input holds a line longer than --max-frame.)";

}  // namespace sockkit::app
