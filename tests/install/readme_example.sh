#!/usr/bin/env bash
# Extracts the README's "lesson in ten lines" (its first ```cpp block), wraps the statements
# in main(), and writes the program to $1. The README's example is then compiled and run
# by consumer_test.sh, so it cannot silently go stale. Its fixed port 65432 becomes 0, so
# the test never collides with anything else on the machine.
set -euo pipefail
readme=$(dirname "$0")/../../README.md
block=$(awk '/^```cpp$/ {inside=1; next} /^```$/ && inside {exit} inside' "$readme")
{
  echo '#include <array>'
  echo '#include <chrono>'
  echo '#include <iostream>'
  grep -E '^(#include|using )' <<<"$block"
  echo 'int main() {'
  grep -vE '^(#include|using )' <<<"$block" | sed 's/:65432"/:0"/' 
  echo '}'
} >"$1"
