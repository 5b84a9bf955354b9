"""Placements the kernel refuses, and CPUs that are not there: each is
logged, and the program runs on as it would have without the shim."""
import os
import shutil

import json
import subprocess

from harness import (SANITIZED, VALGRIND, Skip, expect, expect_equal, need_cpus,
                     online_cpus, parse_fields)


def test_realtime_without_permission_is_logged_and_the_program_runs(run):
    if not shutil.which("setpriv"):
        raise Skip("setpriv (util-linux) is not installed")
    # Without CAP_SYS_NICE (and RLIMIT_RTPRIO 0) fifo and a lower nice fail.
    result = run.launch([run.build.create, "sched"], """
[thread rt]
policy: fifo
priority: 10
nice: -5
""", prefix=("setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice",
             "prlimit", "--rtprio=0", "--"))
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    line, = result.lines("sched")
    expect_equal((line["policy"], line["priority"]), ("0", "0"),
                 "still SCHED_OTHER")
    event, = result.logged("thread")
    expect("policy EPERM" in event["result"], event["result"])
    expect("nice EACCES" in event["result"] or "nice EPERM" in event["result"],
           event["result"])
    expect_equal(event["policy"], "other", "policy read back")


def cpuset_cgroup(run, cpus):
    """A cpuset cgroup allowing only cpus; its tasks file, or Skip."""
    v1 = "/sys/fs/cgroup/cpuset"
    if os.path.isdir(v1) and os.access(v1, os.W_OK):
        path = os.path.join(v1, f"klipper-pin-test-{os.getpid()}")
        os.mkdir(path)
        with open(os.path.join(v1, "cpuset.mems")) as mems:
            parent_mems = mems.read().strip()
        with open(os.path.join(path, "cpuset.cpus"), "w") as out:
            out.write(cpus)
        with open(os.path.join(path, "cpuset.mems"), "w") as out:
            out.write(parent_mems)
        return path, os.path.join(path, "tasks")
    v2 = "/sys/fs/cgroup"
    controllers = os.path.join(v2, "cgroup.controllers")
    if os.path.exists(controllers) and os.access(v2, os.W_OK):
        with open(controllers) as text:
            if "cpuset" in text.read().split():
                with open(os.path.join(v2, "cgroup.subtree_control"), "w") as out:
                    out.write("+cpuset")
                path = os.path.join(v2, f"klipper-pin-test-{os.getpid()}")
                os.mkdir(path)
                with open(os.path.join(path, "cpuset.cpus"), "w") as out:
                    out.write(cpus)
                return path, os.path.join(path, "cgroup.procs")
    raise Skip("no writable cpuset cgroup (needs root and the cpuset "
               "controller) to forbid a CPU")


def pids_cgroup(limit):
    """A pids cgroup allowing limit tasks; its directory and tasks file."""
    v1 = "/sys/fs/cgroup/pids"
    if os.path.isdir(v1) and os.access(v1, os.W_OK):
        path = os.path.join(v1, f"klipper-pin-test-{os.getpid()}")
        os.mkdir(path)
        with open(os.path.join(path, "pids.max"), "w") as out:
            out.write(str(limit))
        return path, os.path.join(path, "tasks")
    v2 = "/sys/fs/cgroup"
    controllers = os.path.join(v2, "cgroup.controllers")
    if os.path.exists(controllers) and os.access(v2, os.W_OK):
        with open(controllers) as text:
            if "pids" in text.read().split():
                path = os.path.join(v2, f"klipper-pin-test-{os.getpid()}")
                os.mkdir(path)
                with open(os.path.join(path, "pids.max"), "w") as out:
                    out.write(str(limit))
                return path, os.path.join(path, "cgroup.procs")
    raise Skip("no writable pids cgroup (needs root and the pids "
               "controller) to make pthread_create fail")


def test_pthread_create_failing_returns_the_real_error(run):
    outcomes = []
    for shim in (False, True):
        path, tasks = pids_cgroup(12)
        try:
            launcher = ([run.build.launcher, "-c",
                         run.write("p.conf", "[thread all]\ncpus: all\n"),
                         "--log", "none", "--"] if shim else [])
            completed = run.run(["/bin/sh", "-c",
                                 f'echo $$ > {tasks} && exec "$@"', "sh"] +
                                launcher + [run.build.failures, "exhaust"])
        finally:
            os.rmdir(path)
        expect_equal(completed.returncode, 0, f"exit ({completed.stderr})")
        line = parse_fields(completed.stdout.split("exhaust ", 1)[1])
        outcomes.append(line)
    plain, placed = outcomes
    expect_equal(placed["result"], "11", "EAGAIN, as pthread_create returns")
    expect_equal(placed, plain, "the same threads, error and errno")


def test_a_failed_creation_takes_no_number_and_no_spread_turn(run):
    """match_index counts the threads the process creates, and spread
    deals its CPUs to them: a pthread_create that fails creates none."""
    need_cpus(2)
    result = run.launch([run.build.failures, "numbering"],
                        "[thread second]\nmatch_index: 2\ncpus: 0\n"
                        "[thread rest]\nspread: 0-1\n")
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    line, = result.lines("numbering")
    expect_equal((line["created"], line["failed"]), ("4", "2"),
                 "four created, two failed")
    placed = [(e["seq"], e["rule"], e["cpus"]) for e in result.logged("thread")]
    expect_equal(placed, [(1, "rest", "0"), (2, "second", "0"),
                          (3, "rest", "1"), (4, "rest", "0")],
                 "creation numbers and spread turns of the threads created")
    ran = [result.lines("numbered")[i]["cpus"] for i in range(4)]
    expect_equal(ran, ["0", "0", "1", "0"], "where each thread ran")


def test_threads_that_exit_at_once(run):
    result = run.launch([run.build.create, "exit-now", "200"],
                        "[thread all]\ncpus: all\n")
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    expect("exit-now created=200" in result.stdout, result.stdout)
    expect_equal(len(result.logged("thread")), 200, "every one placed")


def test_creating_threads_under_a_storm_of_signals(run):
    need_cpus(2)
    # valgrind runs one thread at a time and takes each of the 20,000
    # signals a second itself: a tenth of the threads, as much time. And
    # its handlers SA_RESTART there: valgrind turns a FUTEX_WAKE that a
    # signal meets into EINTR without the wake when the handler has no
    # SA_RESTART, so that glibc's pthread_create, which ignores the
    # result, loses the wake of a thread created with CPUs in its attr
    # (as the shim places one) and hangs, the shim or not (failures.c).
    count = "200" if VALGRIND else "2000"
    restart = ["restart"] if VALGRIND else []
    result = run.launch([run.build.failures, "signals", count] + restart,
                        "[main]\ncpus: 0\n[thread all]\ncpus: 1\n",
                        timeout=600 if VALGRIND else 120)
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    line, = result.lines("signals")
    expect_equal((line["created"], line["failed"], line["placed"]),
                 (count, "0", count), "created and placed, none failed")
    expect(int(line["seen"]) > 100, f"signals arrived: {line['seen']}")


def test_program_that_closes_every_descriptor(run):
    victim = run.path("victim")
    result = run.launch([run.build.fds, "closefds", victim],
                        "[thread all]\ncpus: all\n")
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    expect_equal(len(result.lines("thread")), 3, "threads ran")
    expect_equal(os.path.getsize(victim), 0,
                 "no log line in the program's own file")
    expect_equal(len(result.logged("main")), 1, "logged until then")


def test_closed_stderr_then_reused_by_the_program(run):
    victim = run.path("victim")
    config = run.write("p.conf", "[thread all]\ncpus: all\n")
    completed = run.run(["/bin/sh", "-c", 'exec 2>&-; exec "$@"', "sh",
                         run.build.launcher, "-c", config, "--",
                         run.build.fds, "stderr-file", victim])
    expect_equal(completed.returncode, 0, completed.stdout)
    expect_equal(completed.stdout.count("thread tid="), 3, "threads ran")
    expect_equal(os.path.getsize(victim), 0,
                 "no log line in the file that became fd 2")


def test_stderr_reader_gone_neither_kills_nor_blocks(run):
    read_end, write_end = os.pipe()
    os.close(read_end)
    config = run.write("p.conf", "[thread all]\ncpus: all\n")
    completed = run.run([run.build.launcher, "-c", config, "--",
                         run.build.create, "basic", "50"],
                        stderr=write_end, capture_output=False,
                        stdout=subprocess.PIPE)
    os.close(write_end)
    expect_equal(completed.returncode, 0, "no SIGPIPE")
    expect_equal(completed.stdout.count("thread tid="), 50, "threads ran")


def test_log_to_a_full_disk(run):
    result = run.run([run.build.launcher, "-c",
                      run.write("p.conf", "[klipper-pin]\nlog: /dev/full\n"
                                "[thread all]\ncpus: all\n"),
                      "--", run.build.create, "basic", "20"])
    expect_equal(result.returncode, 0, result.stderr)
    expect_equal(result.stdout.count("thread tid="), 20, "threads ran")


def test_log_file_is_close_on_exec(run):
    log = run.path("log")
    result = run.run([run.build.launcher, "-l", log, "--",
                      run.build.fds, "list"])
    ours = [parse_fields(line[3:]) for line in result.stdout.splitlines()
            if line.startswith("fd ") and line.endswith(log)]
    expect_equal(len(ours), 1, f"the log open once: {result.stdout}")
    expect_equal(ours[0]["cloexec"], "1", "close-on-exec")
    expect(int(ours[0]["number"]) >= 100, "kept above the low numbers")


def test_cpu_forbidden_by_cgroup_is_logged_and_the_thread_runs(run):
    need_cpus(2)
    path, tasks = cpuset_cgroup(run, "0")
    try:
        completed = run.run(["/bin/sh", "-c", f'echo $$ > {tasks} && exec "$@"',
                             "sh", run.build.launcher, "--config",
                             run.write("c.conf", "[main]\ncpus: 1\n"
                                       "[thread all]\ncpus: 1\n"),
                             "--log", run.path("log-cg"), "--log-format",
                             "json", "--", run.build.create, "basic", "2"])
    finally:
        os.rmdir(path)
    expect_equal(completed.returncode, 0, f"exit status ({completed.stderr})")
    threads = [parse_fields(line[len("thread "):])
               for line in completed.stdout.splitlines()
               if line.startswith("thread ")]
    expect_equal(len(threads), 2, "threads ran")
    for line in threads:
        expect_equal(line["cpus"], "0", "where the cgroup lets it run")
    with open(run.path("log-cg")) as log:
        events = [json.loads(line) for line in log]
    created = [e for e in events if e["event"] == "thread"]
    expect_equal(len(created), 2, "thread events")
    for event in created:
        expect_equal(event["result"], "affinity EINVAL", "logged failure")
        expect_equal((event["want"], event["cpus"]), ("1", "0"),
                     "wanted and read back")
    main, = [e for e in events if e["event"] == "main"]
    expect_equal(main["result"], "affinity EINVAL", "main's failure logged")


def test_offline_cpu_warns_and_skips_unless_strict(run):
    beyond = max(online_cpus()) + 1
    text = f"[main]\ncpus: 0\n[thread far]\ncpus: {beyond}\n"
    result = run.launch([run.build.create, "basic", "1"], text)
    expect_equal(result.code, 0, "exit status")
    warning, = result.logged("config")
    expect(f":4: CPU {beyond} in [thread far] is not online" in
           warning["message"], warning["message"])
    event, = result.logged("thread")
    expect_equal((event["want"], event["result"]),
                 ("inherit", "skipped: CPU not online"), "skipped placement")
    expect_equal(result.lines("thread")[0]["cpus"], "0",
                 "the thread keeps its creator's CPUs")
    check = run.run([run.build.launcher, "check", "-c",
                     run.write("far.conf", text)])
    expect_equal(check.returncode, 0, "check: a warning is still valid")
    expect("not online here" in check.stdout, check.stdout)

    strict = run.write("strict.conf", "[klipper-pin]\nstrict: yes\n" + text)
    result = run.run([run.build.launcher, "-c", strict, "--", "true"])
    expect_equal(result.returncode, 125, "strict: refuses to start")
    expect(f"strict.conf:6: CPU {beyond} in [thread far] is not online" in
           result.stderr, result.stderr)


def test_a_process_that_is_not_the_target_gets_only_children(run):
    # A process whose KLIPPER_PIN_PID names another process is a child:
    # no [main] or [thread] rule applies, only [children].
    config = run.write("p.conf", "[main]\ncpus: 0\n[thread all]\ncpus: 0\n"
                       "[children]\ncpus: 1\n[klipper-pin]\nlog: none\n")
    result = run.run([run.build.create, "basic", "1"],
                     env={"LD_PRELOAD": run.build.shim,
                          "KLIPPER_PIN_CONFIG": config,
                          "KLIPPER_PIN_PID": "1"})
    lines = [l for l in result.stdout.splitlines()]
    expect(lines and all(" cpus=1 " in l for l in lines),
           f"everything on [children] CPUs: {lines}")


def test_valgrind_finds_no_error_and_no_leak(run):
    if SANITIZED:
        raise Skip("valgrind cannot run a sanitizer build; the plain "
                   "`make check` runs this test")
    if not shutil.which("valgrind"):
        raise Skip("valgrind is not installed (the README's install step "
                   "installs it)")
    config = run.write("v.conf", "[main]\ncpus: 0\n[thread named]\n"
                       "match_name: w*\ncpus: all\n[thread all]\n"
                       "spread: all\n[klipper-pin]\nlog: none\n")
    build = run.build
    for mode in ([build.create, "basic", "4"], [build.naming, "prctl", "worker"],
                 [build.naming, "setname-other", "worker"],
                 [build.create, "detached"], [build.create, "cancel"],
                 [build.processes, "fork"], [build.create, "attr"],
                 [build.create, "exit-now", "20"],
                 [build.concurrency, "stress", "4", "50", "2"]):
        result = run.run(["valgrind", "-q", "--trace-children=yes",
                          "--leak-check=full",
                          "--show-leak-kinds=definite,indirect",
                          "--errors-for-leak-kinds=definite,indirect",
                          "--error-exitcode=99", run.build.launcher, "-c",
                          config, "--"] + mode,
                         timeout=300)
        expect_equal(result.returncode, 0,
                     f"valgrind on {os.path.basename(mode[0])} {mode[1]}: "
                     f"{result.stderr[-2000:]}")
