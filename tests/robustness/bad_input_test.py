"""Bad input (B): hostile length prefixes, zero-length and truncated frames,
arbitrary segmentation, garbage and other protocols.

A group of the robustness suite: how it runs is in harness.py and docs/robustness.md.
CTest runs each case alone: bad_input_test.py BadInputTest.test_..."""

import os
import random
import socket
import struct
import subprocess
import threading
import time
import unittest

from harness import (SANITIZED, SOCKKIT, Canary, RobustnessCase, Server, closed_by, echo,
                     ends_within, frame, report)



class BadInputTest(RobustnessCase):
    def test_b1_hostile_length_prefixes(self):
        prefixes = [(1 << 20) + 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x47455420, 0x16030100]
        for engine in self.engines():
            with Server(engine, "--protocol", "framed-echo", "--max-frame", "1MiB") as server:
                hwm_before = server.status_kib("VmHWM")
                slowest = 0.0
                for prefix in prefixes:
                    c = server.connect()
                    started = time.monotonic()
                    c.sendall(struct.pack("!I", prefix) + b"\x00" * 16)
                    self.assertIsNotNone(ends_within(c, 1), hex(prefix))
                    slowest = max(slowest, time.monotonic() - started)
                    c.close()
                growth = server.status_kib("VmHWM") - hwm_before
                control = server.connect()
                body = os.urandom(1 << 20)
                control_thread = threading.Thread(target=lambda: control.sendall(frame(body)))
                control_thread.start()
                back = b""
                while len(back) < len(body) + 4:
                    chunk = control.recv(1 << 20)
                    self.assertTrue(chunk)
                    back += chunk
                control_thread.join(10)
                self.assertEqual(back, frame(body))
                control.close()
                report("B1", engine=engine, slowest_close_ms=round(slowest * 1000, 1),
                       hwm_growth_kib=growth)
                self.assertLess(slowest, 0.5)
                if not SANITIZED:
                    self.assertLessEqual(growth, 256)
                stats = server.wait_stats(lambda s: closed_by(s, "frame_too_large") >= 6, 3)
                self.assertIsNotNone(stats)
                self.assertEqual(closed_by(stats, "frame_too_large"), 6)
                self.audit(server)

    def test_b2_zero_length_frames(self):
        for engine in self.engines():
            with Server(engine, "--protocol", "framed-echo") as server:
                c = server.connect()
                self.assertEqual(echo(c, frame(b"") + frame(b"hello")), frame(b"") + frame(b"hello"))
                before = server.rss_kib()
                burst = frame(b"") * 100_000
                sender = threading.Thread(target=lambda: c.sendall(burst))
                sender.start()
                back = b""
                while len(back) < len(burst):
                    chunk = c.recv(1 << 20)
                    self.assertTrue(chunk)
                    back += chunk
                sender.join(10)
                self.assertEqual(back, burst)
                if not SANITIZED:
                    self.assertLessEqual(server.rss_kib() - before, 1024)
                self.assertEqual(echo(c, frame(b"still")), frame(b"still"))
                c.close()
                self.audit(server)

    def test_b3_truncated_frames(self):
        for engine in self.engines():
            with Server(engine, "--protocol", "framed-echo", "--frame-timeout", "1s") as server:
                for stream in (struct.pack("!I", 100) + b"t" * 50, b"\x00\x00"):
                    c = server.connect()
                    c.sendall(stream)
                    c.shutdown(socket.SHUT_WR)
                    started = time.monotonic()
                    c.settimeout(1)
                    self.assertEqual(c.recv(1000), b"", "a partial frame was echoed")
                    self.assertLess(time.monotonic() - started, 0.5)
                    c.close()
                waiting = server.connect()
                waiting.sendall(struct.pack("!I", 100) + b"t" * 50)  # and no FIN
                self.assertIsNotNone(ends_within(waiting, 1 + 1))
                waiting.close()
                stats = server.wait_stats(lambda s: closed_by(s, "truncated") >= 2 and
                                          closed_by(s, "frame_timeout") >= 1, 3)
                self.assertIsNotNone(stats, server.latest)
                self.audit(server)

    def test_b4_arbitrary_segmentation(self):
        rng = random.Random(4)
        frames = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 512))) for _ in range(400)]
        stream = b"".join(frame(f) for f in frames)
        for engine in self.engines():
            with Server(engine, "--protocol", "framed-echo") as server:
                proxy = subprocess.Popen([SOCKKIT, "proxy", "--to", server.target, "--slice", "1-7",
                                          "--direction", "up"], stdout=subprocess.PIPE, text=True)
                try:
                    proxy_target = proxy.stdout.readline().split()[1]
                    host, port = proxy_target.rsplit(":", 1)
                    ways = {"one_byte_writes": server.address, "sliced_by_the_proxy": (host, int(port)),
                            "one_write": server.address}
                    for way, address in ways.items():
                        c = socket.create_connection(address, timeout=10)
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

                        def send(c=c, way=way):
                            if way == "one_byte_writes":
                                for i in range(len(stream)):
                                    c.send(stream[i:i + 1])
                            else:
                                c.sendall(stream)
                            c.shutdown(socket.SHUT_WR)

                        sender = threading.Thread(target=send)
                        sender.start()
                        back = b""
                        while chunk := c.recv(65536):
                            back += chunk
                        sender.join(30)
                        c.close()
                        self.assertEqual(back, stream, way)
                finally:
                    proxy.terminate()
                    proxy.communicate(timeout=10)
                self.audit(server)

    def test_b5_garbage_and_cross_protocol_input(self):
        rng = random.Random(5)
        inputs = {"http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                  "tls_hello": bytes.fromhex("16030100a5010000a10303") + bytes(rng.getrandbits(8) for _ in range(160)),
                  "random_1mib": bytes(rng.getrandbits(8) for _ in range(1 << 20))}
        for engine in self.engines():
            with Server(engine, "--protocol", "framed-echo", "-v") as server:
                canary = Canary(server.address)  # raw bytes: a 64-byte "frame" length is huge too
                canary.stop()
                for name, data in inputs.items():
                    c = server.connect()
                    try:
                        c.sendall(data)
                    except (ConnectionResetError, BrokenPipeError):
                        pass
                    self.assertIsNotNone(ends_within(c, 1), name)
                    c.close()
                time.sleep(0.2)
                log = "".join(server.stderr)
                for raw in ("\x1b", "\r", "\x00"):
                    self.assertNotIn(raw, log)
                for line in server.stderr:
                    self.assertLessEqual(len(line.encode()), 512, line)
                self.assertTrue(server.alive())
                self.audit(server)


if __name__ == "__main__":
    unittest.main()
