#!/usr/bin/env bash
# Installs this build into a scratch prefix, then builds and runs a consumer against it
# twice (through find_package(sockkit) and through pkg-config), and the README's example.
# Usage: consumer_test.sh BUILD_DIR SCRATCH_DIR CONSUMER_SOURCE_DIR CXX
set -euo pipefail
build=$1 scratch=$2 source=$3 cxx=$4
rm -rf "$scratch"
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/sockkit/sockkit.hpp"
test -n "$(find "$prefix" -path '*/cmake/sockkit/sockkitConfig.cmake')"

cmake -S "$source" -B "$scratch/cmake-build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$scratch/cmake-build" >/dev/null
out=$("$scratch/cmake-build/consumer")
[[ "$out" == "b'installed'" ]] || { echo "find_package consumer printed: $out"; exit 1; }

PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name sockkit.pc)")
export PKG_CONFIG_PATH
# shellcheck disable=SC2046 # word splitting of the flags is intended
"$cxx" -std=c++20 "$source/main.cpp" -o "$scratch/pc-consumer" $(pkg-config --cflags --libs sockkit)
out=$("$scratch/pc-consumer")
[[ "$out" == "b'installed'" ]] || { echo "pkg-config consumer printed: $out"; exit 1; }

# The README's example, as printed there, against the installed package.
"$(dirname "$0")/readme_example.sh" "$scratch/readme_example.cpp"
# shellcheck disable=SC2046
"$cxx" -std=c++20 "$scratch/readme_example.cpp" -o "$scratch/readme-example" $(pkg-config --cflags --libs sockkit)
out=$("$scratch/readme-example")
[[ "$out" == "b'Hello, world'" ]] || { echo "README example printed: $out"; exit 1; }
echo "installed package works through find_package and pkg-config; the README example runs"
