#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace sockkit::app {
namespace {

[[noreturn]] void refused(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

Account find_account(const std::string& user) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> strings(16 * 1024);
  const int error = ::getpwnam_r(user.c_str(), &entry, strings.data(), strings.size(), &found);
  if (found == nullptr) {
    if (error != 0) {
      throw std::system_error(error, std::generic_category(), "--user: looking up '" + user + "'");
    }
    throw std::invalid_argument("--user: no user named '" + user + "'");
  }
  return {user, entry.pw_uid, entry.pw_gid};
}

void become(const Account& account) {
  const auto& [user, uid, gid] = account;
  if (::getuid() == uid && ::geteuid() == uid && ::getgid() == gid) return;  // already
  // Groups first, then the group, then the user: each later step takes away the right to
  // do the earlier ones. glibc applies each to every thread of the process.
  if (::setgroups(0, nullptr) != 0) refused("--user " + user + ": setgroups");
  if (::setresgid(gid, gid, gid) != 0) refused("--user " + user + ": setresgid");
  // Then, while root still may (CAP_SETPCAP), so that no capability can come back through
  // an exec (a file's capabilities, a setuid program): the bounding set emptied, and no new
  // privileges ever. Both are per thread, inherited by the threads started later.
  for (int cap = 0; ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      refused("--user " + user + ": dropping capabilities");
    }
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) refused("--user " + user + ": no_new_privs");
  if (::setresuid(uid, uid, uid) != 0) refused("--user " + user + ": setresuid");
  if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    throw std::runtime_error("--user " + user + ": root could be regained after the switch");
  }
}

}  // namespace sockkit::app
