"""What the integration tests share: running real programs under the real
launcher, with a config and a JSON log in a temporary directory, and reading
back what each thread reported and what the shim logged."""
import json
import os
import re
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"
SANITIZER_RUNTIME = os.environ.get("KLIPPER_PIN_TEST_PRELOAD", "")
SANITIZED = bool(os.environ.get("SANITIZE"))
THREAD_SANITIZED = "thread" in os.environ.get("SANITIZE", "")
# make valgrind: every program launched runs under memcheck (Python and
# shells are left out: their own leaks are not the project's).
VALGRIND = ["valgrind", "-q", "--trace-children=yes",
            "--trace-children-skip=*python*,/bin/sh,/usr/bin/sh,*/true",
            "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99"] if os.environ.get("VALGRIND") else []


def need_no_thread_sanitizer(why):
    """ThreadSanitizer cannot follow some programs (say why)."""
    if THREAD_SANITIZED:
        raise Skip(f"under ThreadSanitizer {why}; the plain `make check` "
                   "runs this test")


def need_own_pthread_create():
    """Under a sanitizer its runtime comes first in LD_PRELOAD and its
    pthread_create interceptor calls the shim's with a start routine of
    its own: the shim then sees the sanitizer's library, not the program's."""
    if SANITIZER_RUNTIME:
        raise Skip("the sanitizer's pthread_create interceptor hides the "
                   "program's start routine and caller; the plain "
                   "`make check` runs this test")


class Skip(Exception):
    """A test that cannot run here says why; the runner prints it."""


class Build:
    """The programs of one build (make BUILD=...) and how to run them here.
    A cross build (tests/cross/test_arm.py) overrides command and stderr."""

    def __init__(self, build_dir):
        self.dir = os.path.abspath(build_dir)
        self.launcher = os.path.join(self.dir, "klipper-pin")
        self.shim = os.path.join(self.dir, "libklipper-pin.so")
        fixtures = os.path.join(self.dir, "fixtures")
        # The C fixtures (tests/fixtures/NAME.c), "NAME MODE ARG...":
        # each thread reports its CPUs, as their files say.
        self.create = os.path.join(fixtures, "create")
        self.naming = os.path.join(fixtures, "naming")
        self.processes = os.path.join(fixtures, "processes")
        self.concurrency = os.path.join(fixtures, "concurrency")
        self.failures = os.path.join(fixtures, "failures")
        self.fds = os.path.join(fixtures, "fds")
        self.holding = os.path.join(fixtures, "holding")
        self.report_cpus = os.path.join(fixtures, "report-cpus")
        self.spawner = os.path.join(fixtures, "libspawner.so")
        self.klippy_like = os.path.join(ROOT, "tests", "fixtures", "klippy_like.py")

    def command(self, args):
        """The argv that runs args (a command line in which this build's
        programs may appear anywhere: as the program, after the launcher's
        "--", as an argument a program runs) on this machine. A native
        build's programs run as they are."""
        return list(args)

    def stderr(self, text):
        """What of a run's captured stderr its programs wrote themselves
        (a cross build drops what the host adds): here, all of it."""
        return text


def online_cpus():
    with open("/sys/devices/system/cpu/online") as online:
        text = online.read().strip()
    cpus = []
    for item in text.split(","):
        low, _, high = item.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def need_cpus(count):
    have = len(online_cpus())
    if have < count:
        raise Skip(f"needs {count} CPUs, this machine has {have}")


def cpu_text(cpus):
    """A set of CPUs as the fixtures print it: "0-1", "0,2"."""
    out, cpus = [], sorted(cpus)
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def without_valgrind(events):
    """valgrind execs itself twice before the program, in the same process:
    the shim logs there too. Keep what concerns the program."""
    kept, messages = [], set()
    for event in events:
        if (event.get("name") or "").startswith("valgrind"):
            continue
        if event["event"] == "config":
            if event["message"] in messages:
                continue
            messages.add(event["message"])
        kept.append(event)
    return kept


class Result:
    def __init__(self, completed, events, log_text):
        self.code = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.events = events
        self.log_text = log_text

    def lines(self, kind):
        """The program's report lines of one kind, as dicts."""
        found = []
        for line in self.stdout.splitlines():
            if line.startswith(kind + " "):
                found.append(parse_fields(line[len(kind) + 1:]))
        return found

    def logged(self, event):
        return [e for e in self.events if e["event"] == event]


def parse_fields(text):
    """key=value pairs; a value runs to the next ' key=' (names have spaces)."""
    fields = {}
    for match in re.finditer(r"(\w+)=(.*?)(?= \w+=|$)", text):
        fields[match.group(1)] = match.group(2)
    return fields


class Runner:
    def __init__(self, build):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="klipper-pin-test-")
        self.count = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        path = self.path(name)
        with open(path, "w") as out:
            out.write(text)
        return path

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("KLIPPER_PIN_") and k != "LD_PRELOAD"}
        # A sanitizer build's shim needs the sanitizer's runtime first.
        if SANITIZER_RUNTIME:
            env["LD_PRELOAD"] = SANITIZER_RUNTIME
        env.update(extra or {})
        if SANITIZER_RUNTIME and "LD_PRELOAD" in (extra or {}):
            env["LD_PRELOAD"] = SANITIZER_RUNTIME + " " + extra["LD_PRELOAD"]
        return env

    def launch(self, command, config=None, options=(), env=None,
               log_format="json", timeout=120, prefix=()):
        """Runs command under the launcher with config (text, or None for
        the built-in plan) and the log in a file; returns a Result."""
        self.count += 1
        log = self.path(f"log-{self.count}")
        args = list(prefix) + VALGRIND + [self.build.launcher]
        if config is not None:
            args += ["--config", self.write(f"config-{self.count}.conf", config)]
        args += ["--log", log, "--log-format", log_format]
        args += list(options) + ["--"] + list(command)
        completed = subprocess.run(self.build.command(args),
                                   capture_output=True, text=True,
                                   env=self.env(env), timeout=timeout)
        completed.stderr = self.build.stderr(completed.stderr)
        log_text = ""
        if os.path.exists(log):
            with open(log) as logged:
                log_text = logged.read()
        events = []
        if log_format == "json":
            events = [json.loads(line) for line in log_text.splitlines()]
        if VALGRIND:
            events = without_valgrind(events)
            log_text = "".join(line for line in log_text.splitlines(True)
                               if " name=valgrind" not in line)
        return Result(completed, events, log_text)

    def run(self, args, env=None, timeout=60, capture_output=True, **kwargs):
        """Runs anything (the launcher with options of the test's own, a
        fixture without it), through the build's command."""
        completed = subprocess.run(self.build.command(args),
                                   capture_output=capture_output, text=True,
                                   env=self.env(env), timeout=timeout, **kwargs)
        if isinstance(completed.stderr, str):
            completed.stderr = self.build.stderr(completed.stderr)
        return completed


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_equal(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: got {actual!r}, wanted {wanted!r}")
