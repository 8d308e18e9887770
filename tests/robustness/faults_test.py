"""Faults (F): resets mid-stream, SIGPIPE, signal storms, partial writes and pauses,
chaos through the fault proxy, restarts under load, small io_uring rings.

A group of the robustness suite: how it runs is in harness.py and docs/robustness.md.
CTest runs each case alone: faults_test.py FaultsTest.test_..."""

import ctypes
import hashlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from harness import (SANITIZED, SOAK, SOCKKIT, TIMEOUT, RobustnessCase, Server, closed_by,
                     closed_total, echo, ends_within, report, run_bench)


libc = ctypes.CDLL(None, use_errno=True)
libc = ctypes.CDLL(None, use_errno=True)
# tgkill(2), a signal to one thread of another process (F3); not in Python's os module.
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[os.uname().machine]


class FaultsTest(RobustnessCase):
    def test_f1_peer_reset_mid_stream_repeated(self):
        count = 10_000 if SOAK else 1_000
        for engine in self.engines():
            with Server(engine) as server:
                before = server.rss_kib()
                data = os.urandom(256 << 10)
                for _ in range(count):
                    c = server.connect()
                    c.setblocking(False)
                    try:
                        c.send(data)
                    except BlockingIOError:
                        pass
                    c.setblocking(True)
                    c.settimeout(5)
                    c.recv(4096)
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                self.audit(server)
                stats = server.wait_stats(lambda s: closed_total(s) >= count, 5)
                self.assertIsNotNone(stats)
                resets = closed_by(stats, "peer_reset")
                report("F1", engine=engine, resets=count, counted_peer_reset=resets,
                       rss_growth_kib=server.rss_kib() - before)
                self.assertGreaterEqual(resets, count * 0.99)
                if not SANITIZED:
                    self.assertLessEqual(server.rss_kib() - before, 5 * 1024)
                self.assertLessEqual(len(server.stderr), count // 100 + 5)

    def test_f2_sigpipe_never_kills_the_server(self):
        for engine in self.engines():
            # Popen restores SIGPIPE to its default in the child: the server is not helped
            # by an inherited SIG_IGN.
            with Server(engine) as server:
                for _ in range(50):
                    c = server.connect()
                    c.sendall(os.urandom(64 << 10))
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                time.sleep(0.3)
                self.assertTrue(server.alive(), "the server died (SIGPIPE?)")
                probe = server.connect()
                self.assertEqual(echo(probe, b"alive"), b"alive")
                probe.close()
                code, _ = server.stop()
                self.assertEqual(code, 0)

    def test_f3_a_signal_storm_interrupts_every_wait_and_loses_nothing(self):
        # SIGUSR1 has a handler in serve (it prints a stats line) and lands on the engine's
        # own threads, so their epoll_wait, io_uring_enter, accept, read and write calls are
        # interrupted (EINTR) about a thousand times a second while 200 clients are served.
        connections, seconds = (200, 30) if SOAK else (200, 4)
        for engine in self.engines(["epoll", "uring", "threaded"]):
            with Server(engine, "--max-connections", "1000") as server:
                with open(f"/proc/{server.pid}/status") as f:
                    caught = int(next(l for l in f if l.startswith("SigCgt:")).split()[1], 16)
                self.assertTrue(caught & (1 << (signal.SIGUSR1 - 1)), "no SIGUSR1 handler")
                sent = 0
                storming = True

                def storm():
                    # A signal sent to the process goes to its main thread whenever that
                    # one can take it, so the storm is aimed at each thread in turn
                    # (tgkill): every engine loop and client thread gets its share.
                    nonlocal sent
                    while storming:
                        for tid in os.listdir(f"/proc/{server.pid}/task"):
                            if not storming:
                                break
                            if libc.syscall(SYS_TGKILL, server.pid, int(tid), signal.SIGUSR1) == 0:
                                sent += 1
                            time.sleep(0.001)

                stormer = threading.Thread(target=storm)
                lines_before = server.stats_lines
                started = time.monotonic()
                stormer.start()
                try:
                    bench = run_bench(server.target, "-c", str(connections), "-s", "1-16KiB",
                                      "-d", f"{seconds}s", "--warmup", "0s",
                                      timeout=seconds + 60)
                finally:
                    storming = False
                    stormer.join()
                elapsed = time.monotonic() - started
                time.sleep(0.3)  # the last signals' lines
                lines = server.stats_lines - lines_before
                report("F3", engine=engine, signals=sent, per_s=round(sent / elapsed),
                       stats_lines=lines)
                self.assertEqual(bench.returncode, 0, bench.stdout + bench.stderr)
                self.assertIn("errors     none", bench.stdout)
                self.assertTrue(server.alive())
                # Signals that arrive together make one line, but far more than the
                # interval's own lines (one each 100 ms) came.
                self.assertGreater(lines, 2 * elapsed * 10)
                code, stats = server.stop()
                self.assertEqual(code, 0)
                self.assertEqual(stats["accepted"], connections)
                self.assertEqual(closed_total(stats), stats["accepted"])

    def test_f4_partial_writes_and_a_long_pause_without_a_busy_loop(self):
        size = (100 << 20) if SOAK else (4 << 20)
        for engine in self.engines():
            with Server(engine, "--socket-send-buffer", "4KiB") as server:
                c = socket.socket()
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.settimeout(10)
                c.connect(server.address)
                payload = os.urandom(size)
                sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
                sender.start()
                rng = random.Random(44)
                back = bytearray()
                cpu = None
                while True:
                    if cpu is None and len(back) >= size // 2:
                        before = server.cpu_seconds()
                        time.sleep(3)  # every buffer on the way fills; the server must wait quietly
                        cpu = server.cpu_seconds() - before
                    chunk = c.recv(rng.randint(1, 4096))
                    if not chunk:
                        break
                    back += chunk
                    if rng.random() < 0.01:
                        time.sleep(rng.uniform(0, 0.005))
                sender.join(30)
                c.close()
                report("F4", engine=engine, bytes=size, cpu_during_pause_s=cpu)
                self.assertEqual(hashlib.sha256(back).digest(), hashlib.sha256(payload).digest())
                self.assertLessEqual(cpu, 0.15, "the server spun while the client paused")
                self.audit(server)

    def test_f5_chaos_through_the_fault_proxy(self):
        toxics = {
            "latency": ["--latency", "20ms", "--jitter", "10ms"],
            "bandwidth": ["--bandwidth", "2MiB/s"],
            "slicer": ["--slice", "1-64", "--slice-delay", "0"],
        }
        for engine in self.engines():
            with Server(engine) as server:
                for name, faults in toxics.items():
                    proxy = subprocess.Popen([SOCKKIT, "proxy", "--to", server.target, *faults],
                                             stdout=subprocess.PIPE, text=True)
                    try:
                        target = proxy.stdout.readline().split()[1]
                        bench = run_bench(target, "-c", "50", "-s", "1-4KiB", "-d", "2s",
                                          "--warmup", "0s")
                        self.assertEqual(bench.returncode, 0, name + bench.stdout + bench.stderr)
                        self.assertIn("errors     none", bench.stdout, name)
                    finally:
                        proxy.terminate()
                        proxy.communicate(timeout=10)
                # Cutting toxics: the server closes its side and holds nothing after.
                for name, faults in {"cut": ["--cut-after", "10KiB"],
                                     "reset": ["--reset-after", "300ms"]}.items():
                    proxy = subprocess.Popen([SOCKKIT, "proxy", "--to", server.target, *faults],
                                             stdout=subprocess.PIPE, text=True)
                    try:
                        host, port = proxy.stdout.readline().split()[1].rsplit(":", 1)
                        clients = [socket.create_connection((host, int(port)), timeout=5)
                                   for _ in range(20)]
                        for c in clients:
                            try:
                                c.sendall(os.urandom(32 << 10))
                            except OSError:
                                pass
                        for c in clients:
                            self.assertIsNotNone(ends_within(c, 3), name)
                            c.close()
                    finally:
                        proxy.terminate()
                        proxy.communicate(timeout=10)
                    self.assertIsNotNone(server.wait_stats(lambda s: s["active"] == 0, 3), name)
                self.audit(server)

    def test_f6_the_load_generator_rides_through_a_server_restart(self):
        # (a) and (b), refused and black-holed connects, are client_commands_test.py's.
        connections = 10
        for engine in self.engines():
            first = Server(engine)
            address = first.target
            bench = subprocess.Popen([SOCKKIT, "bench", address, "-c", str(connections),
                                      "-d", "3s", "--warmup", "0s", "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1)
                first.proc.kill()
                killed = time.monotonic()
                first.kill()
                time.sleep(0.5)
                with Server(engine, listen=address) as second:
                    down = time.monotonic() - killed
                    out, err = bench.communicate(timeout=TIMEOUT)
                    code, stats = second.stop()
            finally:
                first.kill()
                if bench.poll() is None:
                    bench.kill()
                    bench.communicate()
            result = json.loads(out)
            errors = result["errors"]
            report("F6", engine=engine, down_ms=round(down * 1000),
                   connect_errors=errors["connect_errors"], resets=errors["resets"],
                   early_closes=errors["early_closes"], connects=result["connects"])
            self.assertEqual(bench.returncode, 1, "errors make a non-zero exit: " + err)
            # Every connection lost its server once, then was refused until the new one
            # listened, retrying every 100 ms (+ up to 20 ms of housekeeping), then got back.
            self.assertEqual(errors["resets"] + errors["early_closes"], connections)
            self.assertGreaterEqual(errors["connect_errors"], connections)
            self.assertLessEqual(errors["connect_errors"], connections * (down / 0.1 + 1))
            self.assertEqual(errors["mismatches"] + errors["other"], 0)
            self.assertEqual(result["connects"], 2 * connections)
            self.assertEqual(code, 0)
            self.assertEqual(stats["accepted"], connections)
            self.assertGreater(stats["bytes_out"], 0)

    def test_f7_io_uring_small_rings_and_stop_in_flight(self):
        for engine in self.engines(["uring"]):
            for sizes in (["--uring-queue-depth", "8"],
                          ["--uring-buffers", "4", "--uring-buffer-size", "4KiB"]):
                with Server(engine, *sizes) as server:
                    bench = run_bench(server.target, "-c", "200", "-s", "1-16KiB", "-d", "2s",
                                      "--warmup", "0s")
                    self.assertEqual(bench.returncode, 0, bench.stdout + bench.stderr)
                    self.assertIn("errors     none", bench.stdout, sizes)
                    self.audit(server)
            with Server(engine, "--drain-timeout", "500ms") as server:
                load = subprocess.Popen([SOCKKIT, "bench", server.target, "-c", "100", "-d", "10s",
                                         "--warmup", "0s"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                time.sleep(1)
                started = time.monotonic()
                code, _ = server.stop()
                elapsed = time.monotonic() - started
                load.kill()
                load.wait(10)
                self.assertEqual(code, 0)
                self.assertLess(elapsed, 0.5 + 1)


if __name__ == "__main__":
    unittest.main()
