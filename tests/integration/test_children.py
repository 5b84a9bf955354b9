"""Child processes of the launched program go to [children], never to the
[main] CPUs: forked (atfork runs), and spawned by posix_spawn or vfork
(no atfork handler runs; the shim places the new program as it loads)."""
from harness import (PYTHON, expect, expect_equal, need_cpus,
                     need_no_thread_sanitizer)

PLAN = """
[main]
cpus: 0
[thread all]
cpus: 0
[children]
cpus: 1
"""


def test_forked_child_on_children_cpus(run):
    need_cpus(2)
    result = run.launch([run.build.processes, "fork"], PLAN)
    expect_equal(result.code, 0, "exit status")
    expect_equal(result.lines("main")[0]["cpus"], "0", "main thread")
    child, = result.lines("child")
    expect_equal(child["cpus"], "1", "forked child, from inside")
    expect_equal(child["proc"], "1", "forked child, /proc")
    event, = result.logged("child")
    expect_equal((event["pid"], event["cpus"], event["rule"]),
                 (event["tid"], "1", "children"), "child event")


def test_child_forked_by_a_thread_is_logged_with_its_name(run):
    need_cpus(2)
    result = run.launch([run.build.processes, "fork-thread"], PLAN)
    expect_equal(result.code, 0, "exit status")
    child, = result.lines("child")
    expect_equal((child["name"], child["cpus"]), ("forker", "1"),
                 "the child, as it reports itself")
    event, = result.logged("child")
    expect_equal((event["pid"], event["name"], event["cpus"]),
                 (event["tid"], "forker", "1"), "child event")


def test_posix_spawn_and_vfork_children_on_children_cpus(run):
    need_cpus(2)
    result = run.launch([run.build.processes, "spawn", run.build.report_cpus],
                        PLAN)
    expect_equal(result.code, 0, "exit status")
    reports = {r["tag"]: r for r in result.lines("report")}
    expect_equal(sorted(reports), ["posix_spawn", "vfork"], "children ran")
    for tag, report in reports.items():
        expect_equal(report["cpus"], "1", f"{tag} child's CPUs")
        expect_equal(report["proc"], "1", f"{tag} child's /proc")
    children = result.logged("child")
    expect_equal(sorted({e["pid"] for e in children}),
                 sorted(int(r["pid"]) for r in reports.values()),
                 "a child event for each spawned program")


def test_children_of_children_stay_off_main(run):
    need_cpus(2)
    # The launched program forks a program that spawns: its placement is
    # the children's, and no [thread] rule applies to its threads. (The
    # program is an argument of the shell, not in its script, so that the
    # harness sees it and can run it as this build's programs run.)
    result = run.launch(["/bin/sh", "-c", '"$@"; true', "sh",
                         run.build.create, "basic", "2"], PLAN)
    expect_equal(result.code, 0, "exit status")
    expect_equal(result.lines("main")[0]["cpus"], "1",
                 "a program the shell forked")
    for line in result.lines("thread"):
        expect_equal(line["cpus"], "1", "its threads inherit [children]")
    expect_equal(result.logged("thread"), [], "no [thread] rule applied")


def test_python_subprocess_and_multiprocessing_children(run):
    need_cpus(2)
    need_no_thread_sanitizer("an uninstrumented Python's threads crash it")
    result = run.launch([PYTHON, run.build.klippy_like, run.build.spawner,
                         run.build.report_cpus], PLAN)
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    reports = {r["tag"]: r for r in result.lines("report")}
    expect_equal(sorted(reports), ["subprocess-False", "subprocess-True"],
                 "subprocess children ran")
    for tag, report in reports.items():
        expect_equal(report["cpus"], "1", f"{tag}: CPUs")
    fork, = result.lines("forkchild")
    expect_equal(fork["cpus"], "1", "multiprocessing fork child")
    expect(len(result.logged("child")) >= 3, "child events logged")


def test_a_child_whose_stderr_is_captured_gets_no_log_lines(run):
    # The parent reads the child's stderr: log lines there would change
    # what it sees. The launched program's own stderr still gets them.
    script = ("import subprocess, sys\n"
              f"r = subprocess.run([{run.build.report_cpus!r}, 'x'],"
              " capture_output=True)\n"
              "print('captured', repr(r.stderr.decode()))\n")
    result = run.run([run.build.launcher, "-c",
                      run.write("p.conf", PLAN), "--", PYTHON, "-c", script])
    expect_equal(result.returncode, 0, f"exit status: {result.stderr}")
    expect_equal(result.stdout.strip(), "captured ''",
                 "nothing in the captured stderr")
    expect("event=main" in result.stderr, "the program's own log lines")
