"""--svg FILE of `klipper-pin probe`, `probe --compare` and `report`: the
file is an SVG document (xml.etree parses it; width, height and viewBox),
with one series per setup or session, p50 and p99 marked with their
values, names holding < & > escaped; a place it cannot write to is
refused before any work (exit 1, nothing printed, nothing written)."""
import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree

from harness import ROOT, expect, expect_equal, online_cpus

SVG = "{http://www.w3.org/2000/svg}"
LOG = os.path.join(ROOT, "tests", "fixtures", "klippy-logs",
                   "two-sessions.log")


def launcher(run, *args, timeout=60):
    return run.run([run.build.launcher] + list(args), timeout=timeout)


def parsed(path):
    """The root of the SVG at path, checked to be an <svg> with a size."""
    root = ElementTree.parse(path).getroot()
    expect_equal(root.tag, SVG + "svg", "root element")
    for attribute in ("width", "height", "viewBox"):
        expect(root.get(attribute), f"no {attribute} on <svg>")
    width, height = int(root.get("width")), int(root.get("height"))
    expect_equal(root.get("viewBox"), f"0 0 {width} {height}", "viewBox")
    return root


def series(root):
    """The class of each polyline drawn as a series ("series setup-1")."""
    return [line.get("class").split()[1]
            for line in root.iter(SVG + "polyline")
            if "series" in line.get("class", "").split()]


def texts(root):
    return ["".join(text.itertext()) for text in root.iter(SVG + "text")]


def expect_marked(words, name):
    for mark in ("p50", "p99"):
        expect(any(re.fullmatch(mark + r" \d+\.\d µs", w) for w in words),
               f"{name}: no '{mark} N µs' mark in {words}")


def test_probe(run):
    """probe --count 200: one curve, p50 and p99 marked with their values,
    which are the text report's."""
    cpu = str(online_cpus()[-1])
    odd = run.path("a<b & c>d")
    os.mkdir(odd)
    conf = os.path.join(odd, "probe.conf")
    with open(conf, "w") as out:
        out.write(f"[thread serial]\nmatch_name: serialq*\ncpus: {cpu}\n")
    picture = run.path("probe.svg")
    completed = launcher(run, "probe", "--count", "200", "--config", conf,
                         "--rule", "serial", "--svg", picture)
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    root = parsed(picture)
    expect_equal(series(root), ["setup-1"], "one curve")
    words = texts(root)
    expect_marked(words, "probe")
    for mark in ("p50", "p99"):
        value = re.search(rf"^{mark}: +(\S+) us$", completed.stdout, re.M)
        expect(f"{mark} {value.group(1)} µs" in words,
               f"{mark} {value.group(1)} not marked: {words}")
    for tick in ("10", "100", "1000", "10000"):
        expect(tick in words, f"no tick {tick} on the axis: {words}")
    with open(picture, encoding="utf-8") as svg:
        raw = svg.read()
    expect("a&lt;b &amp; c&gt;d" in raw, "the config's name escaped")
    expect(any("a<b & c>d" in w and "rule serial" in w for w in words),
           f"the config's name not in the picture: {words}")


def expect_compare_picture(picture, names):
    root = parsed(picture)
    expect_equal(series(root), [f"setup-{i + 1}" for i in range(len(names))],
                 "curves")
    words = texts(root)
    for mark in ("p50", "p99"):
        expect_equal(sum(bool(re.fullmatch(mark + r" \d+\.\d µs", w))
                         for w in words), len(names), f"{mark} marks: {words}")
    for name in names:
        expect(any(w.startswith(name + ": cpus ") for w in words),
               f"no legend line for {name}: {words}")
    colors = {line.get("stroke") for line in root.iter(SVG + "polyline")
              if "series" in line.get("class", "").split()}
    expect_equal(len(colors), len(names), f"a colour a curve: {colors}")


def test_probe_compare(run):
    """--compare: a curve each for unplaced, process and plan, each with
    its p50 and p99, and a legend line naming each; with a policy too,
    five, the CPUs alone and the policy alone besides, each its colour."""
    cpu = str(online_cpus()[-1])
    picture = run.path("compare.svg")
    completed = launcher(run, "probe", "--compare", "--rounds", "1",
                         "--count", "100", "--cpus", cpu, "--svg", picture)
    expect_equal(completed.returncode, 0, f"compare ({completed.stderr})")
    expect_compare_picture(picture, ["unplaced", "process", "plan"])
    if os.geteuid() != 0:
        print("    not root: no fifo, no five setups")
        return
    completed = launcher(run, "probe", "--compare", "--rounds", "1",
                         "--count", "50", "--cpus", cpu, "--policy", "fifo",
                         "--svg", picture)
    expect_equal(completed.returncode, 0, f"compare ({completed.stderr})")
    expect_compare_picture(picture, ["unplaced", "process", "plan",
                                     "cpus only", "policy only"])


def test_report(run):
    """report: srtt and buffer_time each a panel with a line per session
    with Stats lines, and its p50 and p99 marked; every session in the
    legend; the log's name escaped."""
    odd = run.path("klippy <old> & new.log")
    with open(LOG) as source, open(odd, "w") as out:
        out.write(source.read())
    picture = run.path("report.svg")
    completed = launcher(run, "report", "--svg", picture, odd)
    expect_equal(completed.returncode, 0, f"report ({completed.stderr})")
    expect("session 1: " in completed.stdout, "the text report too")
    root = parsed(picture)
    words = texts(root)
    for figure in ("mcu.srtt", "buffer_time"):
        expect(figure in words, f"no {figure} panel: {words}")
    # Sessions 1 and 2 have Stats lines, session 3 none: two lines a panel.
    expect_equal(series(root), ["session-1", "session-2"] * 2, "lines")
    legend = [w for w in words if w.startswith("session ")]
    expect_equal(len(legend), 3, f"legend: {legend}")
    expect("klippy <old> & new.log:11" in legend[0], f"legend: {legend}")
    with open(picture, encoding="utf-8") as svg:
        expect("klippy &lt;old&gt; &amp; new.log" in svg.read(),
               "the log's name escaped")
    # Each session's p50 and p99 in each panel: a dashed line, named.
    marks = [group.get("class") for group in root.iter(SVG + "g")
             if "mark" in group.get("class", "").split()]
    expect_equal(sorted(marks), sorted(
        f"mark {p} session-{i}" for p in ("p50", "p99") for i in (1, 2)
        for panel in range(2)), "p50/p99 marks per session and panel")
    for group in root.iter(SVG + "g"):
        if "mark" in group.get("class", "").split():
            line = group.find(SVG + "line")
            expect(line is not None and line.get("stroke-dasharray"),
                   f"{group.get('class')}: a dashed line")
            expect_equal("".join(group.find(SVG + "text").itertext()),
                         group.get("class").split()[1], "its name")


def test_report_klipper_pin_module(run):
    """The Klipper module's max_wait_ms has its panel."""
    picture = run.path("module.svg")
    completed = launcher(run, "report", "--svg", picture, os.path.join(
        ROOT, "tests", "fixtures", "klippy-logs", "klipper-pin-module.log"))
    expect_equal(completed.returncode, 0, f"report ({completed.stderr})")
    expect("klipper_pin.max_wait_ms" in texts(parsed(picture)),
           "no klipper_pin.max_wait_ms panel")


def test_unwritable(run):
    """A directory that does not exist, a file where a directory should
    be, or a directory itself: exit 1 at once, the message naming it, nothing printed, nothing
    written."""
    plain = run.write("plain", "")
    os.mkdir(run.path("directory"))
    before = sorted(os.listdir(run.tmp))
    for path in (run.path("missing/x.svg"), os.path.join(plain, "x.svg"),
                 run.path("directory")):
        for args in (["probe", "--count", "100000", "--svg", path],
                     ["report", "--svg", path, LOG]):
            completed = launcher(run, *args, timeout=20)
            expect_equal(completed.returncode, 1,
                         f"{args[0]} exit status ({completed.stderr})")
            expect(f"--svg {path}: cannot write: " in completed.stderr,
                   f"message: {completed.stderr!r}")
            expect(completed.stderr.startswith("klipper-pin"),
                   f"message: {completed.stderr!r}")
            expect_equal(completed.stdout, "", f"{args[0]}'s output")
    expect_equal(sorted(os.listdir(run.tmp)), before, "files")


def test_replaces_in_place(run):
    """An existing file is replaced whole, and no temporary file is left
    beside it."""
    picture = run.write("report.svg", "old")
    completed = launcher(run, "report", "--svg", picture, LOG)
    expect_equal(completed.returncode, 0, f"report ({completed.stderr})")
    parsed(picture)
    expect_equal(sorted(os.listdir(run.tmp)), ["report.svg"], "files")


def test_interrupted_probe(run):
    """SIGINT: the picture of the wake-ups so far is written all the same,
    and the exit status is 130."""
    picture = run.path("stopped.svg")
    marker = "773us"  # in the argv its busy child shares
    process = subprocess.Popen(run.build.command(
        [run.build.launcher, "probe", "--count", "100000", "--load",
         str(online_cpus()[0]), "--threshold", marker, "--svg", picture]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run.env())
    try:
        # Its busy child runs once the signals are the probe's to take.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not children(marker,
                                                           process.pid):
            time.sleep(0.05)
        time.sleep(0.3)  # some wake-ups to draw
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    expect_equal(process.returncode, 130, f"exit status ({err!r})")
    root = parsed(picture)
    expect_equal(series(root), ["setup-1"], "one curve")
    expect(any("(interrupted)" in w for w in texts(root)),
           "not said to be interrupted")
    expect_equal(sorted(os.listdir(run.tmp)), ["stopped.svg"], "files")


def children(marker, parent):
    """The processes but parent whose command line holds marker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (parent, os.getpid()):
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if marker.encode() in cmdline.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found
