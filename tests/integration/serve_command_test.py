"""`sockkit serve` as a user runs it, checked with `sockkit bench` and plain sockets.
Loopback only (the every-interface case binds :0 and is only checked for its warning);
ports from the kernel; bounded runs.

Run by CTest, one test case per CTest test: serve_command_test.py ServeCommandTest.test_...
SOCKKIT_BIN_DIR names the directory holding the binaries."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
TIMEOUT = 30
SOCKKIT = os.path.join(BIN, "sockkit")


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"^Listening on (\S+) \(engine: (\w+), protocol: ([\w-]+)\)$", line.strip())
        if not match:
            self.proc.kill()
            raise AssertionError(f"sockkit serve did not start: {line!r} {self.proc.stderr.read()}")
        self.target, self.engine, self.protocol = match.groups()
        self.port = int(self.target.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, err


class Talker:
    """Keeps a client active, a byte echoed every 20 ms, never quiet for the 100 ms that
    would make a draining server close it: the drain waits for it until stop()."""

    def __init__(self, client):
        self.client = client
        self.talking = threading.Event()
        self.talking.set()
        self.thread = threading.Thread(target=self._talk)
        self.thread.start()

    def _talk(self):
        try:
            while self.talking.is_set():
                self.client.sendall(b"x")
                self.client.recv(1)
                time.sleep(0.02)
        except OSError:
            pass

    def stop(self):
        self.talking.clear()
        self.thread.join(TIMEOUT)


class ServeCommandTest(unittest.TestCase):
    def test_every_engine_passes_a_verified_benchmark(self):
        for engine in ["iterative", "threaded", "epoll", "uring", "auto"]:
            server = Server("--engine", engine)
            connections = "1" if engine == "iterative" else "20"
            bench = subprocess.run([SOCKKIT, "bench", server.target, "-c", connections,
                                    "-s", "1-8KiB", "-d", "500ms", "--warmup", "0s"],
                                   capture_output=True, text=True, timeout=TIMEOUT)
            code, out, err = server.stop()
            self.assertEqual(bench.returncode, 0, engine + bench.stdout)
            self.assertIn("errors     none", bench.stdout, engine)
            self.assertEqual(code, 0, err)
            self.assertRegex(out, rf"stats accepted={connections} active=0 ", engine)

    def test_framed_echo_with_json_stats_on_exit(self):
        server = Server("--protocol", "framed-echo", "--max-frame", "64KiB", "--json")
        bench = subprocess.run([SOCKKIT, "bench", server.target, "--framed", "-s", "1-64KiB",
                                "-c", "4", "-d", "300ms", "--warmup", "0s"],
                               capture_output=True, text=True, timeout=TIMEOUT)
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            self.assertEqual(s.recv(100), b"")  # refused as a frame far too large
        stopping = time.time()
        code, out, _ = server.stop()
        self.assertEqual(bench.returncode, 0, bench.stdout)
        self.assertEqual(code, 0)
        stats = json.loads(out[out.index("{"):])
        # when the counters were read: after the stop was asked for, before it was seen
        self.assertGreaterEqual(stats["time"], stopping)
        self.assertLessEqual(stats["time"], time.time())
        self.assertEqual(stats["accepted"], 5)
        self.assertEqual(stats["closed_by_reason"]["frame_too_large"], 1)
        # bench stops with frames in flight and echoes unread, so its connections end as
        # peer_closed, truncated or peer_reset (or server_stopping, if the stop came first);
        # none may end by a timeout or an error.
        closed = stats["closed_by_reason"]
        self.assertEqual(sum(closed.values()), 5)
        for reason in ["idle", "send_timeout", "frame_timeout", "error"]:
            self.assertEqual(closed[reason], 0, reason)
        self.assertEqual(stats["active"], 0)

    def test_sigusr1_prints_one_stats_line_and_serving_goes_on(self):
        for engine in ["threaded", "epoll", "uring"]:
            server = Server("--engine", engine)
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
                s.sendall(b"hello")
                self.assertEqual(s.recv(100), b"hello")
                # (the threaded engine counts a client just after its thread starts, so
                # the first line may come before that: ask again, at most 20 times)
                expected = (r"^stats accepted=1 active=1 rejected=0 bytes_in=5 "
                            r"bytes_out=5 buffered=\d+$")
                watchdog = threading.Timer(TIMEOUT, server.proc.kill)  # bounds the reads
                watchdog.start()
                for _ in range(20):
                    server.proc.send_signal(signal.SIGUSR1)
                    line = server.proc.stdout.readline()
                    if re.match(expected, line):
                        break
                    time.sleep(0.05)
                watchdog.cancel()
                self.assertRegex(line, expected, engine)
                s.sendall(b"again")
                self.assertEqual(s.recv(100), b"again", engine)
            code, out, _ = server.stop()
            self.assertEqual(code, 0, engine)
            self.assertRegex(out, r"^stats accepted=1 active=0 ", engine)

    def test_stop_signal_drains_and_a_second_one_exits_at_once(self):
        server = Server("--drain-timeout", "20s")
        client = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        talker = Talker(client)
        time.sleep(0.1)
        server.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        self.assertIsNone(server.proc.poll(), "the drain waits for the active client")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        server.proc.communicate(timeout=TIMEOUT)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(server.proc.returncode, 128 + signal.SIGINT)
        talker.stop()
        client.close()

    def test_a_unix_path_that_is_not_a_socket_is_never_removed(self):
        with tempfile.TemporaryDirectory() as folder:
            data = os.path.join(folder, "data.txt")
            with open(data, "w") as f:
                f.write("important\n")
            result = subprocess.run([SOCKKIT, "serve", "--listen", "unix:data.txt"], cwd=folder,
                                    capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertEqual(result.stderr,
                             "sockkit serve: bind unix:data.txt: exists and is not a socket\n")
            with open(data) as f:
                self.assertEqual(f.read(), "important\n")

    def test_a_second_stop_signal_still_removes_the_unix_socket_file(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "echo.sock")
            proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "unix:" + path,
                                     "--drain-timeout", "20s"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertTrue(proc.stdout.readline().startswith("Listening on unix:"))
            client = socket.socket(socket.AF_UNIX)
            client.settimeout(TIMEOUT)
            client.connect(path)
            talker = Talker(client)
            proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + TIMEOUT  # the first signal has been seen once it says so
            while "stopping" not in proc.stderr.readline() and time.monotonic() < deadline:
                pass
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=TIMEOUT)
            talker.stop()
            client.close()
            self.assertEqual(proc.returncode, 128 + signal.SIGINT)
            self.assertFalse(os.path.exists(path), "the socket file must go with the server")

    def test_sighup_stops_cleanly_and_sigusr2_and_sigalrm_change_nothing(self):
        # A closed terminal or SSH session sends SIGHUP: the server drains, prints its last
        # stats and removes its socket file, instead of dying with the file left behind.
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "echo.sock")
            proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "unix:" + path],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertTrue(proc.stdout.readline().startswith("Listening on unix:"))
            proc.send_signal(signal.SIGUSR2)
            proc.send_signal(signal.SIGALRM)
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(TIMEOUT)
                client.connect(path)
                client.sendall(b"ping")
                self.assertEqual(client.recv(4), b"ping")
            proc.send_signal(signal.SIGHUP)
            out, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(proc.returncode, 0, err)  # killed by a signal: negative
            self.assertRegex(out, r"stats accepted=1 active=0 ")
            self.assertFalse(os.path.exists(path))

    def test_a_unix_socket_gets_its_mode_whatever_the_umask(self):
        with tempfile.TemporaryDirectory() as folder:
            for args, mode in [([], 0o660), (["--unix-mode", "0600"], 0o600),
                               (["--unix-mode", "777"], 0o777)]:
                path = os.path.join(folder, "echo.sock")
                proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "unix:" + path, *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=lambda: os.umask(0))
                self.assertTrue(proc.stdout.readline().startswith("Listening on unix:"))
                self.assertEqual(os.stat(path).st_mode & 0o777, mode, args)
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=TIMEOUT)
            for bad in ["0400", "0999", "rw", "01777"]:
                result = subprocess.run([SOCKKIT, "serve", "--unix-mode", bad],
                                        capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(result.returncode, 2, bad)
                self.assertIn(f"--unix-mode: '{bad}' is not permission bits", result.stderr)

    def test_user_leaves_no_capability_and_no_way_back_in_any_thread(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to switch to user nobody")
        with tempfile.TemporaryDirectory() as folder:
            os.chmod(folder, 0o1777)  # sticky, like /tmp: nobody may remove what it owns
            path = os.path.join(folder, "echo.sock")
            proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "unix:" + path, "--engine",
                                     "epoll", "--threads", "2", "--user", "nobody"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertTrue(proc.stdout.readline().startswith("Listening on unix:"))
            self.assertEqual(os.stat(path).st_uid, 65534, "the socket file is the server user's")
            with socket.socket(socket.AF_UNIX) as client:  # the loops have started by now
                client.settimeout(TIMEOUT)
                client.connect(path)
                client.sendall(b"ping")
                self.assertEqual(client.recv(4), b"ping")
            tasks = os.listdir(f"/proc/{proc.pid}/task")
            self.assertGreaterEqual(len(tasks), 3)
            for task in tasks:
                with open(f"/proc/{proc.pid}/task/{task}/status") as f:
                    status = dict(line.split(":", 1) for line in f.read().splitlines())
                self.assertEqual(status["Uid"].split(), ["65534"] * 4, task)
                self.assertEqual(int(status["CapEff"], 16), 0, task)
                self.assertEqual(int(status["CapPrm"], 16), 0, task)
                self.assertEqual(int(status["CapBnd"], 16), 0, task)
                self.assertEqual(status["NoNewPrivs"].strip(), "1", task)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(proc.returncode, 0, err)
            self.assertFalse(os.path.exists(path), "the server user removed its socket file")

    def test_port_in_use_is_one_clear_line_and_exit_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            result = subprocess.run([SOCKKIT, "serve", "--listen", f"127.0.0.1:{port}"],
                                    capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr,
                         f"sockkit serve: bind 127.0.0.1:{port}: Address already in use\n")

    def test_bad_usage_exits_2(self):
        for args, message in [(["--engine", "uring-ish"], "--engine: 'uring-ish' is not one of auto, iterative"),
                              (["--protocol", "http"], "--protocol: 'http' is not one of"),
                              (["--idle-timeout", "soon"], "--idle-timeout: 'soon' is not a duration"),
                              (["--listen", "[::1"], "missing ']'"),
                              (["--user", "no-such-user"], "--user: no user named 'no-such-user'"),
                              # The kernel keeps these in an int: never cut silently.
                              (["--socket-send-buffer", "5GiB"],
                               "--socket-send-buffer: '5GiB' is more than the most, 1 GiB"),
                              (["--socket-unsent-limit", "2GiB"], "--socket-unsent-limit: '2GiB'"),
                              (["--uring-buffer-size", "4GiB"], "--uring-buffer-size: '4GiB'")]:
            result = subprocess.run([SOCKKIT, "serve", *args], capture_output=True, text=True,
                                    timeout=TIMEOUT)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(message, result.stderr, args)

    def test_every_interface_prints_one_warning(self):
        proc = subprocess.Popen([SOCKKIT, "serve", "--listen", ":0"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.assertRegex(proc.stdout.readline(), r"^Listening on 0\.0\.0\.0:\d+ ")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(err.count("warning: listening on every interface"), 1, err)

    def test_a_bare_port_is_every_ipv4_interface_and_brackets_take_both_families(self):
        # nc -l PORT's habit: a bare port. [::]:PORT takes IPv4 clients too (dual stack).
        for listen, printed, families in [("0", r"0\.0\.0\.0", [socket.AF_INET]),
                                          ("[::]:0", r"\[::\]", [socket.AF_INET, socket.AF_INET6])]:
            proc = subprocess.Popen([SOCKKIT, "serve", "--listen", listen], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                line = proc.stdout.readline()
                match = re.match(r"^Listening on " + printed + r":(\d+) ", line)
                self.assertTrue(match, line)
                port = int(match.group(1))
                for family in families:
                    host = "127.0.0.1" if family == socket.AF_INET else "::1"
                    with socket.create_connection((host, port), timeout=TIMEOUT) as c:
                        c.sendall(b"both ways")
                        self.assertEqual(c.recv(100), b"both ways", (listen, host))
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(err.count("warning: listening on every interface"), 1, err)
            if len(families) == 2:
                self.assertIn("IPv4 and IPv6", err)

    def test_an_unknown_service_name_for_a_port_is_a_usage_error(self):
        # (A known one is its port: the net unit tests check the names.)
        result = subprocess.run([SOCKKIT, "serve", "--listen", "127.0.0.1:no-such-service"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 2)
        self.assertIn("'no-such-service' is neither a number nor a service name", result.stderr)


    def test_every_engine_and_protocol_answers_send_python_nc_ncat_socat(self):
        message = bytes(range(256))
        framed = struct.pack("!I", len(message)) + message
        tools = [["nc", "-N", "127.0.0.1", "{port}"], ["ncat", "127.0.0.1", "{port}"],
                 ["socat", "-", "TCP:127.0.0.1:{port}"]]
        for engine in ["iterative", "threaded", "epoll", "uring"]:
            for protocol, wire in [("echo", message), ("framed-echo", framed), ("discard", None)]:
                label = f"{engine}/{protocol}"
                server = Server("--engine", engine, "--protocol", protocol)
                expected = b"" if wire is None else wire
                for tool in tools:
                    out = subprocess.run([a.format(port=server.port) for a in tool],
                                         input=wire or message, capture_output=True,
                                         timeout=TIMEOUT)
                    self.assertEqual(out.stdout, expected, f"{label} {tool[0]}")
                with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
                    s.sendall(wire or message)
                    s.shutdown(socket.SHUT_WR)
                    got = b""
                    while chunk := s.recv(65536):
                        got += chunk
                    self.assertEqual(got, expected, f"{label} python")
                args = ["--framed"] if protocol == "framed-echo" else []
                if protocol != "discard":
                    send = subprocess.run([SOCKKIT, "send", server.target, *args],
                                          capture_output=True, text=True, timeout=TIMEOUT)
                    self.assertEqual(send.stdout, "Received b'Hello, world'\n", label)
                code, out, err = server.stop()
                self.assertEqual(code, 0, f"{label} {err}")
                clients = len(tools) + 1 + (protocol != "discard")
                self.assertRegex(out, rf"stats accepted={clients} active=0 ", label)

    def test_verbose_logs_each_connection_with_peer_data_escaped(self):
        server = Server("-v")
        hostile = b"\x1b]0;owned\x07\x00\nClosed 1.2.3.4:5: forged\r" + b"A" * 100
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            peer = "127.0.0.1:%d" % s.getsockname()[1]
            s.sendall(hostile)
            got = b""
            while len(got) < len(hostile):
                got += s.recv(65536)
        time.sleep(0.2)  # the close is logged once the server sees it
        code, _, err = server.stop()
        self.assertEqual(code, 0)
        lines = [line for line in err.splitlines() if "stopping" not in line]
        self.assertEqual(lines[0], f"Connected by {peer}")
        shown = hostile[:64].decode("latin-1")
        self.assertEqual(lines[1], f"{peer} sent {hostile[:64]!r}... ({len(hostile) - 64} more bytes)")
        self.assertEqual(lines[2], f"Closed {peer}: peer_closed (in {len(hostile)} B, "
                                   f"out {len(hostile)} B)")
        self.assertEqual(len(lines), 3, err)
        for line in lines:
            self.assertTrue(line.isprintable(), repr(line))
        self.assertNotIn(shown, err)

    def test_io_uring_refused_is_one_clear_line_and_auto_falls_back_once(self):
        # A seccomp filter refuses io_uring_setup, as Docker's default profile does.
        without = os.path.join(BIN, "without_io_uring")
        result = subprocess.run([without, SOCKKIT, "serve", "--engine", "uring",
                                 "--listen", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, r"^sockkit serve: io_uring_setup \(io_uring is refused "
                                        r"here: .*use --engine epoll\): Operation not permitted\n$")
        proc = subprocess.Popen([without, SOCKKIT, "serve", "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        self.assertRegex(line, r"^Listening on 127\.0\.0\.1:\d+ \(engine: epoll, protocol: echo\)")
        port = int(re.search(r":(\d+) ", line).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"still served")
            self.assertEqual(s.recv(100), b"still served")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(err.count("io_uring is refused here (Operation not permitted); "
                                   "using epoll"), 1, err)

    def test_a_low_port_without_privilege_is_one_clear_line_and_exit_1(self):
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            start = int(f.read())
        if os.geteuid() != 0 or shutil.which("setpriv") is None or start <= 80:
            self.skipTest("needs root and setpriv to run as nobody, and port 80 privileged "
                          f"(ip_unprivileged_port_start is {start})")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 os.path.abspath(SOCKKIT), "serve", "--listen", "127.0.0.1:80"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        if result.stderr.startswith("setpriv: failed to execute"):
            self.skipTest(f"user nobody cannot run the binary here: {result.stderr.strip()}")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, "sockkit serve: bind 127.0.0.1:80: Permission denied\n")

if __name__ == "__main__":
    unittest.main()
