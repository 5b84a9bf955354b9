"""klipper-pin status: real processes under the real launcher, read back
against what each thread says of itself; and /proc trees built as
fixtures (--root) for every column, file the kernel may lack, and file
that is not what the kernel writes."""
import contextlib
import json
import os
import subprocess

from harness import Skip, expect, expect_equal, need_cpus, parse_fields


def program_threads(found, pid, reports):
    """The rows of the program's own threads: its main and those that
    reported. Others are a runtime's (ThreadSanitizer's, qemu-user's),
    made without pthread_create: never placed."""
    own = {pid} | {int(r["tid"]) for r in reports}
    threads = {t["tid"]: t for t in found["threads"]}
    extra = [t for tid, t in threads.items() if tid not in own]
    expect(all(t["rule"] is None for t in extra),
           f"only the program's threads placed: {extra}")
    return {tid: t for tid, t in threads.items() if tid in own}


@contextlib.contextmanager
def held(run, args, plan):
    """The holding fixture under the launcher, until the block ends; yields
    the process and the report lines its threads printed."""
    conf = run.write(f"held-{len(args)}-{abs(hash(plan))}.conf", plan)
    process = subprocess.Popen(
        run.build.command([run.build.launcher, "--config", conf, "--log",
                           "none", "--", run.build.holding] + args),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=run.env())
    reports = []
    try:
        for line in process.stdout:
            if line.startswith("ready"):
                break
            if line.startswith("held "):
                reports.append(parse_fields(line[len("held "):].strip()))
        yield process, reports
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def status(run, *args, env=None):
    return run.run([run.build.launcher, "status"] + list(args), env=env)


def status_json(run, *args):
    completed = status(run, "--json", *args)
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    document, = [json.loads(line) for line in completed.stdout.splitlines()]
    process, = document["processes"]
    return process


def table_rows(text):
    """The rows of status's table, by TID, each a list of its columns
    (the names in these tests hold no space)."""
    rows = {}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("TID"))
    header = lines[start].split()
    for line in lines[start + 1:]:
        if not line.strip():
            break
        words = line.split()
        rows[int(words[0])] = dict(zip(header, words))
    return rows


HELD_PLAN = """
[main]
cpus: 0
[thread held]
match_name: held-*
cpus: 1
policy: batch
nice: 3
"""


def test_rows_match_what_each_thread_says_of_itself(run):
    need_cpus(2)
    with held(run, ["hold", "5"], HELD_PLAN) as (process, reports):
        found = status_json(run, str(process.pid))
        table = status(run, str(process.pid))
    expect_equal(found["pid"], process.pid, "the process")
    expect_equal(found["shim"], "placing", "the shim's state")
    threads = program_threads(found, process.pid, reports)
    expect_equal(len(threads), 6, "main and five held threads")
    main = threads[process.pid]
    expect_equal((main["rule"], main["cpus"], main["want"], main["flag"]),
                 ("main", "0", "0", ""), "the main thread")
    for report in reports:
        thread = threads[int(report["tid"])]
        expect_equal((thread["name"], thread["cpus"], thread["rule"],
                      thread["want"], thread["policy"], thread["nice"],
                      thread["flag"]),
                     (report["name"], report["cpus"], "held", "1", "batch",
                      3, ""), f"thread {report['tid']}")
        expect_equal(thread["last_cpu"], 1, "ran where it is allowed")
    rows = table_rows(table.stdout)
    expect_equal(sorted(rows), sorted(t["tid"] for t in found["threads"]),
                 "the table's threads")
    for tid, row in rows.items():
        if tid not in threads:  # a runtime's own
            continue
        expect_equal((row["NAME"], row["RULE"], row["CPUS"], row["POLICY"],
                      row["NICE"]),
                     (threads[tid]["name"], threads[tid]["rule"],
                      threads[tid]["cpus"], threads[tid]["policy"],
                      str(threads[tid]["nice"])), f"table row {tid}")


def test_a_process_of_sixty_threads(run):
    with held(run, ["hold", "60"], HELD_PLAN.replace("cpus: 1", "cpus: all")) \
            as (process, reports):
        found = status_json(run, "--match", f"{run.build.holding} hold 60")
    expect_equal(len(reports), 60, "threads that reported")
    placed = list(program_threads(found, process.pid, reports).values())
    expect_equal(len(placed), 61, "rows of the program's threads")
    expect_equal(sorted(t["seq"] for t in placed), list(range(61)),
                 "creation numbers, main's 0")
    expect(all(t["rule"] in ("main", "held") for t in placed),
           "every thread placed by its rule")


def test_flags_a_thread_moved_since_and_one_no_rule_placed(run):
    need_cpus(2)
    plan = "[thread one]\nmatch_name: held-1\ncpus: 1\n"
    with held(run, ["hold", "3"], plan) as (process, reports):
        by_name = {r["name"]: int(r["tid"]) for r in reports}
        subprocess.run(["taskset", "-p", "-c", "0", str(by_name["held-1"])],
                       check=True, capture_output=True)
        found = status_json(run, str(process.pid))
        table = table_rows(status(run, str(process.pid)).stdout)
    flags = {t["tid"]: t["flag"] for t in found["threads"]}
    expect_equal(flags[by_name["held-1"]], "moved", "moved by taskset")
    expect_equal(flags[by_name["held-2"]], "unplaced", "no rule for it")
    expect_equal(table[by_name["held-1"]]["FLAGS"], "moved", "in the table")


def test_run_queue_wait_grows_beside_a_busy_thread(run):
    need_cpus(2)
    plan = ("[main]\ncpus: 0\n[thread busy]\nmatch_name: busy\ncpus: 1\n"
            "[thread sharer]\nmatch_name: sharer\ncpus: 1\n"
            "[thread alone]\nmatch_name: alone\ncpus: 0\n")
    with held(run, ["contend"], plan) as (process, _):
        completed = status(run, str(process.pid), "--json", "--watch", "1",
                           "--count", "2")
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    documents = [json.loads(line) for line in completed.stdout.splitlines()]
    expect_equal(len(documents), 2, "one document per interval")
    threads = {t["name"]: t for t in documents[1]["processes"][0]["threads"]}
    sharer, alone = threads["sharer"], threads["alone"]
    together = threads["busy"]["cpu_percent"] + sharer["cpu_percent"]
    expect(together > 20, f"two spinners ran: {together:.1f}% of a CPU")
    # Two spinners on one CPU: each waits about half of every second. The
    # thread alone waits only for what else runs on its CPU: near zero on
    # a quiet machine, more on a loaded one, never as much.
    expect(sharer["wait_ms_per_s"] > 250 and
           sharer["wait_ms_per_s"] > 2 * alone["wait_ms_per_s"],
           f"waits beside busy: {sharer['wait_ms_per_s']:.2f} ms/s against "
           f"{alone['wait_ms_per_s']:.2f} ms/s alone")


def test_watch_counts_intervals_and_shows_rates(run):
    with held(run, ["contend"], "[thread all]\ncpus: all\n") as (process, _):
        completed = status(run, str(process.pid), "--watch", "0.3",
                           "--count", "2")
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    headers = [line for line in completed.stdout.splitlines()
               if line.startswith("TID")]
    expect_equal(len(headers), 2, "two intervals, then it stops")
    expect("CPU%" not in headers[0] and "CPU%" in headers[1],
           "rates from the second interval on")
    last = completed.stdout[completed.stdout.rindex("TID"):]
    rows = {row["NAME"]: row for row in table_rows(last).values()}
    busy, alone = float(rows["busy"]["CPU%"]), float(rows["alone"]["CPU%"])
    expect(busy > 3 * alone and busy > 5,
           f"CPU% of a spinner {busy} against a sleeper {alone}")
    expect("\033[" not in completed.stdout, "no escape codes into a pipe")


def test_a_process_that_does_not_exist(run):
    completed = status(run, "999999999")
    expect_equal(completed.returncode, 2, "not a process ID (above pid_max)")
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its PID names no process now
    completed = status(run, str(gone.pid))
    expect_equal(completed.returncode, 1, f"exit ({completed.stderr})")
    expect("no process" in completed.stderr, completed.stderr)
    completed = status(run, "--match", "no-such-program-anywhere")
    expect_equal(completed.returncode, 1, "nothing matched")
    expect("no process whose command line contains "
           "'no-such-program-anywhere'" in completed.stderr, completed.stderr)


def fake_systemctl(run, main_pid):
    bin_dir = run.path(f"bin-{main_pid}")
    os.makedirs(bin_dir, exist_ok=True)
    script = os.path.join(bin_dir, "systemctl")
    with open(script, "w") as out:
        out.write('#!/bin/sh\n[ "$1 $2 $3 $4 $5" = "show -p MainPID --value '
                  f'--" ] && echo {main_pid} && exit 0\nexit 1\n')
    os.chmod(script, 0o755)
    return {"PATH": bin_dir + ":" + os.environ["PATH"]}


def test_a_unit_with_and_without_a_main_process(run):
    with held(run, ["hold", "1"], HELD_PLAN) as (process, _):
        completed = status(run, "--unit", "klipper.service",
                           env=fake_systemctl(run, process.pid))
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    expect(f"PID {process.pid} " in completed.stdout, completed.stdout)
    completed = status(run, "--unit", "klipper.service",
                       env=fake_systemctl(run, 0))
    expect_equal(completed.returncode, 1, "no main process")
    expect("unit klipper.service has no main process" in completed.stderr,
           completed.stderr)


def test_another_users_process_says_what_it_cannot_read(run):
    if os.geteuid() != 0:
        raise Skip("needs root, to run status as nobody against a process "
                   "of root's")
    with held(run, ["hold", "2"], HELD_PLAN) as (process, _):
        completed = run.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                             "--clear-groups", run.build.launcher, "status",
                             str(process.pid)])
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    expect("placement table unreadable" in completed.stdout and
           "uid 0" in completed.stdout, completed.stdout)


# ---- /proc trees built as fixtures -------------------------------------------

def stat_line(tid, name, state="S", flags=0x400000, utime=250, stime=50,
              nice=0, last_cpu=3, priority=0, policy=0):
    fields = [str(tid), f"({name})", state, "1", str(tid), str(tid), "0", "-1",
              str(flags), "0", "0", "0", "0", str(utime), str(stime), "0", "0",
              "20", str(nice), "1", "0", "100", "0", "0"]
    fields += ["0"] * (38 - len(fields))
    fields += [str(last_cpu), str(priority), str(policy), "0", "0", "0"]
    return " ".join(fields) + "\n"


def build_tree(run, name, threads):
    """DIR/proc/4242 with threads: {tid: {file: text or None}}."""
    root = run.path(name)
    task = os.path.join(root, "proc", "4242", "task")
    for tid, files in threads.items():
        os.makedirs(os.path.join(task, str(tid)), exist_ok=True)
        for file, text in files.items():
            if text is not None:
                with open(os.path.join(task, str(tid), file), "w") as out:
                    out.write(text)
    with open(os.path.join(root, "proc", "4242", "cmdline"), "w") as out:
        out.write("python\0klippy.py\0printer.cfg\0")
    return root


def status_file(cpus, voluntary=7, involuntary=2):
    return (f"Name:\tx\nState:\tS (sleeping)\nCpus_allowed:\tc\n"
            f"Cpus_allowed_list:\t{cpus}\nvoluntary_ctxt_switches:\t"
            f"{voluntary}\nnonvoluntary_ctxt_switches:\t{involuntary}\n")


def test_tree_every_column_and_files_the_kernel_may_lack(run):
    root = build_tree(run, "tree-columns", {
        4242: {"stat": stat_line(4242, "python ) x"),
               "status": status_file("2"),
               "schedstat": "1000 2500000 9\n",
               "sched": "python (4242, #threads: 3)\n---\n"
                        "se.exec_start : 1.0\nse.nr_migrations : 17\n"},
        4243: {"stat": stat_line(4243, "serialq mcu", state="R", nice=-5,
                                 last_cpu=2, priority=10, policy=1),
               "status": status_file("2-3", 11, 4)},
        4244: {"stat": stat_line(4244, "temperature_hos", utime=0, stime=0),
               "status": status_file("0-3"),
               "schedstat": "0 0 0\n"},
    })
    found = status_json(run, "--root", root, "4242")
    expect_equal(found["command"], "python klippy.py printer.cfg", "command")
    expect_equal(found["shim"], "not loaded: not started by klipper-pin",
                 "no shim in the tree")
    threads = {t["tid"]: t for t in found["threads"]}
    main, serial, temperature = threads[4242], threads[4243], threads[4244]
    expect_equal((main["name"], main["state"], main["cpus"], main["last_cpu"],
                  main["cpu_ns"], main["wait_ns"], main["voluntary"],
                  main["involuntary"], main["migrations"], main["flag"]),
                 ("python ) x", "S", "2", 3, 3000000000, 2500000, 7, 2, 17,
                  "unplaced"), "every column of a full thread")
    expect_equal((serial["policy"], serial["priority"], serial["nice"],
                  serial["last_cpu"], serial["wait_ns"],
                  serial["migrations"]),
                 ("fifo", 10, -5, 2, None, None),
                 "no schedstat, no sched file")
    expect_equal((temperature["wait_ns"], temperature["cpu_ns"]), (0, 0),
                 "schedstats off: 0 0 0")
    table = status(run, "--root", root, "4242").stdout
    expect("fifo/10" in table and " -      R" not in table, table)
    serial_row = next(line for line in table.splitlines()
                      if line.startswith("4243"))
    expect_equal(serial_row.split()[-3:], ["-", "R", "unplaced"],
                 "absent figures shown as -")


def test_tree_a_thread_gone_while_read_is_left_out(run):
    root = build_tree(run, "tree-gone", {
        4242: {"stat": stat_line(4242, "python"), "status": status_file("0")},
        4250: {"stat": None},  # listed, then gone
    })
    found = status_json(run, "--root", root, "4242")
    expect_equal([t["tid"] for t in found["threads"]], [4242],
                 "the thread gone is not shown")


def test_tree_garbled_files_are_named_never_a_crash(run):
    root = build_tree(run, "tree-garbled", {
        4242: {"stat": stat_line(4242, "python"), "status": status_file("0")},
        4243: {"stat": "4243 no parentheses here\n",
               "status": status_file("0")},
        4244: {"stat": stat_line(4244, "x"), "status": "Name:\tx\n"},
        4245: {"stat": stat_line(4245, "y"), "status": status_file("0"),
               "schedstat": "twelve\n"},
    })
    completed = status(run, "--root", root, "4242")
    expect_equal(completed.returncode, 0, f"status ({completed.stderr})")
    for tid, file in ((4243, "stat"), (4244, "status"), (4245, "schedstat")):
        line = next(line for line in completed.stdout.splitlines()
                    if line.startswith(str(tid)))
        expect(f"/proc/4242/task/{tid}/{file}: not as the kernel writes it"
               in line, line)
    found = status_json(run, "--root", root, "4242")
    expect_equal(sum("problem" in t for t in found["threads"]), 3,
                 "three unreadable rows in JSON too")
