"""The tutorial's programs (examples/) as processes, against each other, against Python's
socket module, and against nc and socat, in both directions. Loopback only; every port is
chosen by the kernel (port 0); every wait has a timeout.

Run by CTest, one test case per CTest test: examples_test.py ExamplesTest.test_...
SOCKKIT_BIN_DIR names the directory holding the example binaries."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
TIMEOUT = 10  # seconds, for any one process or socket wait


def binary(name):
    return os.path.join(BIN, name)


def start(args, **kwargs):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def read_line_matching(stream, pattern, what):
    """Reads lines from `stream` until one matches `pattern`; returns the match."""
    deadline = time.monotonic() + TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        line = line.decode(errors="replace").rstrip("\n")
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"{what}: no line matching {pattern!r}; saw {seen!r}")


def start_echo_server(name="echo_server", host="127.0.0.1"):
    """Starts an example server on port 0; returns (process, port)."""
    proc = start([binary(name), host, "0"])
    match = read_line_matching(proc.stdout, r"^Listening on (?:\[[^\]]+\]|[^:]+):(\d+)$", name)
    return proc, int(match.group(1))


def python_echo_client(port, message=b"Hello, world", host="127.0.0.1"):
    """The tutorial's client, written as it should be: sendall, then recv until all is back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect((host, port))
        s.sendall(message)
        received = b""
        while len(received) < len(message):
            chunk = s.recv(1024)
            if not chunk:
                break
            received += chunk
        return received, s.getsockname()


class PythonEchoServer:
    """The tutorial's server in Python, on a free port, serving one client in a thread."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                self.received += data
                conn.sendall(data)

    def close(self):
        self.thread.join(TIMEOUT)
        self.sock.close()


def run(args, stdin=None, timeout=TIMEOUT):
    return subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)


class ExamplesTest(unittest.TestCase):
    def finish(self, proc):
        """Waits for an example server to exit; returns (exit code, stdout rest, stderr)."""
        out, err = proc.communicate(timeout=TIMEOUT)
        return proc.returncode, out.decode(), err.decode()

    def test_client_against_server(self):
        server, port = start_echo_server()
        client = run([binary("echo_client"), "127.0.0.1", str(port)])
        self.assertEqual(client.returncode, 0, client.stderr)
        self.assertEqual(client.stdout.decode(), "Received b'Hello, world'\n")
        code, out, err = self.finish(server)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^Connected by 127\.0\.0\.1:\d+\n$")

    def test_client_against_server_over_ipv6(self):
        server, port = start_echo_server(host="::1")
        client = run([binary("echo_client"), "::1", str(port)])
        self.assertEqual(client.stdout.decode(), "Received b'Hello, world'\n", client.stderr)
        code, out, _ = self.finish(server)
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^Connected by \[::1\]:\d+\n$")

    def test_server_against_python_client(self):
        server, port = start_echo_server()
        received, (_, client_port) = python_echo_client(port)
        self.assertEqual(received, b"Hello, world")
        code, out, err = self.finish(server)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, f"Connected by 127.0.0.1:{client_port}\n")

    def test_client_against_python_server(self):
        server = PythonEchoServer()
        client = run([binary("echo_client"), "127.0.0.1", str(server.port)])
        server.close()
        self.assertEqual(client.returncode, 0, client.stderr)
        self.assertEqual(client.stdout.decode(), "Received b'Hello, world'\n")
        self.assertEqual(server.received, b"Hello, world")

    def test_client_prints_what_python_prints(self):
        for message in ["it's", 'both \' and "', "back\\slash", "tab\tnew\nline", "héllo", "x"]:
            server = PythonEchoServer()
            client = run([binary("echo_client"), "127.0.0.1", str(server.port), message])
            server.close()
            self.assertEqual(client.stdout.decode(), f"Received {message.encode()!r}\n")

    def test_server_against_nc_client(self):
        server, port = start_echo_server()
        data = os.urandom(256 * 1024)  # binary, and far more than one recv
        # -N: after stdin ends, shut down the write side and keep reading the echo.
        nc = run(["nc", "-N", "127.0.0.1", str(port)], stdin=data)
        self.assertEqual(nc.returncode, 0, nc.stderr)
        self.assertEqual(nc.stdout, data)
        self.assertEqual(self.finish(server)[0], 0)

    def test_server_against_socat_client(self):
        server, port = start_echo_server()
        data = os.urandom(256 * 1024)
        socat = run(["socat", "-t", "5", "-", f"TCP:127.0.0.1:{port}"], stdin=data)
        self.assertEqual(socat.returncode, 0, socat.stderr)
        self.assertEqual(socat.stdout, data)
        self.assertEqual(self.finish(server)[0], 0)

    def test_client_against_nc_server(self):
        # nc -l sends its stdin to the client and prints what the client sends.
        nc = start(["nc", "-v", "-l", "127.0.0.1", "0"], stdin=subprocess.PIPE)
        port = int(read_line_matching(nc.stderr, r"^Listening on \S+ (\d+)$", "nc").group(1))
        nc.stdin.write(b"Hello, world")
        nc.stdin.close()
        client = run([binary("echo_client"), "127.0.0.1", str(port)])
        self.assertEqual(client.returncode, 0, client.stderr)
        self.assertEqual(client.stdout.decode(), "Received b'Hello, world'\n")
        nc.wait(timeout=TIMEOUT)  # nc ends once the client has closed
        self.assertEqual(nc.stdout.read(), b"Hello, world")

    def test_client_against_socat_server(self):
        socat = start(["socat", "-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1", "EXEC:cat"])
        port = int(read_line_matching(socat.stderr, r"listening on .*:(\d+)$", "socat").group(1))
        client = run([binary("echo_client"), "127.0.0.1", str(port), "via socat"])
        self.assertEqual(client.returncode, 0, client.stderr)
        self.assertEqual(client.stdout.decode(), "Received b'via socat'\n")
        socat.communicate(timeout=TIMEOUT)

    def test_threaded_server_serves_clients_at_once(self):
        server, port = start_echo_server("threaded_echo_server")
        try:
            # All five are connected before any of them is served: an iterative server
            # would never answer the last one while the first stays open.
            clients = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                       for _ in range(5)]
            for i, c in reversed(list(enumerate(clients))):
                message = f"client {i}".encode() * 1000
                c.sendall(message)
                received = b""
                while len(received) < len(message):
                    chunk = c.recv(65536)
                    self.assertTrue(chunk, "server closed early")
                    received += chunk
                self.assertEqual(received, message)
            for c in clients:
                c.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=TIMEOUT)
        self.assertEqual(server.returncode, -signal.SIGINT)

    def test_client_reports_connection_refused(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: connects are refused
            client = run([binary("echo_client"), "127.0.0.1", str(port)])
        self.assertEqual(client.returncode, 1)
        self.assertEqual(client.stderr.decode(),
                         f"echo_client: connect 127.0.0.1:{port}: Connection refused\n")

    def test_server_reports_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            server = run([binary("echo_server"), "127.0.0.1", str(port)])
        self.assertEqual(server.returncode, 1)
        self.assertEqual(server.stderr.decode(),
                         f"echo_server: bind 127.0.0.1:{port}: Address already in use\n")

    def test_bad_arguments_get_a_clear_error(self):
        for args, message in [
            (["127.0.0.1", "99999"], "port 99999 is out of range (0-65535)"),
            (["127.0.0.1", "no-such-service"],
             "port 'no-such-service' is neither a number nor a service name"),
            (["bad host!", "80"], "neither an IP address nor a host name"),
        ]:
            for name in ["echo_server", "echo_client"]:
                result = run([binary(name)] + args)
                self.assertEqual(result.returncode, 1)
                self.assertIn(message, result.stderr.decode())


if __name__ == "__main__":
    unittest.main()
