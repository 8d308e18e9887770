"""`sockkit send` and `sockkit connect` as a user runs them, against `sockkit serve`, Python
sockets, nc, ncat and socat. Loopback only (the tutorial's fixed port only inside a network
namespace the test makes); ports from the kernel; every run bounded by a timeout.

Run by CTest, one test case per CTest test: client_commands_test.py ClientCommandsTest.test_...
SOCKKIT_BIN_DIR names the directory holding the binaries."""

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
TIMEOUT = 30
SOCKKIT = os.path.abspath(os.path.join(BIN, "sockkit"))
ALL_BYTES = bytes(range(256)) * 64  # 16 KiB, every byte value, NUL and \xff included


def run(*args, data=b"", timeout=TIMEOUT):
    return subprocess.run([SOCKKIT, *args], input=data, capture_output=True, timeout=timeout)


def free_port():
    """A port nothing listens on now. Another process may take it before it is used: a peer
    that must listen on it is started with `start_listening_peer`, which checks."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_listening_peer(argv_for_port, **popen_args):
    """Starts a peer (nc, socat) that cannot report a port it got from port 0, on a free
    port, and waits until it listens there itself. Between free_port() and the peer's bind,
    a test running alongside may take the port: the peer then fails to bind and this tries
    another (seen once: nc exited at once, and the client connected to the other test's
    server instead). Returns (process, port)."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(argv_for_port(port), **popen_args)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True,
                                 text=True)
            if f"pid={proc.pid}," in out.stdout:
                return proc, port
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    raise AssertionError(f"{argv_for_port(0)[0]} never listened on a free port (5 tries)")


class Serve:
    """`sockkit serve` on a kernel-chosen port."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SOCKKIT, "serve", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"^Listening on (\S+) ", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"sockkit serve did not start: {line!r}")
        self.target = match.group(1)
        self.port = int(self.target.rsplit(":", 1)[1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.communicate(timeout=TIMEOUT)


class OneShotPeer:
    """A Python TCP listener that does `behave(connection)` with its first client."""

    def __init__(self, behave):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.received = b""
        self.thread = threading.Thread(target=self._serve, args=(behave,))
        self.thread.start()

    def _serve(self, behave):
        self.listener.settimeout(TIMEOUT)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(TIMEOUT)
            behave(self, conn)

    def read_all(self, conn):
        while chunk := conn.recv(65536):
            self.received += chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listener.close()
        self.thread.join(TIMEOUT)


class ClientCommandsTest(unittest.TestCase):
    # --- send ---------------------------------------------------------------------------

    def test_send_and_serve_with_no_arguments_are_the_tutorial(self):
        # The tutorial's fixed 127.0.0.1:65432, in a network namespace of our own so no
        # other test or program can hold the port.
        if shutil.which("unshare") is None or subprocess.run(
                ["unshare", "--net", "true"], capture_output=True).returncode != 0:
            self.skipTest("cannot make a network namespace here (unshare --net failed), "
                          "and the tutorial's port must not be taken on the shared loopback")
        script = f"""
            ip link set lo up
            {SOCKKIT} serve > serve.out 2>&1 &
            for i in $(seq 100); do {SOCKKIT} send 2>/dev/null && break; sleep 0.05; done
            kill -TERM $!; wait $!; echo "serve exit $?"; cat serve.out
        """
        result = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True,
                                text=True, timeout=TIMEOUT, cwd=self.scratch())
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], "Received b'Hello, world'", result.stdout + result.stderr)
        self.assertEqual(lines[1], "serve exit 0")
        self.assertRegex(lines[2], r"^Listening on 127\.0\.0\.1:65432 \(engine: (uring|epoll), "
                                   r"protocol: echo\)$")

    def test_send_reads_every_reply_whole_in_each_form(self):
        for engine in ["iterative", "threaded", "epoll", "uring"]:
            with Serve("--engine", engine) as server:
                r = run("send", server.target, "ping", "pong")
                self.assertEqual(r.stdout, b"Received b'ping'\nReceived b'pong'\n", engine)
                # A message larger than one read: every byte must come back, not one recv's worth.
                big = "x" * 100_000
                r = run("send", server.target, big)
                self.assertEqual(r.stdout, f"Received b'{big}'\n".encode(), engine)
                r = run("send", server.target, "--hex", "00 ff:0d-0a", "27")
                self.assertEqual(r.stdout, b"Received 00ff0d0a\nReceived 27\n", engine)
                # Printed as it arrives, so always quoted with ' (a ' inside is escaped).
                r = run("send", server.target, "--until-close", "it's")
                self.assertEqual(r.stdout, b"Received b'it\\'s'\n", engine)
                self.assertEqual(r.returncode, 0, engine)
            with Serve("--engine", engine, "--protocol", "framed-echo") as server:
                r = run("send", server.target, "--framed", "one", "two words")
                self.assertEqual(r.stdout, b"Received b'one'\nReceived b'two words'\n", engine)
                self.assertEqual(r.returncode, 0, engine)

    def test_send_to_a_unix_socket(self):
        path = os.path.join(self.scratch(), "echo.sock")
        proc = subprocess.Popen([SOCKKIT, "serve", "--listen", f"unix:{path}"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.assertIn(f"unix:{path}", proc.stdout.readline())
        r = run("send", f"unix:{path}")
        proc.terminate()
        proc.communicate(timeout=TIMEOUT)
        self.assertEqual(r.stdout, b"Received b'Hello, world'\n")

    def test_send_exit_codes(self):
        # Refused: nothing listens on a port we just released.
        r = run("send", f"127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, rb"^sockkit send: connect 127\.0\.0\.1:\d+: Connection refused\n$")
        # A server that takes the message and never answers: the reply times out.
        with OneShotPeer(lambda peer, conn: peer.read_all(conn)) as peer:
            start = time.monotonic()
            r = run("send", peer.target, "--timeout", "300ms")
            elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"timed out", r.stderr)
        self.assertGreaterEqual(elapsed, 0.3)
        # A server that answers half and resets.
        def half_and_reset(peer, conn):
            conn.recv(100)
            conn.sendall(b"Hello")
            time.sleep(0.1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with OneShotPeer(half_and_reset) as peer:
            r = run("send", peer.target)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(b"5 of 12 bytes arrived", r.stderr)
        # A server that closes cleanly after half: closed early is a broken exchange too.
        def half_and_close(peer, conn):
            conn.recv(100)
            conn.sendall(b"Hello")
        with OneShotPeer(half_and_close) as peer:
            r = run("send", peer.target)
        self.assertEqual(r.returncode, 4, r.stderr)
        # --framed and a reply frame that declares 4 GiB.
        def hostile_frame(peer, conn):
            conn.recv(100)
            conn.sendall(b"\xff\xff\xff\xff")
            time.sleep(0.2)
        with OneShotPeer(hostile_frame) as peer:
            r = run("send", peer.target, "--framed")
        self.assertEqual(r.returncode, 5, r.stderr)

    def test_send_until_close_streams_a_gigabyte_in_bounded_memory(self):
        size, piece = 1 << 30, b"x" * (1 << 20)

        def flood(peer, conn):
            conn.recv(100)  # the message: unread, it would make the close a reset
            try:
                for _ in range(size // len(piece)):
                    conn.sendall(piece)
            except OSError:
                pass

        with OneShotPeer(flood) as peer:
            proc = subprocess.Popen([SOCKKIT, "send", peer.target, "--until-close"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            printed = 0
            while chunk := proc.stdout.read(1 << 20):
                printed += len(chunk)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            err = proc.stderr.read()
            proc.stderr.close()
            proc.stdout.close()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(printed, len("Received b''\n") + size)
        # ru_maxrss is in KiB: the whole reply held in memory would be over 1 GiB.
        self.assertLess(usage.ru_maxrss, 128 * 1024, "peak RSS of send --until-close")

    def test_send_until_close_prints_what_arrived_before_a_timeout_or_a_reset(self):
        def ten_mib_then_silence(peer, conn):
            conn.sendall(b"y" * (10 << 20))
            time.sleep(3)

        with OneShotPeer(ten_mib_then_silence) as peer:
            r = run("send", peer.target, "--until-close", "--timeout", "500ms")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, b"Received b'" + b"y" * (10 << 20) + b"'\n")
        self.assertIn(b"(10485760 bytes arrived)", r.stderr)

        def eighty_bytes_then_reset(peer, conn):
            conn.sendall(b"z" * 80)
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        with OneShotPeer(eighty_bytes_then_reset) as peer:
            r = run("send", peer.target, "--until-close")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stdout, b"Received b'" + b"z" * 80 + b"'\n")
        self.assertIn(b"(80 bytes arrived)", r.stderr)

    def test_send_bad_usage_exits_2_with_a_hint(self):
        for args, message in [(["127.0.0.1:99999"], b"port 99999 is out of range"),
                              (["127.0.0.1:x"], b"127.0.0.1:x"),
                              (["--hex", "127.0.0.1:1", "4g"], b"'4g' is not hex"),
                              (["--timeout", "soon"], b"--timeout: 'soon' is not a duration"),
                              (["--framed", "--until-close"], b"do not go together"),
                              (["--no-such-flag"], b"--no-such-flag")]:
            r = run("send", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr, args)
            self.assertIn(b"--help", r.stderr, args)
            self.assertEqual(r.stdout, b"", args)

    # --- connect ------------------------------------------------------------------------

    def test_connect_is_binary_safe_and_half_closes_against_nc(self):
        other = bytes(reversed(range(256))) * 40
        nc, port = start_listening_peer(lambda port: ["nc", "-N", "-l", "127.0.0.1", str(port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        writer = threading.Thread(target=lambda: (nc.stdin.write(other), nc.stdin.close()))
        writer.start()
        r = run("connect", f"127.0.0.1:{port}", data=ALL_BYTES)
        nc_out = nc.stdout.read()
        nc.wait(TIMEOUT)
        writer.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(nc_out, ALL_BYTES)   # all of ours, then our EOF ended nc's reading
        self.assertEqual(r.stdout, other)     # all of nc's, until it closed

    def test_connect_sends_all_its_input_to_socat_then_eof(self):
        socat, port = start_listening_peer(
            lambda port: ["socat", "-u", f"TCP-LISTEN:{port},reuseaddr", "-"],
            stdout=subprocess.PIPE)
        r = run("connect", f"127.0.0.1:{port}", data=ALL_BYTES)
        out, _ = socat.communicate(timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(out, ALL_BYTES)  # socat -u ends only at our EOF: the half-close

    def test_connect_echo_round_trip_keeps_reading_after_its_input_ends(self):
        # The whole echo comes back although our input ended first: the half-close keeps the
        # read side open until the server closes.
        for engine in ["iterative", "threaded", "epoll", "uring"]:
            with Serve("--engine", engine) as server:
                r = run("connect", server.target, data=ALL_BYTES * 16)
                self.assertEqual(r.returncode, 0, (engine, r.stderr))
                self.assertEqual(r.stdout, ALL_BYTES * 16, engine)

    def test_connect_listen_serves_one_peer_both_ways(self):
        proc = subprocess.Popen([SOCKKIT, "connect", "--listen", "127.0.0.1:0", "-v"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        line = proc.stderr.readline().decode()
        match = re.match(r"^Listening on 127\.0\.0\.1:(\d+)$", line.strip())
        self.assertTrue(match, line)
        port = int(match.group(1))
        proc.stdin.write(b"from the listener\x00\xff")
        proc.stdin.close()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
            client.sendall(ALL_BYTES)
            client.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := client.recv(65536):
                got += chunk
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(got, b"from the listener\x00\xff")
        self.assertEqual(out, ALL_BYTES)
        self.assertRegex(err.decode(), r"^Connection from 127\.0\.0\.1:\d+\n$")
        # The listener is gone: a second peer is refused, not left hanging.
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def test_connect_listen_on_a_bare_port_as_nc_l_does(self):
        proc = subprocess.Popen([SOCKKIT, "connect", "-l", "0"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        warning = proc.stderr.readline().decode()
        self.assertIn("warning: listening on every interface", warning)
        line = proc.stderr.readline().decode()
        match = re.match(r"^Listening on 0\.0\.0\.0:(\d+)$", line.strip())
        self.assertTrue(match, line)
        proc.stdin.close()
        with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=TIMEOUT) as c:
            c.sendall(b"a bare port")
            c.shutdown(socket.SHUT_WR)
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out, b"a bare port")

    def test_connect_z_only_finds_out_whether_a_connection_can_be_made(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            result = subprocess.run([SOCKKIT, "connect", "-z", "-v", f"127.0.0.1:{port}"],
                                    input=b"never sent", capture_output=True, timeout=TIMEOUT)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, b"")
            self.assertIn(f"Connected to 127.0.0.1:{port}", result.stderr.decode())
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                self.assertEqual(conn.recv(100), b"", "nothing sent, and closed")
        # Nobody listens there now: refused.
        result = subprocess.run([SOCKKIT, "connect", "-z", f"127.0.0.1:{port}"],
                                capture_output=True, timeout=TIMEOUT)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Connection refused", result.stderr.decode())

    def test_connect_4_and_6_keep_to_one_family(self):
        with socket.socket(socket.AF_INET6) as listener:
            listener.bind(("::1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            six = subprocess.run([SOCKKIT, "connect", "-6", "-z", "-v", f"[::1]:{port}"],
                                 capture_output=True, timeout=TIMEOUT)
            self.assertEqual(six.returncode, 0, six.stderr)
            self.assertIn(f"Connected to [::1]:{port}", six.stderr.decode())
        for flag, target, family in [("-4", "[::1]:80", "IPv4"), ("-6", "127.0.0.1:80", "IPv6")]:
            result = subprocess.run([SOCKKIT, "connect", flag, target], capture_output=True,
                                    timeout=TIMEOUT)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(f"{target} has no {family} address", result.stderr.decode())
        both = subprocess.run([SOCKKIT, "connect", "-4", "-6", "127.0.0.1:80"],
                              capture_output=True, timeout=TIMEOUT)
        self.assertEqual(both.returncode, 2)

    def test_connect_listen_accepts_socat_and_ncat(self):
        for client in [["socat", "-", "TCP:127.0.0.1:{port}"], ["ncat", "127.0.0.1", "{port}"]]:
            proc = subprocess.Popen([SOCKKIT, "connect", "--listen", "127.0.0.1:0"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            port = re.search(rb":(\d+)", proc.stderr.readline()).group(1).decode()
            tool = subprocess.run([a.format(port=port) for a in client], input=ALL_BYTES,
                                  capture_output=True, timeout=TIMEOUT)
            out, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(proc.returncode, 0, (client, err))
            self.assertEqual(tool.returncode, 0, (client, tool.stderr))
            self.assertEqual(out, ALL_BYTES, client[0])

    def test_connect_framed_sends_lines_as_frames_and_prints_frames_as_lines(self):
        with Serve("--protocol", "framed-echo") as server:
            r = run("connect", "--framed", server.target, data=b"first\nsecond line\nlast")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"first\nsecond line\nlast\n")
        # A frame holding a newline, a backslash, quotes or an escape sequence stays one line,
        # escaped as send prints bytes; nothing raw reaches the terminal.
        def tricky_frames(peer, conn):
            for payload in [b"two\nlines", b"back\\slash 'q' \"d\"", b"\x1b[2Jclear"]:
                conn.sendall(struct.pack("!I", len(payload)) + payload)
        with OneShotPeer(tricky_frames) as peer:
            r = run("connect", "--framed", peer.target)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"two\\nlines\nback\\\\slash 'q' \"d\"\n\\x1b[2Jclear\n")
        # An input line longer than --max-frame: exit 6, which means just that.
        with OneShotPeer(lambda peer, conn: peer.read_all(conn)) as peer:
            r = run("connect", "--framed", "--max-frame", "8", peer.target, data=b"far too long\n")
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn(b"an input line is longer than --max-frame (8 B)", r.stderr)
        # On the wire, a frame is a 4-byte big-endian length and the line without its newline.
        with OneShotPeer(lambda peer, conn: peer.read_all(conn)) as peer:
            r = run("connect", "--framed", peer.target, data=b"ab\n\ncd\n")
        self.assertEqual(peer.received, b"\0\0\0\x02ab\0\0\0\0\0\0\0\x02cd")

    def test_connect_wait_is_nc_w_both_timeouts(self):
        def silent(peer, conn):  # reads to the end, then neither answers nor closes
            peer.read_all(conn)
            time.sleep(5)

        with OneShotPeer(silent) as peer:
            start = time.monotonic()
            r = run("connect", "-w", "300ms", peer.target, data=b"hello")
            elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"no traffic with", r.stderr)
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 4, "-w ended it, not the peer")
        r = run("connect", "-w", "1s", "--idle-timeout", "2s", "127.0.0.1:9")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"excludes", r.stderr)

    def test_connect_exit_codes(self):
        r = run("connect", f"127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"Connection refused", r.stderr)
        # Idle: nothing either way for the idle timeout.
        with OneShotPeer(lambda peer, conn: peer.read_all(conn)) as peer:
            silent_input, keep_open = os.pipe()  # an input that never ends nor speaks
            proc = subprocess.Popen([SOCKKIT, "connect", peer.target, "--idle-timeout", "300ms"],
                                    stdin=silent_input, stderr=subprocess.PIPE)
            start = time.monotonic()
            _, err = proc.communicate(timeout=TIMEOUT)
            elapsed = time.monotonic() - start
            os.close(silent_input)
            os.close(keep_open)
        self.assertEqual(proc.returncode, 3, err)
        self.assertIn(b"no traffic", err)
        self.assertGreaterEqual(elapsed, 0.3)
        # Reset by the peer.
        def reset(peer, conn):
            conn.recv(10)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with OneShotPeer(reset) as peer:
            proc = subprocess.Popen([SOCKKIT, "connect", peer.target], stdin=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            proc.stdin.write(b"x")
            proc.stdin.flush()
            _, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 4, err)
        self.assertIn(b"reset", err)
        # --framed and a frame that declares more than --max-frame.
        def hostile(peer, conn):
            conn.sendall(b"\0\0\x10\0" + b"x" * 100)
            time.sleep(0.2)
        with OneShotPeer(hostile) as peer:
            r = run("connect", "--framed", "--max-frame", "1KiB", peer.target)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"4096 bytes, above --max-frame (1 KiB)", r.stderr)
        # --framed and a peer that stops inside a frame.
        with OneShotPeer(lambda peer, conn: conn.sendall(b"\0\0\0\x09abc")) as peer:
            r = run("connect", "--framed", peer.target)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(b"(3 of 9 payload bytes)", r.stderr)

    def test_a_connect_timeout_is_exit_3_for_both_clients(self):
        # A listener that never accepts and whose queue is full drops new SYNs: a black hole
        # on loopback, no namespace needed.
        with socket.create_server(("127.0.0.1", 0), backlog=0) as hole:
            target = "127.0.0.1:%d" % hole.getsockname()[1]
            fillers = []
            try:
                for _ in range(8):  # until the queue is full and a connect stalls
                    filler = socket.socket()
                    fillers.append(filler)
                    filler.settimeout(0.3)
                    try:
                        filler.connect(hole.getsockname())
                    except (socket.timeout, TimeoutError):
                        break
                else:
                    self.fail("the accept queue never filled")
                for command in ["send", "connect"]:
                    start = time.monotonic()
                    r = run(command, target, "--connect-timeout", "300ms")
                    elapsed = time.monotonic() - start
                    self.assertEqual(r.returncode, 3, (command, r.stderr))
                    self.assertIn(b"timed out", r.stderr, command)
                    self.assertGreaterEqual(elapsed, 0.3, command)
            finally:
                for filler in fillers:
                    filler.close()

    def test_connect_bad_usage_exits_2(self):
        for args, message in [([], b"give ADDR"),
                              (["127.0.0.1:1", "--listen", "127.0.0.1:0"], b"not both"),
                              (["127.0.0.1:70000"], b"out of range"),
                              (["-u", "--framed", "127.0.0.1:1"], b"--framed is for streams"),
                              (["-u", "unix:/tmp/x"], b"UDP needs an IP address"),
                              (["--idle-timeout", "-1s", "127.0.0.1:1"], b"--idle-timeout")]:
            r = run("connect", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)

    def test_connect_udp_both_ways(self):
        # Against a Python UDP echo: each input read is one datagram, and the reply printed.
        echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        echo.bind(("127.0.0.1", 0))
        echo.settimeout(TIMEOUT)
        def serve_echo():
            data, sender = echo.recvfrom(65536)
            echo.sendto(data.upper(), sender)
        thread = threading.Thread(target=serve_echo)
        thread.start()
        r = run("connect", "-u", f"127.0.0.1:{echo.getsockname()[1]}", data=b"datagram\x00")
        thread.join(TIMEOUT)
        echo.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"DATAGRAM\x00")
        # As a listener: the first sender is the peer.
        proc = subprocess.Popen([SOCKKIT, "connect", "-u", "--listen", "127.0.0.1:0"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        port = int(re.search(rb":(\d+) \(udp\)", proc.stderr.readline()).group(1))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(TIMEOUT)
            client.sendto(b"hello listener", ("127.0.0.1", port))
            proc.stdin.write(b"hello client")
            proc.stdin.flush()
            self.assertEqual(client.recvfrom(100)[0], b"hello client")
            proc.stdin.close()
        out = proc.stdout.read()
        proc.wait(TIMEOUT)
        self.assertEqual(out, b"hello listener")
        self.assertEqual(proc.returncode, 0)
        # Nothing listening: the kernel's port-unreachable becomes exit 1.
        r = run("connect", "-u", f"127.0.0.1:{free_port()}", data=b"anyone?")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"nothing listens", r.stderr)

    def test_every_command_has_help_with_examples(self):
        for command in ["serve", "send", "connect", "bench", "compare", "proxy"]:
            r = run(command, "--help")
            self.assertEqual(r.returncode, 0, command)
            self.assertIn(b"Examples:", r.stdout, command)
            self.assertIn(b"Exit status", r.stdout, command)
        r = run("--version")
        self.assertRegex(r.stdout, rb"^sockkit \d+\.\d+\.\d+\n$")
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--help", r.stderr)

    def scratch(self):
        directory = tempfile.mkdtemp(prefix="sockkit-cli-")
        self.addCleanup(shutil.rmtree, directory, True)
        return directory


if __name__ == "__main__":
    unittest.main()
