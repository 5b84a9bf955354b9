"""The placement log as written by the real shim: JSON parsed back field by
field, the text format, and the destinations."""
import os
import re
import time

from harness import SANITIZER_RUNTIME, expect, expect_equal, need_cpus

FIELDS = {"ts", "pid", "tid", "event", "seq", "library", "symbol", "caller",
          "name", "rule", "want", "cpus", "policy", "priority", "nice",
          "result"}

PLAN = """
[main]
cpus: 0
[thread named]
match_name: serialq*
cpus: 1
policy: rr
priority: 3
[thread all]
cpus: 0
"""


def test_json_log_field_by_field(run):
    need_cpus(2)
    started = time.time()
    result = run.launch([run.build.naming, "prctl", 'serialq "mcu"\\'],
                        PLAN)
    expect_equal(result.code, 0, "exit status")
    before, = result.lines("before")
    main_event, = result.logged("main")
    created, = result.logged("thread")
    renamed, = result.logged("rename")
    for event in (main_event, created, renamed):
        expect_equal(set(event), FIELDS, "field names")
        expect(started - 1 <= event["ts"] <= time.time() + 1, "ts is now")
        expect_equal(event["pid"], result_pid(result), "pid")
    expect_equal((main_event["tid"], main_event["seq"], main_event["rule"],
                  main_event["want"], main_event["cpus"]),
                 (main_event["pid"], 0, "main", "0", "0"), "main event")
    expect_equal(created["tid"], int(before["tid"]), "tid of the thread")
    expect_equal((created["seq"], created["rule"], created["want"],
                  created["cpus"], created["policy"], created["priority"],
                  created["result"]),
                 (1, "all", "0", "0", "other", 0, "ok"), "thread event")
    if not SANITIZER_RUNTIME:  # a sanitizer's interceptor hides these
        program = os.path.basename(run.build.naming)
        expect_equal((created["library"], created["symbol"],
                      created["caller"]), (program, None, program),
                     "start routine and caller")
    expect_equal(renamed["name"], 'serialq "mcu"\\', "a name needing escapes")
    expect_equal((renamed["tid"], renamed["seq"], renamed["rule"],
                  renamed["want"], renamed["cpus"], renamed["policy"],
                  renamed["priority"], renamed["result"]),
                 (created["tid"], 1, "named", "1", "1", "rr", 3, "ok"),
                 "rename event")
    expect(isinstance(created["nice"], int), "nice read back")


def result_pid(result):
    return result.events[0]["pid"]


def test_text_log_one_line_per_event(run):
    need_cpus(2)
    result = run.launch([run.build.naming, "prctl", "serialq mcu"], PLAN,
                        log_format="text")
    expect_equal(result.code, 0, "exit status")
    lines = result.log_text.splitlines()
    expect_equal(len(lines), 3, "main, thread, rename")
    pattern = re.compile(r'^klipper-pin: ts=\d{4}-\d\d-\d\dT\d\d:\d\d:'
                         r'\d\d\.\d{6}Z pid=\d+ tid=\d+ event=(\w+) seq=\d+ '
                         r'library=\S+ symbol=\S+ caller=\S+ name=(\S+|"[^"]*") '
                         r'rule=\S+ want=\S+ cpus=\S+ policy=\w+ priority=\d+ '
                         r'nice=-?\d+ result=\S+$')
    events = []
    for line in lines:
        match = pattern.match(line)
        expect(match, f"text line: {line}")
        events.append(match.group(1))
    expect_equal(events, ["main", "thread", "rename"], "events in order")
    expect('name="serialq mcu"' in lines[2], "a name with a space is quoted")


def test_log_none_writes_nothing_and_stderr_is_the_default(run):
    result = run.run([run.build.launcher, "--log", "none", "--",
                      run.build.create, "basic", "1"])
    expect_equal(result.stderr, "", "--log none")
    config = run.write("p.conf", "[thread all]\ncpus: all\n")
    result = run.run([run.build.launcher, "-c", config, "--",
                      run.build.create, "basic", "1"])
    expect_equal(len(result.stderr.splitlines()), 2, "main and thread lines")
    expect(all(l.startswith("klipper-pin: ts=")
               for l in result.stderr.splitlines()), result.stderr)


def test_log_file_appends_and_is_not_followed_through_a_symlink(run):
    log = run.path("log")
    config = run.write("p.conf", f"[klipper-pin]\nlog: {log}\n"
                       "[thread all]\ncpus: all\n")
    for _ in range(2):
        run.run([run.build.launcher, "-c", config, "--",
                 run.build.create, "basic", "1"])
    with open(log) as text:
        expect_equal(len(text.read().splitlines()), 4, "two runs appended")
    mode = os.stat(log).st_mode & 0o777
    expect(mode & 0o002 == 0, f"not world-writable: {oct(mode)}")
    link = run.path("link")
    os.symlink(run.path("elsewhere"), link)
    config = run.write("l.conf", f"[klipper-pin]\nlog: {link}\n")
    result = run.run([run.build.launcher, "-c", config, "--", "true"])
    expect_equal(result.returncode, 125, "a symlinked log is refused")
    expect("symbolic links are refused" in result.stderr, result.stderr)
    expect(not os.path.exists(run.path("elsewhere")), "nothing written")
