#include "output_file.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "sockkit/sys/file.hpp"

namespace sockkit::app {

void check_output_file(std::string_view option, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (fs::is_symlink(status)) {
    throw std::runtime_error(fmt::format(
        "{} {}: is a symbolic link, which sockkit does not write through (remove it, or name "
        "the file it points to)",
        option, path));
  }
  if (fs::is_directory(status)) {
    throw std::runtime_error(fmt::format("{} {}: is a folder, not a file", option, path));
  }
}

void write_output_file(std::string_view option, const std::string& path, std::string_view content) {
  check_output_file(option, path);
  std::error_code ec;
  sys::replace_file(path, content, ec);
  if (ec) throw std::runtime_error(fmt::format("{} {}: {}", option, path, ec.message()));
}

}  // namespace sockkit::app
