#include "sockkit/sys/file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "sockkit/sys/error.hpp"
#include "sockkit/sys/fd.hpp"

namespace sockkit::sys {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, std::string_view content, std::error_code& ec) noexcept {
  while (!content.empty()) {
    const auto written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      ec = last_error();
      return;
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

void replace_file(const std::string& path, std::string_view content, std::error_code& ec) noexcept {
  try {
    const auto slash = path.rfind('/');
    std::string temporary = folder_of(path) + "/." +
                            (slash == std::string::npos ? path : path.substr(slash + 1)) +
                            ".XXXXXX";
    // mkostemp creates the file exclusively (O_EXCL): nothing planted there is opened.
    Fd fd(::mkostemp(temporary.data(), O_CLOEXEC));
    if (!fd.valid()) {
      ec = last_error();
      return;
    }
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ec.clear();
    if (::fchmod(fd.get(), 0666 & ~mask) < 0) ec = last_error();
    if (!ec) write_all(fd.get(), content, ec);
    if (!ec && ::fsync(fd.get()) < 0) ec = last_error();
    fd.reset();
    if (!ec && ::rename(temporary.c_str(), path.c_str()) < 0) ec = last_error();
    if (ec) ::unlink(temporary.c_str());
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
}

void change_mode(const std::string& path, unsigned mode, std::error_code& ec) noexcept {
  ec.clear();
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) < 0) ec = last_error();
}

void change_owner(const std::string& path, unsigned uid, unsigned gid,
                  std::error_code& ec) noexcept {
  ec.clear();
  if (::lchown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) < 0) {
    ec = last_error();
  }
}

std::string make_temp_directory(const std::string& prefix, std::error_code& ec) {
  const char* base = std::getenv("TMPDIR");
  std::string path =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return path;
}

}  // namespace sockkit::sys
