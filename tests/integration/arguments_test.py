"""Every option of every `sockkit` command, given generated values: valid ones, the
boundaries of its range, negative, huge, empty and garbage ones, a missing value, the option
twice, and an unknown option. No run may end by a crash signal or hang, and bad usage is
exit 2 with one line on stderr naming the command and the bad word.

The options are read from each command's --help, so a new option is covered the day it is
added. A run that is valid usage talks only to an echo server this test starts on
127.0.0.1:0; one still running after RUN_SECONDS (a server, a long benchmark) is stopped
with SIGINT, which ending it is not a crash.

Run by CTest, one test case per command: arguments_test.py ArgumentsTest.test_serve ...
SOCKKIT_BIN_DIR names the directory holding the binaries."""

import os
import re
import signal
import subprocess
import tempfile
import threading
import unittest
from concurrent.futures import ThreadPoolExecutor

BIN = os.environ.get("SOCKKIT_BIN_DIR", "build/dev/bin")
SOCKKIT = os.path.abspath(os.path.join(BIN, "sockkit"))
# A sanitizer build starts and stops slowly (and checks for leaks at exit), the more so
# with four runs at once on two cores: its deadlines are longer.
SANITIZED = os.environ.get("SOCKKIT_SANITIZED", "") not in ("", "0", "OFF")
RUN_SECONDS = 2.0                        # a valid run still going then gets SIGINT
STOP_SECONDS = 30.0 if SANITIZED else 10.0  # after SIGINT, or for bad usage to end: a hang
CRASHES = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
HUGE = "99999999999999999999999"

# Values by the type name --help shows: (valid, bad). A valid value may still be refused
# for a reason of its own (exit 2 with a clear line is fine); a bad one must be exit 2.
TEXT_VALUES = {
    "DURATION": (["0", "1ms", "1.5s"], ["-1s", "soon", "", "1x", HUGE + "h"]),
    "SIZE": (["0", "1", "64KiB"], ["-1", "1.5B", "lots", "", HUGE + "GiB"]),
    "SIZE[-MAX]": (["1", "1-8KiB"], ["8-1", "-", "", "x", "-5"]),
    "RATE": (["1/s", "2.5k/s"], ["-1/s", "", "fast", HUGE + "M/s"]),
    "BYTES/S": (["1KiB/s"], ["-1/s", "", "quick"]),
    "ADDR": (["127.0.0.1:0"], ["", "[::1", "127.0.0.1:99999", "127.0.0.1:-1", "unix:"]),
    "ENGINE": (["epoll"], ["", "bogus"]),
    "PROTOCOL": (["discard"], ["", "bogus"]),
    "MODE": (["pingpong"], ["", "bogus"]),
    "DIRECTION": (["up"], ["", "sideways"]),
    "IDLE,INTERVAL,COUNT": (["0", "1s,1s,1"], ["", "1s,1s", "1s,1s,0", "1s,1s,128", "-1s,1s,1"]),
    "USER": ([], ["no-such-user-sockkit"]),
    "OCTAL": (["0600", "660"], ["0400", "0999", "-1", "", "rw"]),
    "NAME,...": ([], ["bogus"]),
}


def options_of(command):
    """(names, type name, least, most) of each option in `sockkit COMMAND --help`."""
    help_text = subprocess.run([SOCKKIT, command, "--help"], capture_output=True, text=True,
                               timeout=STOP_SECONDS, check=True).stdout
    # An option's line, with its description's continuation line when the names were long;
    # only in the Options section (a footer's examples look alike).
    options = help_text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    entries = re.findall(r"^  (-.*(?:\n {20,}\S.*)?)", options, re.MULTILINE)
    found = []
    for entry in entries:
        match = re.match(r"((?:-\w,)?--[\w-]+)(?: ([^\s=]+))?", entry)
        if not match or match.group(1) == "-h,--help":
            continue
        bounds = re.search(r"\((-?[\d.]+) to (-?[\d.]+)\)\s*$", entry)
        found.append((match.group(1).split(",")[-1], match.group(2),
                      bounds.group(1) if bounds else None, bounds.group(2) if bounds else None))
    return found


def number_values(type_name, least, most):
    if type_name == "FLOAT":
        return [least, most, "0.5"], ["-0.1", str(float(most) + 1), "nan", "inf", "", "abc",
                                     HUGE]
    low, high = int(least), int(most)
    return [least, most], [str(low - 1), str(high + 1), "-1", HUGE, "", "abc", "1.5"]


class ArgumentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        cls.echo = subprocess.Popen([SOCKKIT, "serve", "--listen", "127.0.0.1:0"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        match = re.match(r"^Listening on (\S+) ", cls.echo.stdout.readline())
        assert match, "the echo server did not start"
        cls.target = match.group(1)

    @classmethod
    def tearDownClass(cls):
        cls.echo.send_signal(signal.SIGTERM)
        cls.echo.communicate(timeout=STOP_SECONDS)
        cls.folder.cleanup()

    # What each command needs so that a valid run is short and stays on loopback.
    def base_args(self, command):
        return {
            "serve": {"--listen": "127.0.0.1:0"},
            "proxy": {"--listen": "127.0.0.1:0", "--to": self.target},
            "send": {"--timeout": "2s"},
            "connect": {},  # its peer is the echo server: connected at once, closed at EOF
            "bench": {"--duration": "200ms", "--warmup": "0s"},
            "compare": {"--scenarios": "pingpong-100", "--servers": "sockkit-epoll",
                        "--duration": "100ms", "--reps": "1"},
        }[command]

    def positional(self, command):
        return [self.target] if command in ("send", "connect", "bench") else []

    def run_once(self, command, args, may_run_long):
        """Runs `sockkit COMMAND ARGS...`; returns (returncode, stderr, interrupted). A run
        that may be valid usage (a server, a long benchmark) is interrupted after
        RUN_SECONDS; one that must be refused is left to end by itself."""
        proc = subprocess.Popen([SOCKKIT, command, *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                cwd=self.folder.name)
        try:
            _, err = proc.communicate(timeout=RUN_SECONDS if may_run_long else STOP_SECONDS)
            return proc.returncode, err, False
        except subprocess.TimeoutExpired:
            if not may_run_long:
                proc.kill()
                proc.communicate()
                self.fail(f"sockkit {command} {args} was bad usage, yet still ran after "
                          f"{STOP_SECONDS} s")
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=STOP_SECONDS)
            return proc.returncode, err, True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail(f"sockkit {command} {args} did not stop within {STOP_SECONDS} s of SIGINT")

    def cases(self, command):
        """(args, words one of which a usage error must name, must_be_usage_error)."""
        base = self.base_args(command)
        positional = self.positional(command)

        def with_option(name, values):
            merged = dict(base)
            merged.pop(name, None)
            args = [word for option, value in merged.items() for word in (option, value)]
            return positional + args + [w for value in values for w in (name, value)]

        yield with_option("--no-such-option", []) + ["--no-such-option"], ["--no-such-option"], True
        for name, type_name, least, most in options_of(command):
            if type_name is None:  # a flag
                yield with_option(name, []) + [name], [name], False
                yield with_option(name, []) + [name, name], [name], False
                continue
            if least is not None:
                valid, bad = number_values(type_name, least, most)
            elif type_name in ("FILE", "DIR"):
                valid, bad = [os.path.join(self.folder.name, "out")], []
            else:
                valid, bad = TEXT_VALUES[type_name]
            for value in valid:
                yield with_option(name, [value]), [name, value], False
            for value in bad:
                yield with_option(name, [value]), [name, repr(value)[1:-1] or name], True
            if valid:
                yield with_option(name, [valid[0], valid[-1]]), [name], False
            yield with_option(name, []) + [name], [name], True  # the value missing

    def check_command(self, command):
        cases = list(self.cases(command))
        failures = []
        lock = threading.Lock()

        def check(case):
            args, words, must_be_usage = case
            code, err, interrupted = self.run_once(command, args, may_run_long=not must_be_usage)
            problem = None
            if code < 0 and (-code in CRASHES or not interrupted):
                problem = f"killed by signal {-code}"
            elif code == 2:
                lines = err.strip().splitlines()
                if len(lines) != 1:
                    problem = f"usage error on {len(lines)} lines"
                elif not lines[0].startswith(f"sockkit {command}: "):
                    problem = "usage error does not name the command"
                elif not any(word in lines[0] for word in words):
                    problem = f"usage error names none of {words}"
            elif must_be_usage:
                problem = f"exit {code}, not 2"
            if problem:
                with lock:
                    failures.append(f"sockkit {command} {args}: {problem}; stderr: {err!r}")

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(check, cases))
        self.assertGreater(len(cases), 10)
        self.assertEqual(failures, [], f"{len(failures)} of {len(cases)} runs failed")

    def test_serve(self):
        self.check_command("serve")

    def test_send(self):
        self.check_command("send")

    def test_connect(self):
        self.check_command("connect")

    def test_bench(self):
        self.check_command("bench")

    def test_compare(self):
        self.check_command("compare")

    def test_proxy(self):
        self.check_command("proxy")

    def test_no_command_or_a_wrong_one(self):
        for args, word in [([], "subcommand is required"), (["srve"], "did you mean 'serve'"),
                           (["--bogus"], "'--bogus'"), (["xyz"], "'xyz'")]:
            result = subprocess.run([SOCKKIT, *args], capture_output=True, text=True,
                                    timeout=STOP_SECONDS)
            self.assertEqual(result.returncode, 2, args)
            lines = result.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertIn(word, lines[0], args)
        version = subprocess.run([SOCKKIT, "-V"], capture_output=True, text=True,
                                 timeout=STOP_SECONDS)
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^sockkit \d+\.\d+")


if __name__ == "__main__":
    unittest.main()
