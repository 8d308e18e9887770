#!/bin/sh
# Runs a command in a network namespace of its own (docs/robustness.md: private ports and
# TIME_WAIT state, a loopback nobody else uses), made here and gone when the command ends.
# Where namespaces cannot be made (no privilege), it says so and runs on the shared loopback.
if unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
echo "in_netns.sh: cannot make a network namespace here; running on the shared loopback" >&2
exec "$@"
