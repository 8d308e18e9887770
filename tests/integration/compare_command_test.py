"""`sockkit compare` end to end, small: the quick scenarios against the epoll floor and two
sockkit engines, runs of 200 ms, one repetition. Checks the table, the JSON and the chart
are well-formed and hold a result for every server and scenario; never the speed.

Run by CTest, one test case per CTest test: compare_command_test.py CompareCommandTest.test_..."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
SOCKKIT = os.path.join(BIN, "sockkit")
SERVERS = ["epoll-floor", "sockkit-epoll", "sockkit-uring"]


class CompareCommandTest(unittest.TestCase):
    def test_quick_comparison_writes_a_table_json_and_a_chart(self):
        if shutil.which("gnuplot") is None:
            self.skipTest("gnuplot is not installed (scripts/setup installs gnuplot-nox)")
        scratch = tempfile.mkdtemp(prefix="sockkit-compare-")
        self.addCleanup(shutil.rmtree, scratch, True)
        out_json = os.path.join(scratch, "compare.json")
        out_png = os.path.join(scratch, "compare.png")
        result = subprocess.run([SOCKKIT, "compare", "--quick", "--duration", "200ms", "--reps", "1",
                                 "--servers", ",".join(SERVERS), "--json", out_json,
                                 "--chart", out_png],
                                capture_output=True, text=True, timeout=240)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        for title in ["64 B ping-pong, 100 connections (pingpong-100)",
                      "connect, one 64 B echo, close: 16 at a time (churn)"]:
            self.assertIn(title, result.stdout)
        table_rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
        for server in SERVERS:
            rows = [r for r in table_rows if r and r[0] == server]
            self.assertEqual(len(rows), 2, server)  # one per scenario
        floor_rows = [r for r in table_rows if r and r[0] == "epoll-floor"]
        for row in floor_rows:
            self.assertEqual(row[3], "1.00", row)  # the floor is its own ratio 1

        with open(out_json) as f:
            report = json.load(f)
        self.assertEqual(report["repetitions"], 1)
        seen = {(r["scenario"], r["server"]) for r in report["results"]}
        self.assertEqual(seen, {(s, v) for s in ["pingpong-100", "churn"] for v in SERVERS})
        for r in report["results"]:
            self.assertEqual(len(r["runs"]), 1)
            self.assertEqual(r["median"]["errors"], 0, r)
            self.assertGreater(r["median"]["messages_per_second"], 0, r)
            self.assertGreater(r["median"]["cpu_us_per_message"], 0, r)
            self.assertGreaterEqual(r["median"]["host_steal_percent"], 0, r)
            self.assertLess(r["median"]["host_steal_percent"], 100, r)

        with open(out_png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_bad_usage_exits_2(self):
        for args, message in [(["--servers", "nginx"], "no server called 'nginx'"),
                              (["--scenarios", "pingpong-7"], "no scenario called 'pingpong-7'"),
                              (["--reps", "0"], "--reps: '0' is not a whole number from 1 to 1000"),
                              (["--duration", "soon"], "'soon' is not a duration")]:
            result = subprocess.run([SOCKKIT, "compare", *args], capture_output=True, text=True,
                                    timeout=60)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(message, result.stderr, args)


if __name__ == "__main__":
    unittest.main()
