#!/usr/bin/python3
"""ARM integration checks, run by tests/cross/run: the ARM build of the
launcher, the shim and the C fixtures, every ARM program started by this
host Python as "qemu-ARCH PROGRAM" (no binfmt_misc needed).

- The shim, on real ARM code: a fixture runs under qemu with the ARM shim
  in the guest's LD_PRELOAD (qemu -E, so that the host's loader, loading
  qemu itself, never sees an ARM library) and KLIPPER_PIN_CONFIG, _LOG,
  _LOG_FORMAT and _PID as the launcher sets them. The PID is the guest's
  getpid(), which under qemu-user is qemu's own: an sh that execs qemu
  keeps its PID, so it is known before the program starts. qemu passes
  sched_setaffinity/getaffinity, prctl and /proc/self/task through to the
  host kernel, so each thread's CPUs are real.
- The launcher, on ARM: check, dry-run, version, bad configs and exit codes
  under qemu (compared with the host's launcher when its build is given),
  and the whole chain "qemu launcher -- qemu fixture": the launcher's exec
  of the host's qemu keeps the PID, and qemu hands the launcher's
  environment to the guest.

One line per check, then "cross-ARCH: N passed, N failed".
Usage: test_arm.py ARCH BUILD_DIR [HOST_BUILD_DIR]"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

# The integration harness's helpers, shared: the same checks, the same
# parsing of what the fixtures print.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
from harness import (Build, Skip, cpu_text, expect,  # noqa: E402
                     expect_equal, need_cpus, online_cpus, parse_fields)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU = {"arm64": "qemu-aarch64", "armhf": "qemu-arm"}
FIELDS = {"ts", "pid", "tid", "event", "seq", "library", "symbol", "caller",
          "name", "rule", "want", "cpus", "policy", "priority", "nice",
          "result"}
# What the host's loader says when a host program (sh, qemu) is started
# with the ARM shim in LD_PRELOAD, as any program the launcher runs is.
LD_SO_NOISE = re.compile(r"^ERROR: ld\.so: object '[^']*' from LD_PRELOAD "
                         r"cannot be preloaded[^\n]*\n", re.M)

MAIN0_THREADS1 = "[main]\ncpus: 0\n[thread all]\ncpus: 1\n"
MAIN1_THREADS0 = "[main]\ncpus: 1\n[thread all]\ncpus: 0\n"


class Result:
    def __init__(self, code, stdout, stderr, pid, log_text="",
                 log_format="json"):
        self.code = code
        self.stdout = stdout
        self.stderr = LD_SO_NOISE.sub("", stderr)
        self.pid = pid
        self.log_text = log_text
        self.events = []
        if log_format == "json":
            self.events = [json.loads(line) for line in log_text.splitlines()]

    def lines(self, kind):
        return [parse_fields(line[len(kind) + 1:])
                for line in self.stdout.splitlines()
                if line.startswith(kind + " ")]

    def logged(self, event):
        return [e for e in self.events if e["event"] == event]

    def ok(self, what="exit status"):
        expect_equal(self.code, 0, f"{what} (stderr: {self.stderr.strip()!r})")
        return self


class Arm(Build):
    def __init__(self, arch, build_dir, host_dir):
        self.arch = arch
        self.qemu = shutil.which(QEMU[arch])
        if not self.qemu:
            raise SystemExit(f"test_arm: {QEMU[arch]} not found: run "
                             "tests/cross/install-deps")
        super().__init__(build_dir)
        self.probe = os.path.join(self.dir, "cross", "abi-probe")
        self.host = os.path.abspath(host_dir) if host_dir else None
        self.tmp = tempfile.mkdtemp(prefix=f"klipper-pin-cross-{arch}-")
        self.count = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text, mode=0o644):
        path = self.path(name)
        with open(path, "w") as out:
            out.write(text)
        os.chmod(path, mode)
        return path

    def env(self, extra=None):
        # QEMU_LD_PREFIX would give the guest a loader of another glibc
        # build than its libc (see tests/cross/run).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KLIPPER_PIN_", "QEMU_"))
               and k != "LD_PRELOAD"}
        env.update(extra or {})
        return env

    def _run(self, args, env, timeout, log=None, log_format="json"):
        proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                cwd=self.tmp, stdin=subprocess.DEVNULL)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"still running after {timeout}s: "
                                 f"{' '.join(args[-6:])}")
        log_text = ""
        if log and os.path.exists(log):
            with open(log) as logged:
                log_text = logged.read()
        return Result(proc.returncode, out, err, proc.pid, log_text,
                      log_format)

    def shim_run(self, args, config=None, log_format="json", env=None,
                 preload=True, timeout=120):
        """Runs an ARM program (args[0]) under qemu with the ARM shim
        preloaded in the guest, the plan config (text, or None for no
        config), the log in a file and KLIPPER_PIN_PID its own PID."""
        self.count += 1
        log = self.path(f"log-{self.count}")
        extra = {"KLIPPER_PIN_LOG": log, "KLIPPER_PIN_LOG_FORMAT": log_format}
        if config is not None:
            extra["KLIPPER_PIN_CONFIG"] = self.write(
                f"config-{self.count}.conf", config)
        extra.update(env or {})
        qemu = [self.qemu] + (["-E", f"LD_PRELOAD={self.shim}"] if preload
                              else [])
        command = ["/bin/sh", "-c",
                   'KLIPPER_PIN_PID=$$; export KLIPPER_PIN_PID; exec "$@"',
                   "sh"] + qemu + list(args)
        return self._run(command, self.env(extra), timeout, log, log_format)

    def launch(self, args, env=None, timeout=60, log=None, log_format="json"):
        """Runs the ARM launcher under qemu with args."""
        return self._run([self.qemu, self.launcher] + list(args),
                         self.env(env), timeout, log, log_format)

    def host_launch(self, args, env=None, timeout=60):
        """The same with the host's launcher; None without a host build."""
        if not self.host:
            return None
        return self._run([os.path.join(self.host, "klipper-pin")] + list(args),
                         self.env(env), timeout)

    def probe_lines(self, kind):
        result = self._run([self.qemu, self.probe], self.env(), 60)
        result.ok("abi-probe")
        return result.lines(kind)


CHECKS = []


def check(function):
    CHECKS.append(function)
    return function


def same_as_host(a, arm, args, what):
    """The ARM launcher printed and exited as the host's does."""
    host = a.host_launch(args)
    if host is None:
        return
    expect_equal((arm.code, arm.stdout, arm.stderr),
                 (host.code, host.stdout, host.stderr),
                 f"{what}: ARM and host launchers differ")


def placed(line, cpus, what):
    expect_equal(line.get("cpus"), cpus, f"{what}: CPUs from inside the thread")
    expect_equal(line.get("proc"), cpus, f"{what}: Cpus_allowed_list in /proc")


# ---- the ABI, from the probe ------------------------------------------------

@check
def probe_thread_ids_decoded_from_cpu_clocks(a):
    # shim_tid_of (pthread_setname_np of another thread) decodes the kernel
    # tid from the thread's CPU-time clock id: the encoding must hold here.
    tids = a.probe_lines("tid")
    expect_equal(len(tids), 3, "threads probed")
    for t in tids:
        expect_equal((t["error"], t["low"], t["readable"]), ("0", "6", "1"),
                     f"thread {t['n']}: pthread_getcpuclockid, clock & 7, "
                     "clock_gettime of it")
        expect_equal(t["decoded"], t["gettid"], f"thread {t['n']}: tid")


@check
def probe_cpu_sets_and_affinity(a):
    size, = a.probe_lines("size")
    kernel, = a.probe_lines("kernel")
    affinity, = a.probe_lines("affinity")
    expect_equal(size["cpu_set_t"], "128", "sizeof(cpu_set_t)")
    setsize, long_size = int(kernel["setsize"]), int(size["long"])
    with open("/sys/devices/system/cpu/possible") as possible:
        top = max(int(p) for p in re.split(r"[-,]", possible.read().strip()))
    expect(setsize % long_size == 0 and setsize * 8 > top,
           f"the set size the kernel takes: {setsize} bytes, for CPUs 0-{top}")
    expect_equal(affinity["cpus"], cpu_text(os.sched_getaffinity(0)),
                 "sched_getaffinity through qemu")


@check
def probe_realtime_clock_is_now(a):
    clock, = a.probe_lines("clock")
    expect_equal(clock["result"], "0", "clock_gettime")
    expect(abs(float(clock["realtime"]) - time.time()) < 5,
           f"CLOCK_REALTIME {clock['realtime']} vs the host's {time.time()}")


# ---- the shim on ARM ----------------------------------------------------------

@check
def shim_places_main_and_created_threads(a):
    need_cpus(2)
    r = a.shim_run([a.create, "basic", "4"], MAIN1_THREADS0).ok()
    main, = r.lines("main")
    placed(main, "1", "main thread")
    threads = r.lines("thread")
    expect_equal(len(threads), 4, "threads reported")
    for line in threads:
        placed(line, "0", "created thread")
    expect_equal(len(r.logged("main")), 1, "main events")
    events = r.logged("thread")
    expect_equal(sorted(e["seq"] for e in events), [1, 2, 3, 4], "seq")
    expect_equal(sorted(e["tid"] for e in events),
                 sorted(int(t["tid"]) for t in threads), "tids logged")
    expect(all((e["want"], e["cpus"], e["result"]) == ("0", "0", "ok")
               for e in events), f"thread events: {events}")


@check
def shim_builtin_plan(a):
    need_cpus(2)
    if os.path.exists("/etc/klipper-pin.conf"):
        raise Skip("/etc/klipper-pin.conf exists: the built-in plan does not "
                   "apply on this machine")
    online = online_cpus()
    r = a.shim_run([a.create, "basic", "2"]).ok()
    placed(r.lines("main")[0], str(online[-2]), "main: second-to-last CPU")
    for line in r.lines("thread"):
        placed(line, str(online[-1]), "thread: last CPU")
    expect_equal(len(r.lines("thread")), 2, "threads reported")


@check
def shim_json_log_field_by_field(a):
    need_cpus(2)
    started = time.time()
    r = a.shim_run([a.naming, "prctl", 'serialq "mcu"\\'], """
[main]
cpus: 0
[thread named]
match_name: serialq*
cpus: 1
policy: batch
nice: 4
[thread all]
cpus: 0
""").ok()
    before, = r.lines("before")
    main, = r.logged("main")
    created, = r.logged("thread")
    renamed, = r.logged("rename")
    for event in (main, created, renamed):
        expect_equal(set(event), FIELDS, "field names")
        expect(started - 1 <= event["ts"] <= time.time() + 1,
               f"ts {event['ts']} is now")
        expect_equal(event["pid"], r.pid, "pid: the guest's, qemu's own")
    expect_equal((main["tid"], main["seq"], main["rule"], main["want"],
                  main["cpus"]), (r.pid, 0, "main", "0", "0"), "main event")
    expect_equal((created["tid"], created["seq"], created["rule"],
                  created["want"], created["cpus"], created["policy"],
                  created["priority"], created["result"]),
                 (int(before["tid"]), 1, "all", "0", "0", "other", 0, "ok"),
                 "thread event")
    # The start routine and the caller by dladdr; the caller's address is
    # the return address less one, which on Thumb code has its low bit set.
    expect_equal((created["library"], created["symbol"], created["caller"]),
                 ("naming", None, "naming"), "start routine and caller")
    expect_equal(renamed["name"], 'serialq "mcu"\\', "a name needing escapes")
    expect_equal((renamed["tid"], renamed["seq"], renamed["rule"],
                  renamed["want"], renamed["cpus"], renamed["policy"],
                  renamed["nice"], renamed["result"]),
                 (created["tid"], 1, "named", "1", "1", "batch", 4, "ok"),
                 "rename event")


@check
def shim_text_log(a):
    need_cpus(2)
    r = a.shim_run([a.naming, "prctl", "serialq mcu"],
                   "[main]\ncpus: 0\n[thread named]\nmatch_name: serialq*\n"
                   "cpus: 1\n[thread all]\ncpus: 0\n", log_format="text").ok()
    lines = r.log_text.splitlines()
    pattern = re.compile(r'^klipper-pin: pid=(\d+) tid=\d+ event=(\w+) seq=\d+ '
                         r'library=\S+ symbol=\S+ caller=\S+ '
                         r'name=(\S+|"[^"]*") rule=\S+ want=\S+ cpus=\S+ '
                         r'policy=\w+ priority=\d+ nice=-?\d+ result=\S+$')
    matches = [pattern.match(line) for line in lines]
    expect(lines and all(matches), f"text lines: {lines}")
    expect_equal([m.group(2) for m in matches], ["main", "thread", "rename"],
                 "events in order")
    expect_equal({int(m.group(1)) for m in matches}, {r.pid}, "pid")
    expect('name="serialq mcu"' in lines[2], f"quoted name: {lines[2]}")


@check
def shim_threads_created_by_threads_by_index(a):
    need_cpus(2)
    r = a.shim_run([a.create, "nested"], """
[main]
cpus: 0
[thread first]
match_index: 1
cpus: 1
[thread second]
match_index: 2
cpus: 0-1
""").ok()
    placed(r.lines("outer")[0], "1", "outer thread")
    placed(r.lines("inner")[0], "0-1", "inner thread")
    expect_equal(sorted(e["seq"] for e in r.logged("thread")), [1, 2], "seq")


@check
def shim_program_attr_kept(a):
    need_cpus(2)
    r = a.shim_run([a.create, "attr"], MAIN0_THREADS1).ok()
    line, = r.lines("attr")
    placed(line, "1", "thread with the program's own attr")
    expect_equal((line["stack"], line["guard"], line["detached"]),
                 (str(256 * 1024), str(64 * 1024), "0"),
                 "stack, guard size and detach state kept")


@check
def shim_detached_and_cancelled_threads(a):
    need_cpus(2)
    r = a.shim_run([a.create, "detached"], MAIN0_THREADS1).ok()
    lines = r.lines("detached")
    expect_equal(len(lines), 4, "detached threads reported")
    for line in lines:
        placed(line, "1", "detached thread")
    r = a.shim_run([a.create, "cancel"], MAIN0_THREADS1).ok()
    placed(r.lines("cancel")[0], "1", "thread later cancelled")
    expect("cancelled=1" in r.stdout, f"cancelled: {r.stdout!r}")


@check
def shim_eight_threads_create_250_each_concurrently(a):
    need_cpus(2)
    r = a.shim_run([a.concurrency, "concurrent", "8", "250", "1"], MAIN0_THREADS1,
                   timeout=300).ok()
    line, = r.lines("concurrent")
    expect_equal((line["created"], line["misplaced"]), ("2000", "0"),
                 "threads created, and not on CPU 1")
    events = r.logged("thread")
    expect_equal(sorted(e["seq"] for e in events), list(range(1, 2009)),
                 "creation numbers, each once (8 creators + 2000)")
    expect(all(e["cpus"] == "1" and e["result"] == "ok" for e in events),
           "every event reports CPU 1 and ok")


def naming(a, mode):
    need_cpus(2)
    r = a.shim_run([a.naming, mode, "stepper_x"], """
[main]
cpus: 0
[thread steps]
match_name: stepper_*|extruder*
cpus: 1
[thread others]
cpus: 0
""").ok()
    after, = r.lines("after")
    expect_equal(after["name"], "stepper_x", "the name the program gave")
    placed(after, "1", f"thread named by {mode}")
    rename, = r.logged("rename")
    expect_equal((rename["name"], rename["rule"], rename["tid"]),
                 ("stepper_x", "steps", int(after["tid"])), "rename event")
    return r


@check
def shim_named_by_prctl(a):
    r = naming(a, "prctl")
    expect_equal(r.lines("before")[0]["cpus"], "0", "before its name")


@check
def shim_named_by_setname_self(a):
    r = naming(a, "setname-self")
    expect_equal(r.lines("before")[0]["cpus"], "0", "before its name")


@check
def shim_named_by_its_creator_with_setname(a):
    # The shim finds the other thread's tid with shim_tid_of.
    r = naming(a, "setname-other")
    expect("setname result=0" in r.stdout, f"setname: {r.stdout!r}")


@check
def shim_time64_program_named_by_prctl(a):
    # Built with _TIME_BITS=64, a 32-bit program calls prctl as
    # __prctl_time64 (<sys/prctl.h> renames it): the shim must see that
    # name too, or no thread of such a program is placed again when named.
    need_cpus(2)
    program = os.path.join(a.dir, "cross", "naming-time64")
    r = a.shim_run([program, "prctl", "stepper_x"], """
[main]
cpus: 0
[thread steps]
match_name: stepper_*
cpus: 1
[thread others]
cpus: 0
""").ok()
    expect_equal(r.lines("before")[0]["cpus"], "0", "before its name")
    placed(r.lines("after")[0], "1", "named by prctl (time64 program)")
    expect_equal(len(r.logged("rename")), 1, "rename events")
    library = os.path.join(a.dir, "cross", "libspawner-time64.so")
    r = a.shim_run([a.create, "dlopen", library, "2", "serialq mcu"], """
[thread serial]
match_name: serialq*
cpus: 1
[thread rest]
cpus: 0
""").ok()
    lines = r.lines("spawned")
    expect_equal(len(lines), 2, "library threads")
    for line in lines:
        expect_equal((line["before"], line["after"]), ("0", "1"),
                     "a time64 library's thread, placed again by name")


@check
def shim_dlopened_library_by_library_then_name(a):
    need_cpus(2)
    r = a.shim_run([a.create, "dlopen", a.spawner, "3", "serialq mcu"], """
[main]
cpus: 0
[thread serial]
match_name: serialq*
cpus: 0
[thread spawner]
match_library: libspawner.so
cpus: 1
[thread rest]
cpus: 0-1
""").ok()
    lines = r.lines("spawned")
    expect_equal(len(lines), 3, "library threads")
    for line in lines:
        expect_equal((line["before"], line["after"], line["proc"]),
                     ("1", "0", "0"), "placed by library, then by name")
    created = r.logged("thread")
    expect_equal({(e["library"], e["symbol"], e["caller"]) for e in created},
                 {("libspawner.so", None, "libspawner.so")},
                 "library, no symbol (static), caller")
    renames = r.logged("rename")
    expect_equal(len(renames), 3, "rename events")
    expect(all(e["rule"] == "serial" and e["cpus"] == "0" for e in renames),
           f"renamed by the serial rule onto CPU 0: {renames}")


@check
def shim_policy_and_nice(a):
    r = a.shim_run([a.create, "sched"],
                   "[thread batch]\npolicy: batch\nnice: 7\n").ok()
    line, = r.lines("sched")
    expect_equal((line["policy"], line["nice"]), ("3", "7"),
                 "SCHED_BATCH and nice 7, from inside")
    event, = r.logged("thread")
    expect_equal((event["policy"], event["nice"], event["result"]),
                 ("batch", 7, "ok"), "logged")
    if subprocess.run(["chrt", "-f", "1", "true"],
                      capture_output=True).returncode != 0:
        return  # no real-time here: batch and nice were the check
    r = a.shim_run([a.create, "sched"],
                   "[thread rt]\npolicy: fifo\npriority: 10\n").ok()
    line, = r.lines("sched")
    expect_equal((line["policy"], line["priority"]), ("1", "10"),
                 "SCHED_FIFO 10, from inside")
    event, = r.logged("thread")
    expect_equal((event["policy"], event["priority"]), ("fifo", 10), "logged")


@check
def shim_keeps_errno_and_result(a):
    plain = a.shim_run([a.failures, "errno"], preload=False).ok()
    shimmed = a.shim_run([a.failures, "errno"], MAIN0_THREADS1).ok()
    expect_equal(shimmed.lines("errno"), plain.lines("errno"),
                 "as without the shim")
    expect_equal(shimmed.lines("errno"), [{"result": "0", "errno": "1234"}],
                 "pthread_create's result and errno")
    expect_equal(len(shimmed.logged("thread")), 1, "and it was placed")


@check
def shim_log_file_past_2_gib(a):
    # A log file appended to for long grows past 2 GiB. Built without
    # _FILE_OFFSET_BITS=64, armhf's fstat fails on it (EOVERFLOW: st_size
    # does not fit a 32-bit off_t), so the shim takes the file for another
    # and stops logging; a real armhf kernel would also refuse the writes
    # (EFBIG: opened without O_LARGEFILE). The file here is sparse.
    log = a.path("big.log")
    size = 3 << 30
    with open(log, "wb") as big:
        big.truncate(size)
    r = a.shim_run([a.create, "basic", "1"], MAIN0_THREADS1,
                   env={"KLIPPER_PIN_LOG": log}).ok()
    placed(r.lines("thread")[0], "1", "created thread")
    with open(log, "rb") as big:
        big.seek(size)
        tail = big.read().decode(errors="replace").splitlines()
    expect_equal([json.loads(line)["event"] for line in tail],
                 ["main", "thread"], "events appended past 3 GiB")


CHILDREN = "[main]\ncpus: 0\n[thread all]\ncpus: 0\n[children]\ncpus: 1\n"


@check
def shim_forked_child_on_children_cpus(a):
    need_cpus(2)
    r = a.shim_run([a.processes, "fork"], CHILDREN).ok()
    placed(r.lines("main")[0], "0", "main thread")
    child, = r.lines("child")
    placed(child, "1", "forked child")
    event, = r.logged("child")
    expect_equal((event["pid"], event["cpus"], event["rule"]),
                 (event["tid"], "1", "children"), "child event")
    expect(event["pid"] != r.pid, "the child's own pid")


@check
def shim_spawned_children_on_children_cpus(a):
    need_cpus(2)
    # posix_spawn and vfork+exec of an ARM program: a host script that
    # runs it under qemu, so the guest gets the environment, shim included.
    wrapper = a.write("report-cpus",
                      f'#!/bin/sh\nexec {a.qemu} {a.report_cpus} "$@"\n', 0o755)
    r = a.shim_run([a.processes, "spawn", wrapper], CHILDREN).ok()
    reports = {line["tag"]: line for line in r.lines("report")}
    expect_equal(sorted(reports), ["posix_spawn", "vfork"], "children ran")
    for tag, report in reports.items():
        placed(report, "1", f"{tag} child")
        expect_equal(int(report["ppid"]), r.pid, f"{tag} child's parent")
    children = r.logged("child")
    expect_equal(sorted(e["pid"] for e in children),
                 sorted(int(rep["pid"]) for rep in reports.values()),
                 "a child event for each spawned program")


# ---- the launcher on ARM -------------------------------------------------------

@check
def launcher_version(a):
    r = a.launch(["--version"]).ok()
    expect(re.fullmatch(r"klipper-pin \d+\.\d+\.\d+\n", r.stdout), r.stdout)
    same_as_host(a, r, ["--version"], "--version")


@check
def launcher_check_shipped_config(a):
    shipped = os.path.join(ROOT, "config", "klipper-pin.conf")
    r = a.launch(["check", "--config", shipped]).ok("check of the shipped config")
    expect(f"config:   {shipped}\n" in r.stdout, r.stdout)
    expect(r.stdout.endswith("valid\n"), r.stdout)
    same_as_host(a, r, ["check", "--config", shipped], "check")


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
    ("[main]\ncpus: " + ",".join(["0"] * 120) + "\n", 2, ["line too long"]),
    # numbers that do not fit 32 bits: where a 32-bit long would wrap
    ("[main]\ncpus: 4294967297\n", 2, ["4294967297", "8191"]),
    ("[main]\ncpus: 0-7:4294967297\n", 2, ["0-7:4294967297"]),
    ("[main]\nnice: 4294967296\n", 2, ["bad nice '4294967296'"]),
    ("[main]\npolicy: rr\npriority: 4294967306\n", 3,
     ["bad priority '4294967306'"]),
    ("[thread x]\nmatch_index: 4294967298\ncpus: 1\n", 2,
     ["match_index", "4294967298"]),
]


@check
def launcher_bad_configs_exit_1_and_125_with_file_line(a):
    marker = a.path("ran")
    for text, line, words in BAD_CONFIGS:
        path = a.write("bad.conf", text)
        checked = a.launch(["check", "--config", path])
        expect_equal(checked.code, 1, f"check of {text!r}")
        expect(checked.stderr.startswith(f"klipper-pin: {path}:{line}: "),
               f"file:line for {text!r}: {checked.stderr!r}")
        expect_equal(checked.stderr.count("\n"), 1, "one line of error")
        for word in words:
            expect(word in checked.stderr, f"{word!r} in {checked.stderr!r}")
        same_as_host(a, checked, ["check", "--config", path], f"{text!r}")
        ran = a.launch(["--config", path, "--", "/bin/touch", marker])
        expect_equal(ran.code, 125, f"exit status for {text!r}")
        expect_equal(ran.stderr, checked.stderr, "the launcher says the same")
        expect(not os.path.exists(marker), f"program ran for {text!r}")


@check
def launcher_big_index_lists_described_as_on_the_host(a):
    # check prints a match_index list by walking it; a 32-bit counter must
    # neither wrap (an endless loop) nor differ from the host.
    for index in ("1-4000000000:1073741824", "2-4000000000:2147483648",
                  "3999999999-4000000000", "5-40:7"):
        path = a.write("index.conf", f"[thread x]\nmatch_index: {index}\n"
                       "cpus: 0\n")
        r = a.launch(["check", "--config", path], timeout=20)
        r.ok(f"check of match_index {index}")
        expect("match: index=" in r.stdout, r.stdout)
        same_as_host(a, r, ["check", "--config", path], f"match_index {index}")


@check
def launcher_dry_run_finds_the_shim_beside_it(a):
    marker = a.path("ran")
    config = a.write("plan.conf", "[main]\ncpus: 0\n")
    r = a.launch(["-n", "-c", config, "--", "/bin/touch", marker,
                  "with space"]).ok()
    expect(not os.path.exists(marker), "the program did not run")
    for words in ("main:     cpus 0",
                  f"command: /bin/touch {marker} 'with space'",
                  f"shim:    {a.shim}"):
        expect(words in r.stdout, f"{words!r} in {r.stdout!r}")


@check
def launcher_exit_codes_like_env(a):
    plain = a.write("not-executable", "#!/bin/sh\n")
    for args, code, what in (
            (["--", "/no/such/program"], 127, "not found"),
            (["no-such-program-anywhere"], 127, "not found on PATH"),
            (["--", plain], 126, "not executable"),
            (["--log", "none", "--", "/bin/sh", "-c", "exit 7"], 7,
             "the program's own status"),
            ([], 125, "no command"),
            (["--bogus", "true"], 125, "unknown option"),
            (["--shim", "/no/such.so", "true"], 125, "missing shim")):
        expect_equal(a.launch(args).code, code, what)


@check
def launcher_same_pid_and_environment(a):
    r = a.launch(["--log", "none", "--", "/bin/sh", "-c",
                  'echo "$$ $KLIPPER_PIN_PID $LD_PRELOAD"'],
                 env={"LD_PRELOAD": "libc.so.6"}).ok()
    pid, target, preload = r.stdout.split(" ", 2)
    expect_equal((int(pid), int(target)), (r.pid, r.pid),
                 "the program runs as the launcher's PID, passed on")
    expect_equal(re.split(r"[ :]", preload.strip()), ["libc.so.6", a.shim],
                 "LD_PRELOAD keeps its entries, the ARM shim added")


@check
def launcher_then_shim_whole_chain(a):
    # qemu launcher -- qemu create: the launcher's exec keeps the PID it
    # passed on, so the shim in the ARM program finds itself the target.
    need_cpus(2)
    config = a.write("chain.conf", MAIN0_THREADS1)
    log = a.path("chain.log")
    r = a.launch(["--config", config, "--log", log, "--log-format", "json",
                  "--", a.qemu, a.create, "basic", "3"], log=log).ok()
    placed(r.lines("main")[0], "0", "main thread")
    threads = r.lines("thread")
    expect_equal(len(threads), 3, "threads reported")
    for line in threads:
        placed(line, "1", "created thread")
    main, = r.logged("main")
    expect_equal((main["pid"], main["tid"]), (r.pid, r.pid), "main event")
    expect_equal(len(r.logged("thread")), 3, "thread events")
    expect_equal(r.logged("child"), [], "not taken for a child")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[-1])
        return 2
    arch = sys.argv[1]
    if arch not in QEMU:
        print(f"test_arm: unknown architecture {arch!r}")
        return 2
    a = Arm(arch, sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
    passed = failed = skipped = 0
    try:
        try:
            size, = a.probe_lines("size")
            print(f"info {arch}: " + " ".join(f"{k}={v}" for k, v in size.items()))
            if a.host:
                host = subprocess.run([os.path.join(a.host, "cross", "abi-probe")],
                                      capture_output=True, text=True)
                for line in host.stdout.splitlines():
                    if line.startswith("size "):
                        print(f"info host: {line[5:]}")
        except Exception as error:  # the probe check says more below
            print(f"info {arch}: abi-probe failed: {error}")
        for function in CHECKS:
            name = function.__name__
            started = time.monotonic()
            try:
                function(a)
            except Skip as reason:
                skipped += 1
                print(f"SKIP {arch} {name}: {reason}")
            except Exception:  # a failed check, whatever it raised
                failed += 1
                print(f"FAIL {arch} {name}")
                print("  " + traceback.format_exc().rstrip().replace("\n", "\n  "))
            else:
                passed += 1
                print(f"ok   {arch} {name} ({time.monotonic() - started:.2f}s)")
            sys.stdout.flush()
    finally:
        a.close()
    tail = f", {skipped} skipped" if skipped else ""
    print(f"cross-{arch}: {passed} passed, {failed} failed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
