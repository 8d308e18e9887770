#!/bin/sh
# Runs the deliberately leaking test binary given as $1: passes only if it exits non-zero
# and its output names the leaking suite.
out=$("$1" 2>&1)
status=$?
echo "$out" | grep -q 'FD LEAK: test suite LeakyOnPurpose had' || { echo "no leak reported:"; echo "$out"; exit 1; }
[ "$status" -ne 0 ] || { echo "the leak was reported but the exit status was 0"; exit 1; }
echo "leak detected as expected (exit status $status)"
