#!/bin/sh
# expect_uring_skips.sh WITHOUT_IO_URING SERVER_TEST: with io_uring refused by seccomp, the
# engine suite's uring cases must skip, each saying why, and the run must still pass.
out=$("$1" "$2" '--gtest_filter=*uring*:*Uring*' 2>&1)
status=$?
echo "$out"
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status"; exit 1; }
echo "$out" | grep -q "refuses the uring engine here: Operation not permitted" ||
  { echo "FAIL: no skip gave the kernel's refusal as its reason"; exit 1; }
ran=$(echo "$out" | grep -c '^\[       OK \]')
[ "$ran" -eq 0 ] || { echo "FAIL: $ran uring cases ran although io_uring was refused"; exit 1; }
echo "PASS: every uring case skipped with the reason"
