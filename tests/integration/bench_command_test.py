"""`sockkit bench` as a user runs it: against the tutorial's threaded echo server, against
nothing, and with bad flags. Loopback only; ports from the kernel; bounded runs.

Run by CTest, one test case per CTest test: bench_command_test.py BenchCommandTest.test_...
SOCKKIT_BIN_DIR names the directory holding the binaries."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
TIMEOUT = 30


def sockkit(*args):
    return subprocess.run([os.path.join(BIN, "sockkit"), *args], capture_output=True, text=True,
                          timeout=TIMEOUT)


class EchoServer:
    """examples/threaded_echo_server on a free port."""

    def __enter__(self):
        self.proc = subprocess.Popen([os.path.join(BIN, "threaded_echo_server"), "127.0.0.1", "0"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.target = re.match(r"^Listening on (\S+)$", line.strip()).group(1)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=TIMEOUT)


class PythonServer:
    """A Python listener whose every client is served by `behave(connection)` on a thread of
    its own: to play servers that misbehave."""

    def __init__(self, behave):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.target = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.behave = behave
        self.running = True
        self.threads = []
        self.thread = threading.Thread(target=self._accept)

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            conn.settimeout(TIMEOUT)
            thread = threading.Thread(target=self._serve, args=(conn,))
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn):
        with conn:
            try:
                self.behave(conn)
            except OSError:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(TIMEOUT)
        self.listener.close()
        for thread in self.threads:
            thread.join(TIMEOUT)


def read_until_closed(conn):
    while conn.recv(65536):
        pass


class BenchCommandTest(unittest.TestCase):
    def test_pingpong_reports_a_greppable_result(self):
        with EchoServer() as server:
            result = sockkit("bench", server.target, "-c", "4", "-d", "300ms", "--warmup", "0s")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("errors     none", result.stdout)
        match = re.search(r"^result mode=pingpong connections=4 messages_per_sec=(\d+) .* errors=0$",
                          result.stdout, re.M)
        self.assertIsNotNone(match, result.stdout)
        self.assertGreater(int(match.group(1)), 0)
        self.assertEqual(result.stderr, "", "no progress line when stderr is not a terminal")

    def test_json_and_percentiles_file(self):
        with EchoServer() as server, tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "latency.txt")
            result = sockkit("bench", server.target, "-m", "rate", "--rate", "2k/s", "-c", "2",
                             "-d", "500ms", "--warmup", "0s", "--json", "--percentiles", path)
            self.assertEqual(result.returncode, 0, result.stderr)
            report = json.loads(result.stdout)
            with open(path) as f:
                lines = f.read().splitlines()
        self.assertEqual(report["mode"], "rate")
        self.assertEqual(report["errors"]["total"], 0)
        self.assertGreater(report["messages"], 500)
        self.assertGreaterEqual(report["host_steal_percent"], 0)  # /proc/stat's, over the run
        self.assertLess(report["host_steal_percent"], 100)
        self.assertLessEqual(report["latency_us"]["p50"], report["latency_us"]["p99"])
        self.assertEqual(lines[0], "# value_us cumulative_fraction count")
        self.assertEqual(lines[-1].split()[1], "1")

    def test_percentiles_never_write_through_a_symlink(self):
        with EchoServer() as server, tempfile.TemporaryDirectory() as folder:
            victim = os.path.join(folder, "victim.txt")
            with open(victim, "w") as f:
                f.write("important\n")
            link = os.path.join(folder, "p.txt")
            os.symlink(victim, link)
            result = sockkit("bench", server.target, "-d", "100ms", "--warmup", "0s",
                             "--percentiles", link)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn(f"--percentiles {link}: is a symbolic link", result.stderr)
            self.assertEqual(result.stdout, "", "refused before the run, not after it")
            with open(victim) as f:
                self.assertEqual(f.read(), "important\n")
            self.assertTrue(os.path.islink(link))
            # A plain file already there is replaced whole, and nothing else is left behind.
            plain = os.path.join(folder, "plain.txt")
            with open(plain, "w") as f:
                f.write("old\n")
            result = sockkit("bench", server.target, "-d", "100ms", "--warmup", "0s",
                             "--percentiles", plain)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            with open(plain) as f:
                self.assertNotIn("old", f.read())
            self.assertEqual(sorted(os.listdir(folder)), ["p.txt", "plain.txt", "victim.txt"])

    def test_a_server_that_never_answers_is_reported_and_exit_1_says_why(self):
        with PythonServer(read_until_closed) as server:
            result = sockkit("bench", server.target, "-c", "2", "-d", "300ms", "--warmup", "0s")
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn("in flight  2 messages still owed a reply when the run ended",
                          result.stdout)
            self.assertIn("exit 1: no message was answered in the measured time (2 sent got no "
                          "reply)", result.stderr)
            # Rate mode exists so that a stalling server cannot hide: every message due is
            # sent, and every one of them is counted as unanswered (or not sent: overflow).
            result = sockkit("bench", server.target, "-m", "rate", "--rate", "1000/s", "-c", "2",
                             "-d", "300ms", "--warmup", "0s", "--json")
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            report = json.loads(result.stdout)
            self.assertEqual(report["messages"], 0)
            self.assertGreater(report["unanswered"], 100)
            self.assertGreaterEqual(report["unanswered"] + report["overflows"], 250)
            self.assertIn("no message was answered", result.stderr)

    def test_a_garbage_frame_header_is_a_framing_error_not_mismatches(self):
        def garbage_header(conn):
            conn.recv(65536)
            conn.sendall(b"\xff\xff\xff\xff" + b"x" * 60)
            read_until_closed(conn)

        with PythonServer(garbage_header) as server:
            result = sockkit("bench", server.target, "--framed", "-d", "300ms", "--warmup", "0s",
                             "--json")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        errors = json.loads(result.stdout)["errors"]
        self.assertGreaterEqual(errors["framing_errors"], 1)
        self.assertEqual(errors["mismatches"], 0)
        self.assertIn("framing error on connection 0 at byte 0", json.loads(result.stdout)["first_error"])

    def test_unreachable_target_exits_1_and_says_why(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            result = sockkit("bench", f"127.0.0.1:{port}", "-d", "300ms", "--warmup", "0s")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"first: connect 127.0.0.1:{port}: Connection refused", result.stdout)

    def test_a_server_that_dies_mid_run_is_reported(self):
        with EchoServer() as server:
            proc = subprocess.Popen([os.path.join(BIN, "sockkit"), "bench", server.target,
                                     "-d", "1500ms", "--warmup", "0s"],
                                    stdout=subprocess.PIPE, text=True)
            server.proc.kill()
            out, _ = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 1, out)
        self.assertRegex(out, r"errors     [1-9]")

    def test_bad_usage_exits_2_with_a_clear_message(self):
        for args, message in [
            (["-d", "5x"], "--duration: '5x': unknown duration unit 'x'"),
            (["--mode", "fast"], "--mode: 'fast' is not one of pingpong, rate, stream, connect, hold"),
            (["127.0.0.1:99999"], "port 99999 is out of range"),
            (["-s", "0"], "--size range must be 1 or more"),
            (["-c", "2", "-t", "3"], "--threads (3) cannot exceed --connections (2)"),
            (["-c", "100000"], "needs about 100066 open descriptors"),
            (["--connections", "many"], "--connections"),
        ]:
            result = sockkit("bench", *args)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(message, result.stderr, args)

    def test_help_explains_modes_and_examples(self):
        result = sockkit("bench", "--help")
        self.assertEqual(result.returncode, 0)
        for words in ["pingpong", "rate", "stream", "connect", "hold", "Examples:", "Exit status"]:
            self.assertIn(words, result.stdout)
        self.assertEqual(sockkit("--version").stdout.strip(), "sockkit 0.1.0")


if __name__ == "__main__":
    unittest.main()
