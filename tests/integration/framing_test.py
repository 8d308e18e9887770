"""Frames between sockkit and Python's struct module, over real loopback sockets, both ways:
Python's struct.pack('!I', len(p)) + p frames are decoded by sockkit's FramedEcho, and
sockkit's send_frame frames are decoded by Python. Hostile and truncated input too.

Run by CTest, one test case per CTest test: framing_test.py FramingTest.test_...
SOCKKIT_BIN_DIR names the directory holding frame_peer."""

import os
import random
import re
import socket
import struct
import subprocess
import threading
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
TIMEOUT = 10


def frame(payload):
    return struct.pack("!I", len(payload)) + payload


def recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def recv_frame(sock):
    """One frame's payload, or None when the peer closed between frames."""
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            if header:
                raise EOFError(f"closed after {len(header)} header bytes")
            return None
        header += chunk
    (length,) = struct.unpack("!I", header)
    return recv_exact(sock, length)


class FramePeerServer:
    """frame_peer serve: sockkit's FramedEcho serving one client."""

    def __init__(self):
        self.proc = subprocess.Popen([os.path.join(BIN, "frame_peer"), "serve"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"^Listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not match:
            raise AssertionError(f"frame_peer did not start: {line!r}")
        self.port = int(match.group(1))

    def finish(self):
        out, err = self.proc.communicate(timeout=TIMEOUT)
        assert self.proc.returncode == 0, err
        return out.strip()


class FramingTest(unittest.TestCase):
    def test_python_frames_decode_in_sockkit(self):
        server = FramePeerServer()
        rng = random.Random(1)
        payloads = [b"", b"hello", bytes(rng.randrange(256) for _ in range(100_000)), b"", b"x"]
        stream = b"".join(frame(p) for p in payloads)
        echoed = []
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Read in a thread, so neither side can block the other with full buffers.
            reader = threading.Thread(
                target=lambda: echoed.extend(iter(lambda: recv_frame(s), None)))
            reader.start()
            pos = 0
            while pos < len(stream):  # small random writes split headers across segments
                n = rng.choice([1, 2, 3, 5, 7, 4096, 16384])
                s.sendall(stream[pos:pos + n])
                pos += n
            s.shutdown(socket.SHUT_WR)
            reader.join(TIMEOUT)
        self.assertEqual(echoed, payloads)
        self.assertEqual(server.finish(), "closed: peer_closed")

    def test_sockkit_frames_decode_in_python(self):
        payloads = [b"", b"\x00\x01\xff", b"frame" * 1000]
        received = []
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            listener.settimeout(TIMEOUT)

            def serve():  # a framed echo in Python
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(TIMEOUT)
                    while (payload := recv_frame(conn)) is not None:
                        received.append(payload)
                        conn.sendall(frame(payload))

            thread = threading.Thread(target=serve)
            thread.start()
            result = subprocess.run(
                [os.path.join(BIN, "frame_peer"), "send", str(listener.getsockname()[1])]
                + [p.hex() for p in payloads],
                capture_output=True, text=True, timeout=TIMEOUT)
            thread.join(TIMEOUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(received, payloads)
        self.assertEqual(result.stdout.splitlines(), [f"frame {p.hex()}" for p in payloads])

    def test_hostile_prefix_closes_the_connection(self):
        for hostile in [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00" + b"\x00" * 16,
                        b"\xff\xff\xff\xff" + b"\x00" * 16, struct.pack("!I", 1024 * 1024 + 1)]:
            server = FramePeerServer()
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
                s.sendall(frame(b"before") + hostile)
                self.assertEqual(recv_frame(s), b"before")
                self.assertIsNone(recv_frame(s), "the server must close, echoing nothing more")
            self.assertEqual(server.finish(), "closed: frame_too_large")

    def test_truncated_frame_is_never_echoed(self):
        server = FramePeerServer()
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            s.sendall(struct.pack("!I", 100) + b"y" * 50)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(s.recv(1024), b"")
        self.assertEqual(server.finish(), "closed: truncated")


if __name__ == "__main__":
    unittest.main()
