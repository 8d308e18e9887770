#pragma once

// The files a command writes because its user named them (bench --percentiles, compare
// --json and --chart): a symbolic link at the path is refused, never followed, so running
// as root cannot be tricked into truncating the link's target; the file appears whole or
// not at all.

#include <string>
#include <string_view>

namespace sockkit::app {

/// Throws std::runtime_error when `path` cannot be an output file: it is a symbolic link
/// or a folder. Called before the work, so a long run does not end in a refusal.
void check_output_file(std::string_view option, const std::string& path);

/// Writes `content` to `path` (sys::replace_file), after check_output_file. Throws
/// std::runtime_error naming the option, the path and the reason.
void write_output_file(std::string_view option, const std::string& path, std::string_view content);

}  // namespace sockkit::app
