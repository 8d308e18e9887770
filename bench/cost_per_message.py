#!/usr/bin/env python3
"""What each server spends per message, measured side by side.

Runs every server in turn, interleaved (A B C A B C ...), for several repetitions; each run
starts the server pinned to one core (all its threads), drives it with `sockkit bench`
(64-byte ping-pong) pinned to the other, and counts the server's CPU time and system calls
over exactly the generator's run with `perf stat -p`. Prints each run, then per server and
connection count the median with min-max, and the median as a ratio to the first server
(the floor).

This machine is shared and noisy: only ratios measured in one run mean anything.

With --instructions, each server runs under valgrind's callgrind instead, and the table gives
the instructions it executes in user space per message: a count, not a time, so the same
binary gives the same figure whatever else the machine is doing (the kernel's share of the
cost, which is most of it, is not counted). Two runs per server, a short and a long one;
the difference of their counts over the difference of their messages cancels start-up,
connecting and shutting down. A server must exit on SIGTERM under valgrind: the io_uring
floor, blocked in io_uring_enter, takes no signal there, so give it --until-idle.

With --breakdown, each run records the server with `perf record -g` instead and splits its
CPU per message by where the kernel's call chains say it went: sending on TCP (`tcp_sendmsg`,
which on loopback includes delivering the segment to the client and waking it), receiving
on TCP (`tcp_recvmsg`), user space, and the rest, which is the interface: waiting for
readiness or completions (epoll_wait, io_uring_enter and its task work), entering and
leaving the kernel, looking up descriptors. Every server pays the TCP parts for the same
64 bytes; the interface and user space are what a server's design can change.

Usage: bench/cost_per_message.py [--build build/release] [--reps 5] [--connections 100 1000]
           [--duration 3] [--instructions | --breakdown] [NAME=COMMAND ...]
A COMMAND must print "Listening on ADDR" on stdout first; by default the epoll floor and the
epoll and uring engines with one loop each. Needs linux-perf (software events and syscall
tracepoints are enough) and two cores.
"""

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile


def start_server(command, wrapper=()):
    proc = subprocess.Popen(["taskset", "-c", "1", *wrapper, *shlex.split(command)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.match(r"^Listening on (\S+)", line)
    if not match:
        proc.kill()
        sys.exit(f"{command!r} did not start: {line!r}")
    return proc, match.group(1)


def perf_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and re.match(r"^[\d.]+$", parts[0]):
                counts[parts[2]] = float(parts[0])
    return counts


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run_bench(args, command, target, connections, seconds):
    bench = subprocess.run(["taskset", "-c", "0", os.path.join(args.build, "bin/sockkit"),
                            "bench", target, "-c", str(connections), "-s", "64",
                            "-d", f"{seconds}s", "--warmup", "0s", "--json"],
                           capture_output=True, text=True, timeout=seconds + 60)
    if bench.returncode != 0:
        sys.exit(f"bench against {command!r} failed:\n{bench.stdout}{bench.stderr}")
    return json.loads(bench.stdout)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    sys.exit(f"no totals in {path}")


def count_instructions(args, command, connections):
    """User-space instructions per message: (long run - short run) / (their messages)."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (1, 1 + args.duration):
            out = os.path.join(tmp, f"callgrind.{seconds}")
            # --fair-sched: valgrind runs one thread at a time, and without a fair lock a
            # loop going in and out of io_uring_enter kept the thread that handles SIGTERM
            # from ever running (1 stop in 4 hung).
            server, target = start_server(
                command, ["valgrind", "--tool=callgrind", "--fair-sched=yes",
                          f"--callgrind-out-file={out}"])
            try:
                report = run_bench(args, command, target, connections, seconds)
            finally:
                stop_server(server)
            runs.append((callgrind_total(out), report["messages"]))
    (short_ir, short_msgs), (long_ir, long_msgs) = runs
    if long_msgs <= short_msgs:
        sys.exit(f"{command!r} served no more messages in the long run than in the short one")
    return {"instructions_per_msg": (long_ir - short_ir) / (long_msgs - short_msgs),
            "messages_per_sec": long_msgs / (1 + args.duration)}


def watched_run(args, command, connections, perf_command, read):
    """Runs the server under `sockkit bench` with `perf_command -p PID -o FILE` watching it
    over exactly the generator's run; returns the bench report and read(FILE)."""
    server, target = start_server(command)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "perf.out")
            perf = subprocess.Popen([*perf_command, "-p", str(server.pid), "-o", out],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            report = run_bench(args, command, target, connections, args.duration)
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            return report, read(out)
    finally:
        stop_server(server)


def measure(args, command, connections):
    report, counts = watched_run(
        args, command, connections,
        ["perf", "stat", "-x,", "-e", "task-clock,context-switches,raw_syscalls:sys_enter"],
        perf_counts)
    messages = report["messages"]
    return {
        "messages_per_sec": report["messages_per_second"],
        "cpu_us_per_msg": counts["task-clock"] * 1000 / messages,  # task-clock is in ms
        "syscalls_per_msg": counts["raw_syscalls:sys_enter"] / messages,
        "switches_per_msg": counts["context-switches"] / messages,
        "generator_saturated": report["generator_saturated"],
    }


# Kernel functions whose call chains hold the TCP work itself, the same for any server API.
TCP_PARTS = {"tcp_send": "tcp_sendmsg", "tcp_recv": "tcp_recvmsg"}


def perf_shares(path):
    """CPU time sampled (ns) and the share of it in each TCP part and in user space."""
    report = subprocess.run(["perf", "report", "-i", path, "--stdio", "--children",
                             "--sort", "symbol", "-g", "none", "--percent-limit", "0"],
                            capture_output=True, text=True, check=True).stdout
    total = re.search(r"^# Event count \(approx\.\): (\d+)", report, re.M)
    if not total:
        sys.exit(f"perf report of {path} has no event count")
    shares = {part: 0.0 for part in TCP_PARTS} | {"user": 0.0}
    for line in report.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[(.)\] (\S+)", line)
        if not m:
            continue
        children, own, space, symbol = float(m[1]), float(m[2]), m[3], m[4]
        if space == ".":
            shares["user"] += own / 100
        for part, function in TCP_PARTS.items():
            if symbol == function:
                shares[part] = children / 100
    return int(total[1]), shares


def profile(args, command, connections):
    """Where the server's CPU per message goes, from its kernel call chains."""
    report, (cpu_ns, shares) = watched_run(
        args, command, connections, ["perf", "record", "-q", "-e", "cpu-clock", "-g"],
        perf_shares)
    cpu_us = cpu_ns / 1000 / report["messages"]
    parts = {part: share * cpu_us for part, share in shares.items()}
    parts["interface"] = cpu_us - sum(parts.values())
    return {"cpu_us_per_msg": cpu_us, **parts}


def interleaved(args, servers, run, describe):
    """Every server in turn, for each connection count, --reps times over; each run printed
    as it ends. Returns {(name, connections): [result of each run]}."""
    results = {}
    for rep in range(args.reps):
        for connections in args.connections:
            for name, command in servers:
                r = run(args, command, connections)
                results.setdefault((name, connections), []).append(r)
                print(f"rep={rep + 1} server={name} connections={connections} {describe(r)}",
                      flush=True)
    return results


def report_breakdown(args, servers):
    columns = ["tcp_send", "tcp_recv", "interface", "user"]
    results = interleaved(args, servers, profile,
                          lambda r: " ".join(f"{k}={v:.2f}" for k, v in r.items()))
    floor = servers[0][0]
    print(f"\nCPU-us per message, medians of {args.reps} interleaved runs; ratio: total / "
          f"{floor}'s; interface: readiness or completions, kernel entry and exit, "
          "descriptor lookup")
    print(f"{'server':<12}{'conns':>6}{'total':>8}{'ratio':>7}" +
          "".join(f"{c:>11}" for c in columns))
    for connections in args.connections:
        base = statistics.median(r["cpu_us_per_msg"] for r in results[(floor, connections)])
        for name, _ in servers:
            runs = results[(name, connections)]
            total = statistics.median(r["cpu_us_per_msg"] for r in runs)
            print(f"{name:<12}{connections:>6}{total:>8.2f}{total / base:>7.2f}" +
                  "".join(f"{statistics.median(r[c] for r in runs):>11.2f}" for c in columns))
        tcp = statistics.median(r["tcp_send"] + r["tcp_recv"] for r in results[(floor, connections)])
        print(f"  {floor}'s TCP work alone is {tcp / base:.0%} of its CPU at {connections} "
              "connections: a server doing the same TCP work costs at least that ratio.")


def report_timed(args, servers):
    results = interleaved(args, servers, measure, lambda r: (
        f"messages_per_sec={r['messages_per_sec']:.0f} "
        f"cpu_us_per_msg={r['cpu_us_per_msg']:.2f} "
        f"syscalls_per_msg={r['syscalls_per_msg']:.3f} "
        f"switches_per_msg={r['switches_per_msg']:.3f} "
        f"generator_saturated={r['generator_saturated']}"))
    floor = servers[0][0]
    print(f"\nmedians of {args.reps} interleaved runs (min-max); ratio: median / {floor}'s median")
    print(f"{'server':<10}{'conns':>6}{'msgs/s':>10}{'CPU-us/msg':>20}{'ratio':>7}"
          f"{'syscalls/msg':>14}{'ratio':>7}")
    for connections in args.connections:
        base = results[(floor, connections)]
        base_cpu = statistics.median(r["cpu_us_per_msg"] for r in base)
        base_sys = statistics.median(r["syscalls_per_msg"] for r in base)
        for name, _ in servers:
            runs = results[(name, connections)]
            cpu = [r["cpu_us_per_msg"] for r in runs]
            sysc = statistics.median(r["syscalls_per_msg"] for r in runs)
            rate = statistics.median(r["messages_per_sec"] for r in runs)
            spread = f"{statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f})"
            print(f"{name:<10}{connections:>6}{rate:>10.0f}{spread:>20}"
                  f"{statistics.median(cpu) / base_cpu:>7.2f}{sysc:>14.3f}"
                  f"{sysc / base_sys if base_sys else 0:>7.2f}")
    if any(r["generator_saturated"] for runs in results.values() for r in runs):
        print("\nThe generator set the pace (it saturated its core): messages/s of the fast "
              "servers converge, and CPU per message is what ranks them.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--duration", type=int, default=3, help="seconds per run")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--instructions", action="store_true",
                      help="count user-space instructions per message under callgrind")
    mode.add_argument("--breakdown", action="store_true",
                      help="split CPU per message into TCP send, TCP receive, interface "
                           "and user space (perf record -g)")
    parser.add_argument("servers", nargs="*", metavar="NAME=COMMAND")
    args = parser.parse_args()
    b = os.path.join(args.build, "bin")
    servers = [s.split("=", 1) for s in args.servers] or [
        ["floor", f"{b}/epoll_echo_floor 0"],
        ["epoll", f"{b}/sockkit serve --listen 127.0.0.1:0 --engine epoll --threads 1"],
        ["uring", f"{b}/sockkit serve --listen 127.0.0.1:0 --engine uring --threads 1"],
    ]
    if args.instructions:
        return report_instructions(args, servers)
    if args.breakdown:
        return report_breakdown(args, servers)
    return report_timed(args, servers)


def report_instructions(args, servers):
    results = {}
    for connections in args.connections:
        for name, command in servers:
            r = count_instructions(args, command, connections)
            results[(name, connections)] = r
            print(f"server={name} connections={connections} "
                  f"instructions_per_msg={r['instructions_per_msg']:.0f} "
                  f"messages_per_sec_under_callgrind={r['messages_per_sec']:.0f}", flush=True)
    floor = servers[0][0]
    print(f"\nuser-space instructions per message (callgrind); extra: beyond {floor}'s")
    print(f"{'server':<12}{'conns':>6}{'instr/msg':>11}{'extra':>8}")
    for connections in args.connections:
        base = results[(floor, connections)]["instructions_per_msg"]
        for name, _ in servers:
            ir = results[(name, connections)]["instructions_per_msg"]
            print(f"{name:<12}{connections:>6}{ir:>11.0f}{ir - base:>8.0f}")


if __name__ == "__main__":
    main()
