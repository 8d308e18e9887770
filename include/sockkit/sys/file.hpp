#pragma once

// clang-format off
#include "sockkit/detail/require_cxx20.hpp"  // first: says so when this is not C++20
// clang-format on

// Files the tools write for their user (reports, charts), written so that a symbolic link
// planted at the path never redirects them and a reader never sees half a file.

#include <string>
#include <string_view>
#include <system_error>

namespace sockkit::sys {

/// Writes `content` to `path` as a new file in the same folder, then renames it over
/// `path`. A symbolic link at `path` is replaced, never followed, so its target is never
/// touched; on any failure `path` is as it was and no temporary file stays. The file's
/// mode is 0666 less the umask, as a plain create gives.
void replace_file(const std::string& path, std::string_view content, std::error_code& ec) noexcept;

/// chmod(2): sets the permission bits of the file at `path`.
void change_mode(const std::string& path, unsigned mode, std::error_code& ec) noexcept;

/// lchown(2): gives the file at `path` (a symbolic link itself, not its target) to `uid`
/// and `gid`.
void change_owner(const std::string& path, unsigned uid, unsigned gid,
                  std::error_code& ec) noexcept;

/// Creates a new folder, readable by this user only, under the system's temporary folder
/// (`TMPDIR` or /tmp) with a name that starts with `prefix` and that nobody can have made
/// beforehand. Returns its path.
std::string make_temp_directory(const std::string& prefix, std::error_code& ec);

}  // namespace sockkit::sys
