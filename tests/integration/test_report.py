"""klipper-pin report on klippy.log excerpts (tests/fixtures/klippy-logs/,
real logs of Klipper on a Linux-process MCU and hand-made ones in older
Klipper's shape): sessions, ratios, several files, rotated and gzip'ed
logs, --json against the text, and every kind of bad input with its
message and exit status."""
import gzip
import json
import os
import shutil

from harness import ROOT, expect, expect_equal

LOGS = os.path.join(ROOT, "tests", "fixtures", "klippy-logs")


def log(name):
    return os.path.join(LOGS, name)


def report(run, *args, env=None):
    return run.run([run.build.launcher, "report"] + list(args), env=env)


def report_json(run, *args):
    completed = report(run, "--json", *args)
    expect_equal(completed.returncode, 0, f"report --json ({completed.stderr})")
    return json.loads(completed.stdout)


def without_files(document):
    for session in document["sessions"]:
        session.pop("file")
    return document


def expect_refused(completed, words):
    expect_equal(completed.returncode, 1, f"exit status ({completed.stderr})")
    expect(words in completed.stderr,
           f"{words!r} not in the message: {completed.stderr!r}")
    expect(completed.stderr.startswith("klipper-pin: report: "),
           f"message: {completed.stderr!r}")
    expect_equal(completed.stdout, "", "output")


def test_two_sessions_each_with_the_ratios(run):
    completed = report(run, log("two-sessions.log"))
    expect_equal(completed.returncode, 0, f"exit status ({completed.stderr})")
    out = completed.stdout
    for words in ("session 1: ", "klippy started Wed Dec  2 00:29:59 2026, "
                  "9 Stats lines", "session 2: ", "printer restarted",
                  "11 Stats lines", "session 3: ", "no Stats lines",
                  "each session against session 1", "mcu.srtt",
                  "buffer_time", "memavail"):
        expect(words in out, f"{words!r} not in:\n{out}")
    second = out[out.index("session 2: "):out.index("session 3: ")]
    expect("events: timer_too_close=0 mcu_shutdown=1 shutdown=1" in second,
           f"session 2's events:\n{second}")
    # buffer_time's median: 0.613 / 1.328.
    ratios = out[out.index("each session against"):].splitlines()
    row = next(line for line in ratios if line.split()[:2] ==
               ["buffer_time", "median"])
    expect_equal(row.split()[2], "0.462x", "buffer_time's median ratio")


def test_json_agrees_with_the_text(run):
    document = report_json(run, log("two-sessions.log"))
    sessions = document["sessions"]
    expect_equal([s["kind"] for s in sessions],
                 ["start", "restart", "start"], "kinds")
    expect_equal([s["stats_lines"] for s in sessions], [9, 11, 0], "Stats")
    expect_equal(sessions[1]["events"],
                 {"timer_too_close": 0, "mcu_shutdown": 1, "shutdown": 1},
                 "events")
    figures = sessions[0]["figures"]
    # Every field is kept in JSON, the main ones only in the text.
    expect("mcu.upcoming_bytes" in figures and "mcu.freq" in figures,
           f"figures: {sorted(figures)}")
    expect_equal(figures["mcu.rto"]["median"], 0.025, "rto")
    expect_equal(figures["buffer_time"]["count"], 9, "count")
    text = report(run, log("two-sessions.log")).stdout
    for index, session in enumerate(sessions[:2]):
        block = text.split(f"session {index + 1}: ")[1].split("\nsession")[0]
        rows = {line.split()[0]: line.split()[1:] for line in
                block.splitlines()[2:] if line.startswith("  ")}
        rows.pop("figure")
        expect(len(rows) == 11, f"rows: {rows}")
        for name, values in rows.items():
            wanted = session["figures"][name]
            for got, key in zip(values, ("median", "p99", "max")):
                expect(abs(float(got) - wanted[key])
                       <= 1e-5 * max(1, abs(wanted[key])),
                       f"{name} {key}: text {got}, JSON {wanted[key]}")
    ratio = sessions[1]["figures"]["buffer_time"]["ratio"]["median"]
    expect(abs(ratio - 0.613 / 1.328) < 1e-6, f"ratio {ratio}")
    expect_equal(sessions[1]["figures"]["mcu.srtt"]["ratio"]["median"],
                 None, "ratio against 0")


def test_several_files_in_the_order_given(run):
    document = report_json(run, log("no-stats.log"), log("two-sessions.log"))
    files = [os.path.basename(s["file"]) for s in document["sessions"]]
    expect_equal(files, ["no-stats.log"] + ["two-sessions.log"] * 3,
                 "sessions' files")
    completed = report(run, log("no-stats.log"), log("two-sessions.log"))
    expect("session 4: " in completed.stdout, completed.stdout)


def test_a_session_continued_in_the_next_log(run):
    # The Stats lines of a log that starts after a rollover belong to the
    # session begun in the log before it.
    lines = open(log("two-sessions.log")).read().splitlines(True)
    older = run.write("klippy.log.2026-12-01", "".join(lines[:20]))
    newer = run.write("klippy.log", "=============== Log rollover at Wed "
                      "Dec  2 00:30:08 2026 ===============\n"
                      + "".join(lines[20:41]))
    document = report_json(run, older, newer)
    expect_equal([s["stats_lines"] for s in document["sessions"]], [9],
                 "one session over both")
    alone = report_json(run, newer)
    expect_equal(alone["sessions"][0]["kind"], "continued", "kind")


def test_rotated_name_reads_as_it_is(run):
    rotated = run.path("klippy.log.2026-11-30")
    shutil.copy(log("two-sessions.log"), rotated)
    expect_equal(without_files(report_json(run, rotated)),
                 without_files(report_json(run, log("two-sessions.log"))),
                 "rotated against plain")


def test_gz_read_through_gzip(run):
    packed = run.path("klippy.log.2026-11-30.gz")
    with open(log("two-sessions.log"), "rb") as plain, \
            gzip.open(packed, "wb") as out:
        out.write(plain.read())
    expect_equal(without_files(report_json(run, packed)),
                 without_files(report_json(run, log("two-sessions.log"))),
                 ".gz against plain")


def test_klipper_pin_module_part(run):
    document = report_json(run, log("klipper-pin-module.log"))
    first, second = document["sessions"]
    expect_equal(first["figures"]["klipper_pin.threads"]["max"], 4, "threads")
    expect_equal(first["figures"]["klipper_pin.migrations"]["max"], 8,
                 "migrations")
    expect_equal(second["klipper_pin_inactive"], 3, "inactive lines")
    text = report(run, log("klipper-pin-module.log")).stdout
    expect("klipper_pin.max_wait_ms" in text, text)
    expect("klipper_pin: inactive in 3 Stats lines" in text, text)


def test_older_klipper_shape(run):
    document = report_json(run, log("old-klipper.log"))
    session, = document["sessions"]
    expect_equal(session["events"],
                 {"timer_too_close": 1, "mcu_shutdown": 1, "shutdown": 1},
                 "events")
    figures = session["figures"]
    expect_equal(figures["mcu.stalled_bytes"]["count"], 3, "an unknown field")
    expect_equal(figures["mcu.bytes_write"]["count"], 3, "a missing field")
    expect_equal(figures["mcu.srtt"]["count"], 4, "srtt")
    expect_equal(figures["heater_bed.temp"]["max"], 21.9, "a heater's")
    expect_equal(figures["print_stall"]["max"], 1, "print_stall")
    completed = report(run, log("old-klipper.log"))
    expect("events: timer_too_close=1 mcu_shutdown=1 shutdown=1"
           in completed.stdout, completed.stdout)
    expect("heater_bed.temp" not in completed.stdout, "--all only")
    everything = report(run, "--all", log("old-klipper.log")).stdout
    expect("heater_bed.temp" in everything, everything)


def test_a_log_with_no_stats(run):
    completed = report(run, log("no-stats.log"))
    expect_equal(completed.returncode, 0, completed.stderr)
    expect("no Stats lines" in completed.stdout, completed.stdout)


def test_truncated_last_line(run):
    text = open(log("two-sessions.log")).read()
    cut = run.write("klippy.log", text + "Stats 16090.2: gcodein=0 mcu: mcu_aw")
    completed = report(run, "--json", cut)
    expect_equal(completed.returncode, 0, completed.stderr)
    expect("last line cut short (no newline at the end): read up to line "
           "397" in completed.stderr, completed.stderr)
    expect_equal(without_files(json.loads(completed.stdout)),
                 without_files(report_json(run, log("two-sessions.log"))),
                 "what is complete")


def test_not_a_klippy_log(run):
    other = run.write("notes.txt", "hello\nthis is not klippy\n")
    expect_refused(report(run, other), "not a klippy log (no 'Starting "
                   "Klippy...', 'Start printer at' or 'Stats' line in 2 "
                   "lines)")
    binary = run.path("binary")
    with open(binary, "wb") as out:
        out.write(bytes(range(256)) * 4)
    expect_refused(report(run, binary), "not a klippy log")


def test_empty_file(run):
    expect_refused(report(run, run.write("klippy.log", "")), "empty file")


def test_missing_file_and_directory(run):
    expect_refused(report(run, run.path("nowhere.log")),
                   "nowhere.log: No such file or directory")
    expect_refused(report(run, run.path("nowhere.log.gz")),
                   "nowhere.log.gz: No such file or directory")
    expect_refused(report(run, run.tmp), "is a directory")
    # A bad file among good ones: nothing printed.
    expect_refused(report(run, log("two-sessions.log"), run.path("x.log")),
                   "x.log: No such file or directory")


def test_corrupt_gz(run):
    packed = gzip.compress(open(log("two-sessions.log"), "rb").read())
    cut = run.path("cut.log.gz")
    with open(cut, "wb") as out:
        out.write(packed[:len(packed) // 2])
    expect_refused(report(run, cut), "cut.log.gz: not a valid gzip file")
    garbled = run.path("garbled.log.gz")
    with open(garbled, "wb") as out:
        out.write(packed[:20] + bytes(100) + packed[120:])
    expect_refused(report(run, garbled), "not a valid gzip file")
    plain = run.path("plain.log.gz")
    shutil.copy(log("two-sessions.log"), plain)
    expect_refused(report(run, plain), "not a valid gzip file")


def test_gzip_missing(run):
    packed = run.path("klippy.log.gz")
    with open(log("two-sessions.log"), "rb") as plain, \
            gzip.open(packed, "wb") as out:
        out.write(plain.read())
    empty = run.path("empty-bin")
    os.mkdir(empty)
    expect_refused(report(run, packed, env={"PATH": empty}),
                   "gzip not found in PATH")


def test_usage(run):
    completed = report(run)
    expect_equal(completed.returncode, 2, "no log")
    expect("no klippy.log given" in completed.stderr, completed.stderr)
    expect_equal(report(run, "--bogus", log("no-stats.log")).returncode, 2,
                 "unknown option")
    helped = report(run, "--help")
    expect_equal(helped.returncode, 0, "--help")
    expect("usage: klipper-pin report" in helped.stdout, helped.stdout)
