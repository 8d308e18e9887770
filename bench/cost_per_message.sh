#!/usr/bin/env bash
# CPU time and syscalls per message of a server and of the load generator, side by side.
# Starts the server pinned to core 1 (by default the epoll floor; SERVER may name any command
# that prints "Listening on ADDR" first), runs `sockkit bench` (64-byte ping-pong) pinned to
# core 0, and reads both processes' CPU time and syscalls with perf over the same run.
# Usage: [SERVER="..."] bench/cost_per_message.sh [BUILD_DIR] [CONNECTIONS...]
#   (default build/release, 100 1000), for example
#   SERVER="build/release/bin/sockkit serve --listen 127.0.0.1:0 --engine uring --threads 1" \
#     bench/cost_per_message.sh
# Needs linux-perf (software events and syscall tracepoints are enough).
set -euo pipefail
build=${1:-build/release}
shift || true
connections=("$@")
((${#connections[@]} > 0)) || connections=(100 1000)
bin=$build/bin
duration=5

log=$(mktemp)
server=${SERVER:-$bin/epoll_echo_floor 0}
# shellcheck disable=SC2086 # SERVER is a command line
$server >"$log" 2>/dev/null &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -f "$log"' EXIT
taskset -pc 1 "$server_pid" >/dev/null
until grep -q Listening "$log"; do sleep 0.05; done
target=$(sed -n 's/^Listening on \([^ ]*\).*/\1/p' "$log")

for c in "${connections[@]}"; do
  server_stats=$(mktemp)
  client_stats=$(mktemp)
  perf stat -x, -e task-clock,raw_syscalls:sys_enter -p "$server_pid" -o "$server_stats" \
    -- sleep $((duration + 2)) &
  perf_server=$!
  result=$(perf stat -x, -e task-clock,raw_syscalls:sys_enter -o "$client_stats" -- \
    taskset -c 0 "$bin/sockkit" bench "$target" -c "$c" -d "${duration}s" --warmup 1s --json)
  wait $perf_server
  python3 - "$c" "$client_stats" "$server_stats" <<PY
import json, sys
report = json.loads('''$result''')
def stats(path):
    out = {}
    for line in open(path):
        parts = line.strip().split(",")
        if len(parts) > 2 and parts[0].replace(".", "").isdigit():
            out[parts[2]] = float(parts[0])
    return out
client, server = stats(sys.argv[2]), stats(sys.argv[3])
# The client ran warmup + duration; the server was watched for a little longer. Messages
# are counted over the measured window only, so scale by the time each was watched.
msgs = report["messages"]
rate = report["messages_per_second"]
total_client_msgs = rate * (report["measured_s"] + 1.0)
total_server_msgs = total_client_msgs  # every message the client sent, the server echoed
print(f"connections={sys.argv[1]} messages_per_sec={rate:.0f} errors={report['errors']['total']} "
      f"generator_cpu_us_per_msg={client['task-clock'] * 1000 / total_client_msgs:.2f} "
      f"generator_syscalls_per_msg={client['raw_syscalls:sys_enter'] / total_client_msgs:.2f} "
      f"server_cpu_us_per_msg={server['task-clock'] * 1000 / total_server_msgs:.2f} "
      f"server_syscalls_per_msg={server['raw_syscalls:sys_enter'] / total_server_msgs:.2f} "
      f"generator_saturated={report['generator_saturated']}")
PY
  rm -f "$server_stats" "$client_stats"
done
