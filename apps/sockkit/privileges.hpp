#pragma once

// Giving up root once the privileged work (binding a port below 1024) is done, as nginx's
// `user` and Redis's packaging do: a server that parses strangers' bytes should not hold
// root while it does.

#include <sys/types.h>

#include <string>

namespace sockkit::app {

/// Who to become: a user's ids, looked up while the command line is parsed.
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the user's primary group
};

/// Throws std::invalid_argument for an unknown user, std::system_error when the user
/// database cannot be read.
[[nodiscard]] Account find_account(const std::string& user);

/// Switches the process to `account`: its uid, its primary group, no supplementary groups,
/// no capabilities, an empty capability bounding set and no_new_privs, so not even an
/// exec'd program can regain privilege. The ids change for every thread; the bounding set
/// and no_new_privs for the calling thread and those it starts later, so call it before
/// starting any. Checks that root cannot be regained.
/// Throws std::system_error when the switch is refused (not root, and not oneself).
void become(const Account& account);

}  // namespace sockkit::app
