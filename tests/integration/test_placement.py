"""Threads of a real C program placed by the real shim: every way of
creating a thread, each thread's CPUs read from inside it and from /proc."""
import os

from harness import (THREAD_SANITIZED, VALGRIND, expect, expect_equal, need_cpus,
                     need_no_thread_sanitizer, need_own_pthread_create,
                     parse_fields)

MAIN0_THREADS1 = """
[main]
cpus: 0
[thread all]
cpus: 1
"""


def placed(line, cpus, what):
    expect_equal(line["cpus"], cpus, f"{what}: CPUs from inside the thread")
    expect_equal(line["proc"], cpus, f"{what}: Cpus_allowed_list in /proc")


def test_builtin_plan_main_second_to_last_threads_last(run):
    need_cpus(2)
    if os.path.exists("/etc/klipper-pin.conf"):
        expect(False, "/etc/klipper-pin.conf exists: the built-in plan "
               "cannot be tested on this machine")
    last = str(max(int(c) for c in os.sched_getaffinity(0)))
    result = run.launch([run.build.create, "basic", "4"])
    expect_equal(result.code, 0, "exit status")
    main, = result.lines("main")
    threads = result.lines("thread")
    expect_equal(len(threads), 4, "threads reported")
    from harness import online_cpus
    online = online_cpus()
    placed(main, str(online[-2]), "main thread")
    for thread in threads:
        placed(thread, last, "created thread")
    expect_equal(len(result.logged("thread")), 4, "thread events logged")


def test_config_places_main_and_threads(run):
    need_cpus(2)
    result = run.launch([run.build.create, "basic", "3"], """
[main]
cpus: 1
[thread all]
cpus: 0
""")
    expect_equal(result.code, 0, "exit status")
    placed(result.lines("main")[0], "1", "main thread")
    for thread in result.lines("thread"):
        placed(thread, "0", "created thread")


def test_threads_created_by_threads(run):
    need_cpus(2)
    # match_index: the outer thread is the first created, the inner the second.
    result = run.launch([run.build.create, "nested"], """
[main]
cpus: 0
[thread first]
match_index: 1
cpus: 1
[thread second]
match_index: 2
cpus: 0-1
""")
    expect_equal(result.code, 0, "exit status")
    placed(result.lines("outer")[0], "1", "outer thread")
    placed(result.lines("inner")[0], "0-1", "inner thread")
    seqs = sorted(e["seq"] for e in result.logged("thread"))
    expect_equal(seqs, [1, 2], "creation numbers logged")


def test_caller_attr_keeps_stack_guard_and_is_placed(run):
    need_cpus(2)
    result = run.launch([run.build.create, "attr"], MAIN0_THREADS1)
    expect_equal(result.code, 0, "exit status")
    line, = result.lines("attr")
    placed(line, "1", "thread with the program's own attr")
    if not THREAD_SANITIZED:  # it enlarges every thread's stack
        # As glibc reads it back without the shim: 256 KiB asked for
        # reads back as 256 KiB and a page on glibc 2.31.
        plain = run.run([run.build.create, "attr"]).stdout
        plain = parse_fields(plain.split("attr ", 1)[1])
        expect_equal(line["stack"], plain["stack"],
                     "stack size as without the shim")
    expect_equal(line["guard"], str(64 * 1024), "guard size kept")
    expect_equal(line["detached"], "0", "detach state kept")
    if os.geteuid() == 0:  # the fixture asks for SCHED_RR 3 when it may
        expect_equal((line["policy"], line["priority"]), ("2", "3"),
                     "the attr's scheduling kept")


def test_affinity_in_the_callers_attr_yields_to_a_matching_rule(run):
    need_cpus(2)
    # As the README says: a matching rule's CPUs win; without one, the
    # program's own choice stands.
    result = run.launch([run.build.create, "attr-cpu0"],
                        "[thread all]\ncpus: 1\n")
    placed(result.lines("attrcpu")[0], "1", "attr CPU 0, rule CPU 1")
    result = run.launch([run.build.create, "attr-cpu0"],
                        "[thread none]\nmatch_index: 5\ncpus: 1\n")
    placed(result.lines("attrcpu")[0], "0", "attr CPU 0, no rule")


def test_detached_threads(run):
    need_cpus(2)
    result = run.launch([run.build.create, "detached"], MAIN0_THREADS1)
    expect_equal(result.code, 0, "exit status")
    lines = result.lines("detached")
    expect_equal(len(lines), 4, "detached threads reported")
    for line in lines:
        placed(line, "1", "detached thread")


def test_cancelled_thread(run):
    need_cpus(2)
    need_no_thread_sanitizer("pthread_cancel's unwinding hides the locks "
                             "taken in a thread's key destructors")
    result = run.launch([run.build.create, "cancel"], MAIN0_THREADS1)
    expect_equal(result.code, 0, "exit status")
    placed(result.lines("cancel")[0], "1", "thread later cancelled")
    expect("cancelled=1" in result.stdout, "the thread was cancelled")


def test_eight_threads_create_a_thousand_each_concurrently(run):
    need_cpus(2)
    each = 100 if VALGRIND else 1000  # valgrind runs one thread at a time
    result = run.launch([run.build.concurrency, "concurrent", "8", str(each),
                         "1"], MAIN0_THREADS1, timeout=300)
    expect_equal(result.code, 0, "exit status")
    line, = result.lines("concurrent")
    expect_equal(line["created"], str(8 * each), "threads created and run")
    expect_equal(line["misplaced"], "0", "threads not on CPU 1")
    events = result.logged("thread")
    expect_equal(len(events), 8 * each + 8, "thread events (8 creators + the rest)")
    expect_equal(sorted(e["seq"] for e in events),
                 list(range(1, 8 * each + 9)), "creation numbers: each once")
    expect(all(e["cpus"] == "1" and e["result"] == "ok" for e in events),
           "every event reports CPU 1 and ok")


def test_threads_of_a_dlopened_library_by_library_then_name(run):
    need_cpus(2)
    need_own_pthread_create()
    result = run.launch([run.build.create, "dlopen", run.build.spawner,
                         "3", "serialq mcu"], """
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
""")
    expect_equal(result.code, 0, "exit status")
    lines = result.lines("spawned")
    expect_equal(len(lines), 3, "library threads")
    for line in lines:
        expect_equal(line["before"], "1", "placed by library at creation")
        expect_equal(line["after"], "0", "placed again by name")
        expect_equal(line["proc"], "0", "/proc after naming")
    created = result.logged("thread")
    expect_equal({e["library"] for e in created}, {"libspawner.so"},
                 "library logged")
    expect_equal({e["caller"] for e in created}, {"libspawner.so"},
                 "caller logged")
    expect_equal({e["symbol"] for e in created}, {None},
                 "a static start routine has no symbol")
    renames = result.logged("rename")
    expect_equal(len(renames), 3, "rename events")
    expect(all(e["rule"] == "serial" and e["cpus"] == "0" for e in renames),
           "renamed by the serial rule onto CPU 0")


def naming_test(run, mode):
    need_cpus(2)
    result = run.launch([run.build.naming, mode, "stepper_x"], """
[main]
cpus: 0
[thread steps]
match_name: stepper_*|extruder*
cpus: 1
[thread others]
cpus: 0
""")
    expect_equal(result.code, 0, "exit status")
    after, = result.lines("after")
    expect_equal(after["name"], "stepper_x", "the name the program gave")
    placed(after, "1", f"thread named by {mode}")
    rename, = result.logged("rename")
    expect_equal(rename["name"], "stepper_x", "name logged")
    expect_equal(rename["rule"], "steps", "rule logged")
    return result


def test_named_by_prctl(run):
    result = naming_test(run, "prctl")
    expect_equal(result.lines("before")[0]["cpus"], "0", "before its name")


def test_named_by_setname_self(run):
    result = naming_test(run, "setname-self")
    expect_equal(result.lines("before")[0]["cpus"], "0", "before its name")


def test_named_by_its_creator_with_setname(run):
    result = naming_test(run, "setname-other")
    expect("setname result=0" in result.stdout, "pthread_setname_np result")


def test_name_matching_the_same_rule_changes_nothing(run):
    need_cpus(2)
    # Both threads match "spread" at creation and again when named: a
    # spread rule must not advance, so no rename event at all.
    result = run.launch([run.build.naming, "prctl", "worker"], """
[thread spread]
spread: 0-1
""")
    expect_equal(result.code, 0, "exit status")
    expect_equal(result.logged("rename"), [], "rename events")
    expect_equal(result.lines("before")[0]["cpus"],
                 result.lines("after")[0]["cpus"], "CPUs kept")


def test_spread_round_robin(run):
    need_cpus(2)
    result = run.launch([run.build.create, "basic", "6"], """
[main]
cpus: 0
[thread spread]
spread: 0-1
""")
    expect_equal(result.code, 0, "exit status")
    by_seq = sorted(result.logged("thread"), key=lambda e: e["seq"])
    expect_equal([e["cpus"] for e in by_seq], ["0", "1"] * 3,
                 "CPUs in creation order")
    cpus = sorted(line["cpus"] for line in result.lines("thread"))
    expect_equal(cpus, ["0"] * 3 + ["1"] * 3, "CPUs seen from inside")


def test_rename_names_at_creation_and_the_program_name_stands(run):
    result = run.launch([run.build.naming, "prctl", "own-name"], """
[thread named]
rename: klippy-serial
cpus: all
""")
    expect_equal(result.code, 0, "exit status")
    expect_equal(result.lines("before")[0]["name"], "klippy-serial",
                 "name given by rename")
    expect_equal(result.lines("after")[0]["name"], "own-name",
                 "the program's own name")


def test_policy_priority_and_nice_applied(run):
    result = run.launch([run.build.create, "sched"], """
[thread rt]
cpus: all
policy: fifo
priority: 10
[main]
nice: 3
""")
    expect_equal(result.code, 0, "exit status")
    line, = result.lines("sched")
    expect_equal(line["policy"], "1", "SCHED_FIFO")
    expect_equal(line["priority"], "10", "priority")
    event, = result.logged("thread")
    expect_equal((event["policy"], event["priority"], event["result"]),
                 ("fifo", 10, "ok"), "logged policy")
    main, = result.logged("main")
    expect_equal(main["nice"], 3, "nice of the main thread")

    result = run.launch([run.build.create, "sched"], """
[thread batch]
policy: batch
nice: 7
""")
    line, = result.lines("sched")
    expect_equal((line["policy"], line["nice"]), ("3", "7"),
                 "SCHED_BATCH and nice 7")


def test_errno_and_result_as_without_the_shim(run):
    plain = run.run([run.build.failures, "errno"])
    placed_run = run.launch([run.build.failures, "errno"], MAIN0_THREADS1)
    expect_equal(placed_run.code, 0, "exit status")
    line = [l for l in placed_run.stdout.splitlines() if l.startswith("errno")]
    expect_equal(line, [l for l in plain.stdout.splitlines()
                        if l.startswith("errno")], "result and errno")


def test_loaded_but_inactive_plan_changes_nothing(run):
    need_cpus(2)
    # No [main], no rules: every thread keeps what it inherits.
    result = run.launch([run.build.create, "basic", "2"],
                        "[klipper-pin]\nlog_format: json\n",
                        prefix=("taskset", "-c", "1"))
    expect_equal(result.code, 0, "exit status")
    for line in result.lines("thread") + result.lines("main"):
        placed(line, "1", "thread of an empty plan")
    expect_equal(result.logged("thread"), [], "thread events")
