"""The shim changes nothing but where threads run: each program here runs
plain and under the launcher, with a plan that places, renames, renices and
logs every thread, and what it saw must be the same (SPEC: "The shim never
breaks the program")."""
import os
import shutil
import stat
import subprocess

from harness import (SANITIZED, VALGRIND, Skip, expect, expect_equal,
                     need_no_thread_sanitizer, parse_fields)

EVERY_THREAD = """
[main]
cpus: 0
nice: 5
[thread serial]
match_name: serialq*
cpus: 1
policy: batch
nice: 3
[thread all]
cpus: 1
nice: 7
rename: shimname
[children]
cpus: 0-1
"""


def need_plain_stack():
    """Sanitizers and valgrind put frames of their own on every stack."""
    if SANITIZED or VALGRIND:
        raise Skip("a sanitizer or valgrind uses the thread's stack too; "
                   "the plain `make check` measures it")


def invisible(run, *args):
    return [os.path.join(run.build.dir, "fixtures", "invisible")] + list(args)


def plain(run, command, env=None):
    completed = run.run(command, env=env)
    expect_equal(completed.returncode, 0, f"plain exit ({completed.stderr})")
    return completed.stdout


def launched(run, command, config=EVERY_THREAD, options=(), log_format="json"):
    result = run.launch(command, config, options=options,
                        log_format=log_format)
    expect_equal(result.code, 0, f"launched exit ({result.stderr})")
    return result


def facts(stdout, kind):
    return [parse_fields(line[len(kind) + 1:])
            for line in stdout.splitlines() if line.startswith(kind + " ")]


def test_threads_cancelled_at_once_run_their_start_routine(run):
    need_no_thread_sanitizer("pthread_cancel's unwinding is not followed")
    command = invisible(run, "cancel-early", "200")
    wanted, = facts(plain(run, command), "cancel-early")
    expect_equal(wanted["started"], "200", "plain: every start routine ran")
    result = launched(run, command)
    got, = result.lines("cancel-early")
    expect_equal(got, wanted, "cancelled threads under the shim")
    expect_equal(len(result.logged("thread")), 200, "every thread placed")


def test_naming_with_a_cancel_pending_is_no_cancellation_point(run):
    need_no_thread_sanitizer("pthread_cancel's unwinding is not followed")
    for how in ("prctl", "setname"):
        command = invisible(run, "cancel-naming", how)
        wanted, = facts(plain(run, command), "cancel-naming")
        expect_equal(wanted["survived"], "1", f"plain {how}: not a cancel point")
        result = launched(run, command)
        got, = result.lines("cancel-naming")
        expect_equal(got, wanted, f"{how} with a cancel pending, under the shim")
        renamed = [e for e in result.logged("rename") if e["rule"] == "serial"]
        expect_equal(len(renamed), 1, f"{how}: re-placed when named")


def test_shim_uses_at_most_1_kib_of_a_thread_stack(run):
    # A painted stack shows how deep a thread went: the start routine names
    # itself (re-placed, policy and nice set, logged) 4 KiB down.
    need_plain_stack()
    command = invisible(run, "stack-used", "serialq mcu")
    base = int(facts(plain(run, command), "stack-used")[0]["bytes"])
    for log_format in ("json", "text"):
        result = launched(run, command, log_format=log_format)
        used = int(result.lines("stack-used")[0]["bytes"])
        expect(len(result.logged("rename")) == 1 or log_format == "text",
               "re-placed when named")
        expect(used - base <= 1024,
               f"{log_format} log: the shim used {used - base} bytes of the "
               f"thread's stack ({used} against {base} plain), more than 1 KiB")
    for dest in ("stderr", "none"):
        result = launched(run, command, options=("--log", dest))
        used = int(facts(result.stdout, "stack-used")[0]["bytes"])
        expect(used - base <= 1024,
               f"log {dest}: the shim used {used - base} bytes of the stack")


def test_thread_on_a_minimal_stack_names_itself_deep_down(run):
    need_plain_stack()
    command = invisible(run, "small-stack", "8", "serialq mcu")
    wanted, = facts(plain(run, command), "small-stack")
    expect_equal(wanted["ran"], "8", "plain: every depth ran")
    for options in ((), ("--log", "stderr")):
        result = launched(run, command, options=options)
        got, = facts(result.stdout, "small-stack")
        expect_equal(got, wanted, f"under the shim {options}")


def test_a_name_the_creator_gives_stands_over_rename(run):
    # Creator and thread on one CPU: the creator names the thread before
    # it first runs, so the shim's rename comes after the program's name.
    command = ["taskset", "-c", "0"] + invisible(run, "name-stands", "20",
                                                  "progname")
    config = "[main]\ncpus: 0\n[thread all]\ncpus: 0\nrename: shimname\n"
    result = launched(run, command, config)
    names = {line["name"] for line in result.lines("name-stands")}
    expect_equal(names, {"progname"}, "the names threads saw")
    expect_equal(len(result.logged("thread")), 20, "every thread placed")


def test_forked_children_get_no_nice_or_policy_of_main_or_thread_rules(run):
    if VALGRIND:
        raise Skip("valgrind execs its own start-up stages in the process "
                   "first, and the shim in them applies [main]'s nice "
                   "before the program's own shim starts: there the "
                   "thread's 'before' is already reniced; the plain "
                   "`make check` runs this test")
    command = invisible(run, "fork-sched")
    wanted = {line["from"]: line for line in facts(plain(run, command),
                                                    "fork-sched")}
    expect_equal(wanted["reniced-thread"]["nice"], "9",
                 "plain: the program's own nice reaches its child")
    for policy in ("", "policy: batch\n", "policy: idle\n"):
        config = ("[main]\ncpus: 0\nnice: 5\n" + policy +
                  "[thread all]\ncpus: 1\nnice: 7\n" + policy +
                  "[children]\ncpus: 0-1\n")
        result = launched(run, command, config)
        got = {line["from"]: line for line in result.lines("fork-sched")}
        expect_equal(got, wanted, f"children's nice and policy ({policy!r})")
        main, = result.logged("main")
        expect_equal(main["nice"], 5, "the main thread itself reniced")
    # [children]'s own action does apply.
    result = launched(run, command, "[main]\nnice: 5\n[thread all]\n"
                      "nice: 7\n[children]\nnice: 3\npolicy: batch\n")
    for line in result.lines("fork-sched"):
        expect_equal((line["nice"], line["policy"]), ("3", "3"),
                     f"child from {line['from']} placed by [children]")


def test_program_thread_defaults_are_kept(run):
    need_no_thread_sanitizer("its pthread_create makes an attr of its own, "
                             "without the program's defaults, plain too")
    command = invisible(run, "defaults")
    wanted, = facts(plain(run, command), "defaults")
    expect_equal(wanted["guard"], str(256 * 1024), "plain guard size")
    result = launched(run, command)
    got, = result.lines("defaults")
    expect_equal(got, wanted, "defaults under the shim")
    expect_equal(result.logged("thread")[0]["cpus"], "1", "and placed")


def test_children_see_no_descriptor_of_the_shim(run):
    if VALGRIND:
        raise Skip("valgrind keeps descriptors of its own in every process; "
                   "the plain `make check` runs this test")
    command = invisible(run, "fds-exec", invisible(run)[0])
    wanted = sorted((f["who"], f["number"], f["target"])
                    for f in facts(plain(run, command), "fd"))
    for options in ((), ("--log", "syslog")):
        result = run.launch(command, EVERY_THREAD, options=options)
        expect_equal(result.code, 0, f"exit ({result.stderr})")
        got = sorted((f["who"], f["number"], f["target"])
                     for f in result.lines("fd"))
        expect_equal(got, wanted, f"children's descriptors {options}")
    children = run.launch(command, EVERY_THREAD).logged("child")
    expect_equal(len(children), 2, "both children placed and logged")


def test_errno_kept_when_the_shim_starts_inside_a_constructor(run):
    # The library's constructor runs before the shim's: the shim starts up
    # inside that pthread_create, finds itself inactive (a child of another
    # process, or a config that is gone) and must leave errno alone.
    program = os.path.join(run.build.dir, "fixtures", "invisible-ctor")
    wanted, = facts(plain(run, [program]), "ctor-errno")
    expect_equal(wanted["after"], wanted["before"], "plain errno")
    for extra in ({"KLIPPER_PIN_PID": "1"},
                  {"KLIPPER_PIN_CONFIG": run.path("gone.conf")},
                  {}):
        env = dict(extra, LD_PRELOAD=run.build.shim)
        got, = facts(plain(run, [program], env=env), "ctor-errno")
        expect_equal(got, wanted, f"errno with {extra}")


def test_log_to_a_fifo_is_refused_not_a_hang(run):
    fifo = run.path("log.fifo")
    os.mkfifo(fifo)
    completed = run.run([run.build.launcher, "--log", fifo, "--", "true"],
                        timeout=20)
    expect_equal(completed.returncode, 125, "exit status")
    expect("FIFO" in completed.stderr and fifo in completed.stderr,
           f"a clear message: {completed.stderr!r}")
    expect(stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO left as it was")


def test_log_to_a_fifo_through_stderr_survives_its_reader_going(run):
    # The way to log to a pipe is stderr; a reader gone neither blocks nor
    # kills the program (SIGPIPE) however many lines follow.
    command = invisible(run, "name-stands", "50", "progname")
    reader, writer = os.pipe()
    os.close(reader)
    completed = subprocess.run(
        [run.build.launcher, "--config", run.write("c.conf", EVERY_THREAD),
         "--log", "stderr", "--"] + command,
        stdout=subprocess.PIPE, stderr=writer, text=True, timeout=60,
        env=run.env())
    os.close(writer)
    expect_equal(completed.returncode, 0, "no SIGPIPE")
    expect_equal(completed.stdout.count("name=progname"), 50,
                 "every thread ran")


def test_fork_does_not_wait_for_a_placement_in_progress(run):
    # strace delays every write(2) by a second, the rename's log line
    # among them; the program forks half a second into that write. Only a
    # lock of the shim's held across the write could make fork wait.
    if not shutil.which("strace"):
        raise Skip("strace is not installed (debian-packages lists it)")
    if VALGRIND:
        raise Skip("valgrind under strace's delays takes minutes; the plain "
                   "`make check` runs this test")
    need_no_thread_sanitizer("its runtime's own writes are delayed too, "
                             "past the test's time")
    tracer = ("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=write",
              "-e", "inject=write:delay_enter=1000000")
    config = ("[main]\ncpus: 0\n[thread serial]\nmatch_name: serialq*\n"
              "cpus: 1\n[thread all]\ncpus: 0\n")
    result = run.launch(invisible(run, "fork-while-naming", "1500"), config,
                        prefix=tracer, timeout=60)
    expect_equal(result.code, 0, f"exit ({result.stderr})")
    line, = result.lines("fork-while-naming")
    expect(int(line["fork_ms"]) < 250,
           f"fork waited {line['fork_ms']} ms for the shim's placement")
    renamed, = result.logged("rename")
    expect_equal(renamed["cpus"], "1", "the named thread re-placed")
