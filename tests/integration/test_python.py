"""A Python program shaped like klippy under the system interpreter:
threading threads, a ctypes library's own pthreads matched by library and
again by the names they give themselves with prctl, and its children."""
from harness import (PYTHON, expect, expect_equal, need_cpus,
                     need_own_pthread_create, need_no_thread_sanitizer)

PLAN = """
[main]
cpus: 0

[thread serial]
match_name: serialq*
cpus: 0
policy: fifo
priority: 5

[thread chelper]
match_library: libspawner.so
cpus: 1

[thread python]
cpus: 0-1

[children]
cpus: 1
"""


def test_klippy_shaped_python_program(run):
    need_cpus(2)
    need_own_pthread_create()
    need_no_thread_sanitizer("an uninstrumented Python's threads crash it")
    result = run.launch([PYTHON, run.build.klippy_like, run.build.spawner,
                         run.build.report_cpus], PLAN)
    expect_equal(result.code, 0, f"exit status ({result.stderr})")
    expect_equal(result.lines("main")[0]["cpus"], "0", "main thread")

    pythreads = result.lines("pythread")
    expect_equal(len(pythreads), 3, "threading threads")
    for line in pythreads:
        expect_equal(line["cpus"], "0-1", "threading thread by [thread python]")

    serial = result.lines("spawned")
    expect_equal(len(serial), 2, "library threads that name themselves")
    for line in serial:
        expect_equal(line["before"], "1", "by library at creation")
        expect_equal(line["after"], "0", "by name once named")
    unnamed, = result.lines("unnamed")
    expect_equal((unnamed["before"], unnamed["after"]), ("1", "1"),
                 "an unnamed library thread stays by library")

    renames = result.logged("rename")
    expect_equal(sorted(e["name"] for e in renames),
                 ["serialq mcu0", "serialq mcu1"], "rename events")
    for event in renames:
        expect_equal((event["policy"], event["priority"], event["cpus"]),
                     ("fifo", 5, "0"), "serial thread placed and real-time")
    python_threads = [e for e in result.logged("thread")
                      if e["rule"] == "python"]
    expect(len(python_threads) >= 3, "threading threads logged")
    expect(all(e["library"] and e["library"].startswith("python")
               or e["library"] and e["library"].startswith("libpython")
               for e in python_threads),
           f"start routine in the interpreter: {python_threads[0]}")
