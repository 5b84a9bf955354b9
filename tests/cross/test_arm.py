#!/usr/bin/python3
"""ARM integration checks, run by tests/cross/run: the integration tests of
tests/integration/ (the same functions, run.py's runner) with an ARM Build
instead of the host's, then the checks only an ARM build has; every ARM
program started by this host Python under qemu-user (no binfmt_misc).

- How an ARM program runs: the Arm Build's command() replaces each ARM
  executable named in a command line by a host script that execs
  "qemu-ARCH PROGRAM", wherever it stands (the program, after the
  launcher's "--", an argument a program runs), and the Build's program
  attributes are those scripts already. So "qemu launcher -- script": the
  ARM launcher sets LD_PRELOAD (the ARM shim), KLIPPER_PIN_CONFIG and _PID
  and execs the script, which execs qemu, which hands that environment to
  the ARM program. Every exec keeps the PID, so the shim finds its target.
  qemu passes sched_setaffinity/getaffinity, prctl and /proc/self/task
  through to the host kernel, so each thread's CPUs are real. The host's
  loader, starting sh and qemu with the ARM shim in LD_PRELOAD, complains
  on stderr: the Build's stderr() drops those lines.
- What cannot apply under qemu is in EXCLUDED, each with its reason,
  printed as a SKIP line.
- Only on ARM (ARM_CHECKS): the ABI probe, a log file past 2 GiB, a
  time64 program's prctl, and the launcher compared with the host's
  (check, bad configs, version) when the host build is given.

One line per test, then "cross-ARCH: N passed, N failed, N skipped".
Usage: test_arm.py ARCH BUILD_DIR [HOST_BUILD_DIR]"""
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

# The host's own settings are not the ARM run's: QEMU_LD_PREFIX would give
# the guest a loader of another glibc build than its libc (see
# tests/cross/run); valgrind and the sanitizers cannot run ARM programs.
for _name in list(os.environ):
    if _name.startswith("QEMU_") or _name in (
            "VALGRIND", "SANITIZE", "KLIPPER_PIN_TEST_PRELOAD"):
        del os.environ[_name]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import run as integration  # noqa: E402
from harness import (Build, cpu_text, expect, expect_equal,  # noqa: E402
                     need_cpus, parse_fields)

QEMU = {"arm64": "qemu-aarch64", "armhf": "qemu-arm"}
ARM_MACHINES = {40: "ARM", 183: "AArch64"}  # ELF e_machine
# What the host's loader says when a host program (sh, qemu) is started
# with the ARM shim in LD_PRELOAD, as any program the launcher runs is.
LD_SO_NOISE = re.compile(r"^ERROR: ld\.so: object '[^']*' from LD_PRELOAD "
                         r"cannot be preloaded[^\n]*\n", re.M)

# The integration tests that cannot apply to an ARM build under qemu-user,
# with the reason printed for each. Every other one runs.
PYTHON = ("the program is the host's Python: an ARM Python is not "
          "installed, and the host's cannot load the ARM shim or "
          "libspawner.so")
BROKEN_STDERR = ("stderr is a pipe nobody reads: the host's loader, starting "
                 "sh and qemu with the ARM shim in LD_PRELOAD, writes its "
                 "complaint there before the ARM program runs, and SIGPIPE "
                 "kills them")
# Left out on one architecture only, each with its reason.
EXCLUDED_ON = {}

# qemu 7.2's linux-user keeps its translated code in a GLib tree whose
# nodes come from GSlice, whose static mutexes no fork handler resets: a
# guest that forks while other guest threads translate code leaves the
# child waiting forever on a mutex nobody holds (tb_gen_code ->
# tcg_tb_insert -> g_slice_alloc; reproduced without the shim: 16 threads
# creating threads while one forks, about 1 hang in 45 runs of 100
# forks). GSlice then takes its memory from malloc, which glibc's own
# fork handlers keep usable in the child.
QEMU_ENV = "G_SLICE=always-malloc"

OWN_PATH = ("the launcher writes its own path (/proc/self/exe: the ARM "
            "binary) into the units, while the test's launcher is the host "
            "script that starts it under qemu")
NATIVE_BUILD = ("install.sh builds and runs a native klipper-pin from a git "
                "clone: the host's make check runs it")
EXCLUDED = {
    "test_reserve.test_the_files_for_cpus_2_3_on_4_cpus": OWN_PATH,
    "test_systemd.test_the_launcher_written_is_this_program_by_default":
        OWN_PATH,
    "test_install.test_install_update_cycle": NATIVE_BUILD,
    "test_install.test_install_twice_then_uninstall": NATIVE_BUILD,
    "test_install.test_install_keeps_user_files": NATIVE_BUILD,
    "test_install.test_install_edited_config_survives_uninstall":
        NATIVE_BUILD,
    "test_python.test_klippy_shaped_python_program": PYTHON,
    "test_children.test_python_subprocess_and_multiprocessing_children":
        PYTHON,
    "test_children.test_a_child_whose_stderr_is_captured_gets_no_log_lines":
        PYTHON,
    "test_security.test_setuid_program_is_not_placed_and_reads_no_environment":
        "setuid: what the kernel execs is a host script and the host's "
        "qemu, never the setuid ARM program, so the guest never runs in "
        "secure mode (AT_SECURE)",
    "test_check.test_check_as_someone_else_without_root_says_so":
        "runs the launcher as nobody, who cannot enter the private "
        "directory of the qemu wrapper scripts",
    "test_failures.test_valgrind_finds_no_error_and_no_leak":
        "valgrind runs host programs only; it cannot run ARM code",
    "test_failures.test_stderr_reader_gone_neither_kills_nor_blocks":
        BROKEN_STDERR,
    "test_invisible.test_log_to_a_fifo_through_stderr_survives_its_reader_going":
        BROKEN_STDERR,
}


def arm_program(path):
    """Whether path is an ARM executable (not a library): an ELF file of
    an ARM machine that is a program (ET_EXEC, or ET_DYN with PT_INTERP,
    as a PIE is; a shared library has no interpreter)."""
    if not (isinstance(path, str) and os.path.isabs(path)
            and os.path.isfile(path)):
        return False
    try:
        with open(path, "rb") as elf:
            header = elf.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF":
                return False
            wide = header[4] == 2
            order = "<" if header[5] == 1 else ">"
            kind, machine = struct.unpack_from(order + "HH", header, 16)
            if machine not in ARM_MACHINES:
                return False
            if kind == 2:  # ET_EXEC
                return True
            if kind != 3:  # ET_DYN
                return False
            if wide:
                phoff, = struct.unpack_from(order + "Q", header, 32)
                size, count = struct.unpack_from(order + "HH", header, 54)
            else:
                phoff, = struct.unpack_from(order + "I", header, 28)
                size, count = struct.unpack_from(order + "HH", header, 42)
            for i in range(count):
                elf.seek(phoff + i * size)
                entry = elf.read(4)
                if len(entry) == 4 and struct.unpack(order + "I", entry)[0] == 3:
                    return True  # PT_INTERP
    except OSError:
        return False
    return False


class Arm(Build):
    """An ARM build (build-arm64/, build-armhf/): its programs run under
    qemu-user through host scripts, everywhere a test names them."""

    def __init__(self, arch, build_dir, host_dir):
        self.arch = arch
        self.qemu = shutil.which(QEMU[arch])
        if not self.qemu:
            raise SystemExit(f"test_arm: {QEMU[arch]} not found: run "
                             "tests/cross/install-deps")
        self.scripts = tempfile.mkdtemp(prefix=f"klipper-pin-cross-{arch}-")
        # Tests that drop to another user (setpriv) run the scripts too.
        os.chmod(self.scripts, 0o755)
        self.wrapped = {}
        super().__init__(build_dir)
        cross = os.path.join(self.dir, "cross")
        self.probe = os.path.join(cross, "abi-probe")
        self.naming_time64 = os.path.join(cross, "naming-time64")
        self.spawner_time64 = os.path.join(cross, "libspawner-time64.so")
        # Directly runnable too, for a test that starts one without the
        # Runner; build.dir and build.shim stay the ARM build's own.
        for name in ("launcher", "create", "naming", "processes",
                     "concurrency", "failures", "fds", "report_cpus",
                     "probe", "naming_time64"):
            setattr(self, name, self.wrap(getattr(self, name)))
        self.host_launcher = (os.path.join(os.path.abspath(host_dir),
                                           "klipper-pin") if host_dir else None)
        self.host_probe = (os.path.join(os.path.abspath(host_dir), "cross",
                                        "abi-probe") if host_dir else None)

    def close(self):
        shutil.rmtree(self.scripts, ignore_errors=True)

    def wrap(self, path):
        """A host script that runs the ARM program path under qemu with
        the arguments it is given; anything else is returned as it is."""
        if path in self.wrapped:
            return self.wrapped[path]
        if not arm_program(path):
            return path
        # Its own directory, so that the script has the program's name.
        directory = os.path.join(self.scripts, str(len(self.wrapped)))
        os.mkdir(directory)
        script = os.path.join(directory, os.path.basename(path))
        with open(script, "w") as out:
            # export, not env(1): a test may run it with an empty PATH.
            out.write(f"#!/bin/sh\nexport {QEMU_ENV}\n"
                      f"exec {shlex.quote(self.qemu)} "
                      f'{shlex.quote(path)} "$@"\n')
        os.chmod(script, 0o755)
        self.wrapped[path] = script
        return script

    def command(self, args):
        return [self.wrap(arg) for arg in args]

    def stderr(self, text):
        return LD_SO_NOISE.sub("", text)


# ---- only on ARM ---------------------------------------------------------------

ARM_CHECKS = []


def arm_check(function):
    ARM_CHECKS.append((f"test_arm.{function.__name__}", function))
    return function


MAIN0_THREADS1 = "[main]\ncpus: 0\n[thread all]\ncpus: 1\n"


def probe_lines(run, kind, program=None):
    completed = run.run([program or run.build.probe])
    expect_equal(completed.returncode, 0,
                 f"abi-probe exit status ({completed.stderr.strip()!r})")
    return [parse_fields(line[len(kind) + 1:])
            for line in completed.stdout.splitlines()
            if line.startswith(kind + " ")]


def ok(completed, what="exit status"):
    expect_equal(completed.returncode, 0,
                 f"{what} (stderr: {completed.stderr.strip()!r})")
    return completed


def same_as_host(run, arm, args, what):
    """The ARM launcher printed and exited as the host's does."""
    if not run.build.host_launcher:
        return
    host = run.run([run.build.host_launcher] + list(args))
    expect_equal((arm.returncode, arm.stdout, arm.stderr),
                 (host.returncode, host.stdout, host.stderr),
                 f"{what}: ARM and host launchers differ")


def placed(line, cpus, what):
    expect_equal(line.get("cpus"), cpus, f"{what}: CPUs from inside the thread")
    expect_equal(line.get("proc"), cpus, f"{what}: Cpus_allowed_list in /proc")


@arm_check
def probe_thread_ids_decoded_from_cpu_clocks(run):
    # shim_tid_of (pthread_setname_np of another thread) decodes the kernel
    # tid from the thread's CPU-time clock id: the encoding must hold here.
    tids = probe_lines(run, "tid")
    expect_equal(len(tids), 3, "threads probed")
    for t in tids:
        expect_equal((t["error"], t["low"], t["readable"]), ("0", "6", "1"),
                     f"thread {t['n']}: pthread_getcpuclockid, clock & 7, "
                     "clock_gettime of it")
        expect_equal(t["decoded"], t["gettid"], f"thread {t['n']}: tid")


@arm_check
def probe_cpu_sets_and_affinity(run):
    size, = probe_lines(run, "size")
    kernel, = probe_lines(run, "kernel")
    affinity, = probe_lines(run, "affinity")
    expect_equal(size["cpu_set_t"], "128", "sizeof(cpu_set_t)")
    setsize, long_size = int(kernel["setsize"]), int(size["long"])
    with open("/sys/devices/system/cpu/possible") as possible:
        top = max(int(p) for p in re.split(r"[-,]", possible.read().strip()))
    expect(setsize % long_size == 0 and setsize * 8 > top,
           f"the set size the kernel takes: {setsize} bytes, for CPUs 0-{top}")
    expect_equal(affinity["cpus"], cpu_text(os.sched_getaffinity(0)),
                 "sched_getaffinity through qemu")


@arm_check
def probe_realtime_clock_is_now(run):
    clock, = probe_lines(run, "clock")
    expect_equal(clock["result"], "0", "clock_gettime")
    expect(abs(float(clock["realtime"]) - time.time()) < 5,
           f"CLOCK_REALTIME {clock['realtime']} vs the host's {time.time()}")


@arm_check
def shim_time64_program_named_by_prctl(run):
    # Built with _TIME_BITS=64, a 32-bit program calls prctl as
    # __prctl_time64 (<sys/prctl.h> renames it): the shim must see that
    # name too, or no thread of such a program is placed again when named.
    need_cpus(2)
    result = run.launch([run.build.naming_time64, "prctl", "stepper_x"], """
[main]
cpus: 0
[thread steps]
match_name: stepper_*
cpus: 1
[thread others]
cpus: 0
""")
    expect_equal(result.code, 0, f"exit status ({result.stderr.strip()!r})")
    expect_equal(result.lines("before")[0]["cpus"], "0", "before its name")
    placed(result.lines("after")[0], "1", "named by prctl (time64 program)")
    expect_equal(len(result.logged("rename")), 1, "rename events")
    result = run.launch([run.build.create, "dlopen", run.build.spawner_time64,
                         "2", "serialq mcu"], """
[thread serial]
match_name: serialq*
cpus: 1
[thread rest]
cpus: 0
""")
    expect_equal(result.code, 0, f"exit status ({result.stderr.strip()!r})")
    lines = result.lines("spawned")
    expect_equal(len(lines), 2, "library threads")
    for line in lines:
        expect_equal((line["before"], line["after"]), ("0", "1"),
                     "a time64 library's thread, placed again by name")


@arm_check
def shim_log_file_past_2_gib(run):
    # A log file appended to for long grows past 2 GiB. Built without
    # _FILE_OFFSET_BITS=64, armhf's fstat fails on it (EOVERFLOW: st_size
    # does not fit a 32-bit off_t), so the shim takes the file for another
    # and stops logging; a real armhf kernel would also refuse the writes
    # (EFBIG: opened without O_LARGEFILE). The file here is sparse.
    need_cpus(2)
    log = run.path("big.log")
    size = 3 << 30
    with open(log, "wb") as big:
        big.truncate(size)
    completed = ok(run.run([run.build.launcher, "--config",
                            run.write("p.conf", MAIN0_THREADS1), "--log", log,
                            "--log-format", "json", "--", run.build.create,
                            "basic", "1"]))
    thread, = [parse_fields(line[len("thread "):])
               for line in completed.stdout.splitlines()
               if line.startswith("thread ")]
    placed(thread, "1", "created thread")
    with open(log, "rb") as big:
        big.seek(size)
        tail = big.read().decode(errors="replace").splitlines()
    expect_equal([json.loads(line)["event"] for line in tail],
                 ["main", "thread"], "events appended past 3 GiB")


@arm_check
def launcher_version_as_on_the_host(run):
    completed = ok(run.run([run.build.launcher, "--version"]))
    expect(re.fullmatch(r"klipper-pin \d+\.\d+\.\d+\n", completed.stdout),
           completed.stdout)
    same_as_host(run, completed, ["--version"], "--version")


@arm_check
def launcher_check_shipped_config_as_on_the_host(run):
    shipped = os.path.join(ROOT, "config", "klipper-pin.conf")
    args = ["check", "--config", shipped]
    completed = ok(run.run([run.build.launcher] + args),
                   "check of the shipped config")
    expect(f"config:   {shipped}\n" in completed.stdout, completed.stdout)
    expect(completed.stdout.endswith("valid\n"), completed.stdout)
    same_as_host(run, completed, args, "check")


BAD_CONFIGS = [
    # (config text, line, words the message must have)
    ("[main]\ncpu: 1\n", 2, ["unknown key 'cpu'", "did you mean 'cpus'"]),
    ("[mian]\ncpus: 1\n", 1, ["unknown section [mian]", "did you mean [main]"]),
    ("[main]\ncpus: 3-1\n", 2, ["bad CPU list '3-1'"]),
    ("[main]\ncpus: 99999\n", 2, ["99999", "8191"]),
    ("[thread x]\ncpus: 1\npolicy: fifo\npriority: 100\n", 4,
     ["bad priority '100'", "1 to 99"]),
    ("[main]\ncpus 1\n", 2, ["malformed line 'cpus 1'"]),
    ("[thread x]\nmatch_index: 0\n", 2, ["match_index"]),
    ("[main]\nnice: -21\n", 2, ["bad nice '-21'"]),
    ("[main]\ncpus: " + ",".join(["0"] * 120) + "\nnice: 99\n", 3,
     ["bad nice '99'"]),
    # numbers that do not fit 32 bits: where a 32-bit long would wrap
    ("[main]\ncpus: 4294967297\n", 2, ["4294967297", "8191"]),
    ("[main]\ncpus: 0-7:4294967297\n", 2, ["0-7:4294967297"]),
    ("[main]\nnice: 4294967296\n", 2, ["bad nice '4294967296'"]),
    ("[main]\npolicy: rr\npriority: 4294967306\n", 3,
     ["bad priority '4294967306'"]),
    ("[thread x]\nmatch_index: 4294967298\ncpus: 1\n", 2,
     ["match_index", "4294967298"]),
]


@arm_check
def launcher_bad_configs_as_on_the_host_and_32_bit_wraps(run):
    marker = run.path("ran")
    for text, line, words in BAD_CONFIGS:
        path = run.write("bad.conf", text)
        checked = run.run([run.build.launcher, "check", "--config", path])
        expect_equal(checked.returncode, 1, f"check of {text!r}")
        expect(checked.stderr.startswith(f"klipper-pin: {path}:{line}: "),
               f"file:line for {text!r}: {checked.stderr!r}")
        expect_equal(checked.stderr.count("\n"), 1, "one line of error")
        for word in words:
            expect(word in checked.stderr, f"{word!r} in {checked.stderr!r}")
        same_as_host(run, checked, ["check", "--config", path], f"{text!r}")
        ran = run.run([run.build.launcher, "--config", path, "--",
                       "/bin/touch", marker])
        expect_equal(ran.returncode, 125, f"exit status for {text!r}")
        expect_equal(ran.stderr, checked.stderr, "the launcher says the same")
        expect(not os.path.exists(marker), f"program ran for {text!r}")


@arm_check
def launcher_big_index_lists_described_as_on_the_host(run):
    # check prints a match_index list by walking it; a 32-bit counter must
    # neither wrap (an endless loop) nor differ from the host.
    for index in ("1-4000000000:1073741824", "2-4000000000:2147483648",
                  "3999999999-4000000000", "5-40:7"):
        path = run.write("index.conf", f"[thread x]\nmatch_index: {index}\n"
                         "cpus: 0\n")
        args = ["check", "--config", path]
        completed = ok(run.run([run.build.launcher] + args, timeout=20),
                       f"check of match_index {index}")
        expect("match: index=" in completed.stdout, completed.stdout)
        same_as_host(run, completed, args, f"match_index {index}")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[-1])
        return 2
    arch = sys.argv[1]
    if arch not in QEMU:
        print(f"test_arm: unknown architecture {arch!r}")
        return 2
    build = Arm(arch, sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
    try:
        try:
            sizes = subprocess.run(build.command([build.probe]),
                                   capture_output=True, text=True, timeout=60)
            for line in sizes.stdout.splitlines():
                if line.startswith("size "):
                    print(f"info {arch}: {line[5:]}")
            if build.host_probe:
                host = subprocess.run([build.host_probe], capture_output=True,
                                      text=True, timeout=60)
                for line in host.stdout.splitlines():
                    if line.startswith("size "):
                        print(f"info host: {line[5:]}")
        except Exception as error:  # the probe checks say more below
            print(f"info {arch}: abi-probe failed: {error}")
        unknown = sorted(set(EXCLUDED) - {name for name, _ in
                                          integration.all_tests()})
        for name in unknown:  # a renamed test must not run unnoticed
            print(f"test_arm: EXCLUDED names no integration test: {name}")
        tests = ARM_CHECKS + integration.all_tests()
        excluded = dict(EXCLUDED, **EXCLUDED_ON.get(arch, {}))
        passed, failed, skipped = integration.run_tests(build, tests,
                                                        excluded, arch)
        failed += len(unknown)
    finally:
        build.close()
    print(f"cross-{arch}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
