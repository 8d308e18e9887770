"""The servers sockkit is compared against (bench/peers/) must echo correctly, or a
comparison could flatter a broken one: each answers `sockkit bench` with every byte checked,
in ping-pong with random sizes and in pipelined streams. Loopback, kernel-chosen ports,
bounded runs. Registered only in builds with -DSOCKKIT_BUILD_PEERS=ON (the release preset).

Run by CTest, one test case per CTest test: peers_test.py PeersTest.test_..."""

import os
import re
import subprocess
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/release/bin")
TIMEOUT = 60
SOCKKIT = os.path.join(BIN, "sockkit")


def check_peer(test, name):
    server = subprocess.Popen([os.path.join(BIN, name), "0"], stdout=subprocess.PIPE, text=True)
    try:
        match = re.match(r"^Listening on (\S+)$", server.stdout.readline().strip())
        test.assertTrue(match, f"{name} did not start")
        for args in [["-m", "pingpong", "-s", "1-64KiB", "-c", "20", "-d", "500ms"],
                     ["-m", "pingpong", "-s", "64", "-c", "200", "-d", "300ms"],
                     ["-m", "stream", "-s", "64KiB", "--window", "1MiB", "-c", "4", "-d", "500ms"]]:
            bench = subprocess.run([SOCKKIT, "bench", match.group(1), "--warmup", "0s", *args],
                                   capture_output=True, text=True, timeout=TIMEOUT)
            test.assertEqual(bench.returncode, 0, f"{name} {args}\n{bench.stdout}{bench.stderr}")
            test.assertIn("errors     none", bench.stdout, f"{name} {args}")
            test.assertRegex(bench.stdout, r"result mode=\w+ connections=\d+ messages_per_sec=[1-9]")
        test.assertIsNone(server.poll(), f"{name} exited during the checks")
    finally:
        server.kill()
        server.communicate(timeout=TIMEOUT)


class PeersTest(unittest.TestCase):
    def test_epoll_floor_echoes_every_byte(self):
        check_peer(self, "epoll_echo_floor")

    def test_uring_floor_echoes_every_byte(self):
        check_peer(self, "uring_echo_floor")

    def test_asio_peer_echoes_every_byte(self):
        check_peer(self, "asio_echo")

    def test_libuv_peer_echoes_every_byte(self):
        check_peer(self, "libuv_echo")

    def test_libevent_peer_echoes_every_byte(self):
        check_peer(self, "libevent_echo")


if __name__ == "__main__":
    unittest.main()
