"""What every robustness test needs (docs/robustness.md, "How the suite runs"): a `sockkit
serve` process per engine with its counters read live (one JSON line per stats interval)
and at exit, its descriptors, memory and CPU from /proc, a canary client, and bounded waits.

Each test runs in a network namespace of its own when the CTest wrapper (in_netns.sh)
could make one; otherwise on the machine's loopback, which only the ports differ on. Every
case runs against `sockkit serve --engine epoll` and `--engine uring` (some on threaded too)
and ends with the leak audit (R4, RobustnessCase.audit). These are the fast sizes;
SOCKKIT_SOAK=1 (scripts/test --soak) runs the full ones."""

import json
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
SOCKKIT = os.path.abspath(os.path.join(BIN, "sockkit"))
# Sanitizer builds pad every allocation with shadow memory: memory bounds are not checked
# there (the test says so), everything else is.
SANITIZED = os.environ.get("SOCKKIT_SANITIZED", "") not in ("", "0", "OFF")
SOAK = os.environ.get("SOCKKIT_SOAK", "") not in ("", "0")
TIMEOUT = 60
ENGINES = ["epoll", "uring"]

_uring_refusal = None


def uring_refusal():
    """Why `--engine uring` cannot run here, or None when it can (asked once)."""
    global _uring_refusal
    if _uring_refusal is None:
        _uring_refusal = ""
        proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "127.0.0.1:0", "--engine", "uring"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.stdout.readline().startswith("Listening on"):
            proc.terminate()
        else:
            _uring_refusal = proc.stderr.read().strip() or "sockkit serve --engine uring failed"
        proc.communicate(timeout=10)
    return _uring_refusal or None


class EngineCase(unittest.TestCase):
    """A test case whose body runs once per engine. Each run starts with a line naming the
    engine, so a failure's output says which one it was."""

    def engines(self, engines=None):
        for engine in engines or ENGINES:
            if engine == "uring" and uring_refusal():
                print(f"SKIP {self.id()} [uring]: io_uring is refused here: {uring_refusal()}",
                      flush=True)
                continue
            print(f"--- {self.id()} [{engine}]", flush=True)
            yield engine


class Server:
    """`sockkit serve --json --stats-interval 100ms` on a kernel-chosen port."""

    def __init__(self, engine, *args, nofile=None, listen="127.0.0.1:0", launcher=()):
        """`launcher` runs it (e.g. setpriv ...), execing the server: its pid is the server's."""
        cmd = [*launcher, SOCKKIT, "serve", "--listen", listen, "--engine", engine, "--json",
               "--stats-interval", "100ms", *args]
        if nofile is not None:
            cmd = ["prlimit", f"--nofile={nofile}", "--", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="backslashreplace")
        line = self.proc.stdout.readline()
        match = re.match(r"^Listening on (\S+) \(engine: (\w+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"sockkit serve did not start: {line!r} {self.proc.stderr.read()}")
        self.target = match.group(1)
        host, port = self.target.rsplit(":", 1)
        self.address = (host.strip("[]"), int(port))
        self.pid = self.proc.pid
        self.latest = {}
        self.stats_lines = 0  # one a --stats-interval, and one per SIGUSR1
        self.final = None
        self.stderr = []
        self._stats = queue.Queue()
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._out.start()
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._err.start()
        self.baseline_fds = None
        time.sleep(0.05)
        self.baseline_fds = self.fd_count()
        self.baseline_fd_set = self.fd_targets()

    def _read_stdout(self):
        buffer = ""
        for line in self.proc.stdout:
            if buffer or line.startswith("{\n") or line.strip() == "{":
                buffer += line  # the final, pretty-printed JSON
                if line.startswith("}"):
                    self.final = json.loads(buffer)
                    buffer = ""
            elif line.startswith("{"):
                self.latest = json.loads(line)
                self.stats_lines += 1

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    # --- observations -------------------------------------------------------------------
    def stats(self, fresh=True):
        """The server's counters; `fresh`: read by the server after this call (its line's
        "time"), so they count everything that happened before it. (The first line read
        after the call may have been written before it, and read late.)"""
        if fresh:
            asked = time.time()
            deadline = time.monotonic() + 2
            while self.latest.get("time", 0) < asked:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no stats line in 2 s; the last: {self.latest}")
                time.sleep(0.01)
        return self.latest

    def wait_stats(self, condition, limit=10):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.latest and condition(self.latest):
                return self.latest
            time.sleep(0.02)
        return None

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def fd_targets(self):
        """{fd number: what it refers to}, e.g. {"7": "socket:[123]"}."""
        targets = {}
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                targets[fd] = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                pass  # closed while listing
        return targets

    def _extra_sockets(self):
        """The sockets among the descriptors not there at the start: each one's line from
        `ss`, and the states of its client's end on this host (the tests' clients are on
        loopback) when it is an established connection."""
        extra = {fd: target for fd, target in self.fd_targets().items()
                 if self.baseline_fd_set.get(fd) != target}
        inodes = {t[len("socket:["):-1] for t in extra.values() if t.startswith("socket:[")}
        if not inodes:
            return extra, []
        ss = subprocess.run(["ss", "-tanepi"], capture_output=True, text=True).stdout
        entries = [(e, e.split()) for e in re.split(r"\n(?=\S)", ss)]
        states_at = {}  # local address -> the states of the sockets there
        for _, fields in entries:
            if len(fields) > 4:
                states_at.setdefault(fields[3], []).append(fields[0])
        ours = []
        for entry, fields in entries:
            if any(f"ino:{i} " in entry for i in inodes):
                established = len(fields) > 4 and fields[0] == "ESTAB"
                ours.append((entry, (fields[4], states_at.get(fields[4], [])) if established
                             else None))
        return extra, ours

    def kernel_duplicates(self):
        """Established server sockets whose client has closed its end (TIME-WAIT): the
        server never got that FIN, because the connection it belongs to was served, and
        closed, through another socket. A SYN storm against a full backlog can leave the
        kernel with two server sockets for one connection (seen in L4, on every engine and
        before any change of this server: 1 run in 20); the second is idle, and the idle
        timeout ends it."""
        _, ours = self._extra_sockets()
        return sum(1 for _, client in ours
                   if client and client[1] and all(state == "TIME-WAIT" for state in client[1]))

    def describe_extra_fds(self):
        """For a failed descriptor audit: the descriptors not there at the start, each
        socket's state as `ss` sees it, and the server's last stats line."""
        extra, ours = self._extra_sockets()
        lines = [f"fd {fd} -> {target}" for fd, target in sorted(extra.items())]
        for entry, client in ours:
            lines.append(entry)
            if client:
                lines.append(f"  its client {client[0]}: "
                             f"{', '.join(client[1]) or 'no socket on this host'}")
        for tid in sorted(os.listdir(f"/proc/{self.pid}/task")):  # a loop stuck or spinning?
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{self.pid}/task/{tid}/wchan") as f:
                    wchan = f.read()
            except OSError:
                continue
            lines.append(f"thread {tid}: state {fields[0]}, cpu ticks {int(fields[11]) + int(fields[12])}, "
                         f"waiting in {wchan or '-'}")
        lines.append(f"last stats: {self.latest}")
        return "\n".join(lines)

    def status_kib(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kib(self):
        return self.status_kib("VmRSS")

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.proc.poll() is None

    def connect(self, timeout=5):
        return socket.create_connection(self.address, timeout=timeout)

    def log_lines(self, words):
        return [line for line in self.stderr if words in line]

    # --- the end ------------------------------------------------------------------------
    def fds_back_to_baseline(self, limit=2.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.fd_count() <= self.baseline_fds:
                return True
            time.sleep(0.02)
        if self.fd_count() <= self.baseline_fds:
            return True
        duplicates = self.kernel_duplicates()
        if duplicates:
            print(f"NOTE {duplicates} established server socket(s) whose client closed its end "
                  "through another: the kernel's duplicates, not the server's leak", flush=True)
        return self.fd_count() - duplicates <= self.baseline_fds

    def stop(self, sig=signal.SIGTERM, limit=10):
        """Stops it; returns (exit status, final stats)."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=limit)
        self._out.join(5)
        self._err.join(5)
        return self.proc.returncode, self.final

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.join(5)
        self._err.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        self.kill()
        if kind is not None:  # a failing test shows what the server said
            print(f"sockkit serve (exit {self.proc.returncode}) stderr, last 20 lines:\n"
                  + "".join(self.stderr[-20:]), flush=True)


def closed_by(stats, reason):
    return stats.get("closed_by_reason", {}).get(reason, 0)


def closed_total(stats):
    return sum(stats.get("closed_by_reason", {}).values())


def ends_within(sock, limit):
    """Reads (and drops) until the peer closes or `limit` passes: "eof", "reset" or None."""
    sock.settimeout(limit)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            if not sock.recv(65536):
                return "eof"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except socket.timeout:
        return None
    return None


def hung_up_within(sock, limit):
    """Whether the peer closes or resets within `limit`, found without reading (reading
    would be the very progress a non-reading client must not make)."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0, int(limit * 1000))))


def echo(sock, payload):
    """Sends `payload` and reads exactly that many bytes back."""
    sock.sendall(payload)
    back = b""
    while len(back) < len(payload):
        chunk = sock.recv(len(payload) - len(back))
        if not chunk:
            break
        back += chunk
    return back


def frame(payload):
    return len(payload).to_bytes(4, "big") + payload


class Canary:
    """One client doing 64-byte round trips at 200 Hz, in a process of its own: a thread
    here would wait for the interpreter lock while the test floods (measured: X5's canary
    p99 of 15-60 ms on either engine was mostly that wait). Records each round trip's time
    and any failure; both are read once it has stopped."""

    def __init__(self, address):
        host, port = address[0], address[1]
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "canary", host,
                                      str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            self.proc.kill()
            self.proc.wait()
            raise OSError(f"the canary could not connect to {host}:{port}: {ready}")
        self.times = []
        self.failure = None

    def stop(self):
        out, _ = self.proc.communicate("stop\n", timeout=10)
        result = json.loads(out)
        self.times, self.failure = result["times"], result["failure"]
        return self

    def p99(self):
        ordered = sorted(self.times)
        return ordered[int(len(ordered) * 0.99)] if ordered else None

    def worst(self):
        return max(self.times) if self.times else None


def _run_canary(host, port):
    """The canary's process: round trips until a line comes on stdin, then the results as
    one JSON object on stdout."""
    try:
        sock = socket.create_connection((host, port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as e:
        print(e, flush=True)
        return
    print("ready", flush=True)
    payload = b"c" * 64
    times, failure = [], None
    try:
        while True:
            started = time.monotonic()
            if echo(sock, payload) != payload:
                failure = "wrong echo"
                break
            times.append(time.monotonic() - started)
            pause = max(0.0, 0.005 - (time.monotonic() - started))
            if select.select([sys.stdin], [], [], pause)[0]:
                break
    except OSError as e:
        failure = str(e)
    if failure is not None:
        sys.stdin.readline()  # the test reads the result when it stops the canary
    sock.close()
    try:
        print(json.dumps({"times": times, "failure": failure}), flush=True)
    except BrokenPipeError:
        pass  # the test is gone (it failed before stopping the canary)


def tcp_memory_pages():
    """The pages every TCP socket of this kernel holds (/proc/net/sockstat), the figure the
    kernel compares with tcp_mem to decide it is under memory pressure."""
    with open("/proc/net/sockstat") as f:
        match = re.search(r"^TCP:.* mem (\d+)", f.read(), re.M)
    return int(match.group(1)) if match else 0


def run_bench(target, *args, timeout=TIMEOUT):
    return subprocess.run([SOCKKIT, "bench", target, *args], capture_output=True, text=True,
                          timeout=timeout)


def tcp_ext(name):
    """A counter of the kernel's TcpExt table (this network namespace's), e.g.
    "ListenOverflows": clients dropped because a listener's backlog was full."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:]))[name])
    raise KeyError(name)


def report(name, **figures):
    """A measured figure, printed for docs/robustness.md (never asserted unless a bound)."""
    text = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"FIGURE {name} {text}", flush=True)



def nonblocking_flood(sock, limit_bytes, chunk=65536):
    """Writes up to `limit_bytes` without blocking, as far as the kernel accepts."""
    sock.setblocking(False)
    data = os.urandom(chunk)
    sent = 0
    while sent < limit_bytes:
        try:
            n = sock.send(data[: min(chunk, limit_bytes - sent)])
        except BlockingIOError:
            break
        sent += n
    return sent


class RobustnessCase(EngineCase):
    """A robustness case: it runs once per engine and ends with the leak audit."""

    def audit(self, server):
        """R4: every test ends with the server's descriptors back where they started."""
        self.assertTrue(server.fds_back_to_baseline(2.0),
                        f"fds {server.fd_count()} > baseline {server.baseline_fds}:\n"
                        + server.describe_extra_fds())

if __name__ == "__main__" and sys.argv[1:2] == ["canary"]:
    _run_canary(sys.argv[2], int(sys.argv[3]))
