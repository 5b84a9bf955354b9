"""`klipper-pin probe`: a short run under a placement wakes on the CPU
asked and reports every field (text and --json); a config's rule places
it as the shim would; bad input is refused with exit 2 or 1 and nothing
left running; SIGINT and SIGTERM stop a run with --load and --siblings
with every busy child reaped; and its median agrees with cyclictest's on
the same scenario; --compare measures three setups, or five with a
policy, and says what their p99s say exactly when they say it. No timing
figure is asserted but that median."""
import json
import os
import shutil
import signal
import subprocess
import time

from harness import Skip, expect, expect_equal, need_cpus, online_cpus

FIELDS = ["count", "asked", "interval_ns", "cpus", "allowed", "policy",
          "priority", "nice", "rule", "load", "siblings", "woke_on",
          "woke_per_cpu", "min_ns", "mean_ns", "p50_ns", "p99_ns",
          "p999_ns", "max_ns", "threshold_ns", "over_threshold",
          "wait_before_ns", "wait_after_ns", "wait_ns", "histogram",
          "interrupted"]

TEXT_FIELDS = ["wake-ups", "placement", "allowed cpus", "load",
               "woke on cpus", "min", "mean", "p50", "p99", "p99.9", "max",
               "over 1ms", "run-queue wait"]


def probe(run, *args, timeout=30, env=None):
    return run.run([run.build.launcher, "probe"] + list(args),
                   timeout=timeout, env=env)


def probe_json(run, *args):
    completed = probe(run, "--json", *args)
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    return json.loads(completed.stdout)


def with_marker(marker):
    """The processes whose command line holds marker: the probe and each
    busy child it forked (they share its argv)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                words = cmdline.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in words:
            found.append(int(entry))
    return found


def test_placed_run(run):
    """300 wake-ups on the last CPU: each woke there, every field is
    there, the histogram counts them all."""
    cpu = online_cpus()[-1]
    report = probe_json(run, "--count", "300", "--interval", "1ms",
                        "--cpus", str(cpu))
    print(f"    woke on CPUs {report['woke_on']}, p50 "
          f"{report['p50_ns'] / 1000:.1f} us")
    for field in FIELDS:
        expect(field in report, f"no {field} in {report}")
    expect_equal(report["count"], 300, "wake-ups")
    expect_equal(report["asked"], 300, "wake-ups asked")
    expect_equal(report["interval_ns"], 1000000, "interval")
    expect_equal(report["cpus"], str(cpu), "CPUs asked")
    expect_equal(report["allowed"], str(cpu), "CPUs allowed")
    expect_equal(report["woke_on"], str(cpu), "CPUs woken on")
    expect_equal(report["woke_per_cpu"], {str(cpu): 300}, "per CPU")
    expect_equal(report["policy"], "other", "policy")
    expect_equal(report["interrupted"], False, "interrupted")
    expect_equal(sum(b["count"] for b in report["histogram"]), 300,
                 "histogram total")
    expect(report["min_ns"] <= report["p50_ns"] <= report["p99_ns"]
           <= report["p999_ns"] <= report["max_ns"], f"order: {report}")
    if report["wait_ns"] is not None:
        expect_equal(report["wait_ns"], report["wait_after_ns"]
                     - report["wait_before_ns"], "run-queue wait")


def test_text_report(run):
    """The terminal's report: each line, and a histogram."""
    completed = probe(run, "--count", "100", "--interval", "500us",
                      "--cpus", "0", "--siblings", "1")
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    labels = [line.split(":")[0] for line in completed.stdout.splitlines()]
    for label in TEXT_FIELDS:
        expect(label in labels, f"no '{label}:' in\n{completed.stdout}")
    expect("woke on cpus:    0\n" in completed.stdout, completed.stdout)
    expect("histogram (us):" in completed.stdout, completed.stdout)
    expect(completed.stderr == "", f"stderr, not a terminal: "
           f"{completed.stderr!r}")


def test_config_rule(run):
    """--config --rule: the rule's CPUs, policy and priority; --cpus over
    the rule's CPUs."""
    if os.geteuid() != 0:
        raise Skip("a fifo rule needs root")
    cpu = online_cpus()[-1]
    conf = run.write("probe.conf", "[thread serial]\nmatch_name: serialq*\n"
                     "cpus: last\npolicy: fifo\npriority: 10\n")
    report = probe_json(run, "--count", "50", "--config", conf,
                        "--rule", "serial")
    expect_equal((report["rule"], report["cpus"], report["woke_on"],
                  report["policy"], report["priority"]),
                 ("serial", str(cpu), str(cpu), "fifo", 10), "rule serial")
    report = probe_json(run, "--count", "50", "--config", conf,
                        "--rule", "serial", "--cpus", "0")
    expect_equal((report["woke_on"], report["policy"]), ("0", "fifo"),
                 "--cpus over the rule")


BAD = [
    (["--interval", "0"], 2, "bad --interval '0'"),
    (["--interval", "1h"], 2, "bad --interval"),
    (["--count", "0"], 2, "bad --count '0'"),
    (["--count", "-5"], 2, "bad --count '-5'"),
    (["--duration", "0"], 2, "bad --duration '0'"),
    (["--duration", "-2s"], 2, "bad --duration '-2s'"),
    (["--count", "5", "--duration", "1s"], 2, "exclude each other"),
    (["--cpus", "8191"], 2, "CPU 8191 not online here"),
    (["--cpus", "0-x"], 2, "bad --cpus '0-x'"),
    (["--load", "0,4000"], 2, "CPU 4000 not online here"),
    (["--policy", "fast"], 2, "bad --policy 'fast'"),
    (["--priority", "5"], 2, "--priority needs --policy fifo or rr"),
    (["--priority", "100", "--policy", "fifo"], 2, "bad --priority"),
    (["--rule", "serial"], 2, "--config and --rule go together"),
    (["--config", "/nonexistent/klipper-pin.conf", "--rule", "serial"], 1,
     "cannot read the config"),
    (["extra"], 2, "unexpected 'extra'"),
    (["--rounds", "2"], 2, "--rounds goes with --compare"),
    (["--compare"], 2, "--compare needs a placement"),
    (["--compare", "--policy", "fifo"], 2, "--compare needs a placement"),
    (["--compare", "--cpus", "0", "--rounds", "0"], 2, "bad --rounds"),
]


def test_bad_input(run):
    for args, code, message in BAD:
        short = [] if "--count" in args or "--duration" in args \
            else ["--count", "3"]
        completed = probe(run, *args, *short)
        expect_equal(completed.returncode, code, f"exit of {args}")
        expect(message in completed.stderr,
               f"{args}: '{message}' not in {completed.stderr!r}")
        expect_equal(completed.stdout, "", f"stdout of {args}")


THREE = ["unplaced", "process", "plan"]
FIVE = THREE + ["cpus only", "policy only"]


def compare_table(stdout, count):
    """The text of --compare: {row label: [value of each setup]} from its
    fixed columns (20 characters of label, 15 a setup), and the sentences
    under the table, one a paragraph, each joined onto one line."""
    lines = stdout.splitlines()
    rows = {}
    for number, line in enumerate(lines[2:], start=2):
        if not line:
            break
        values = [line[20 + 15 * i:20 + 15 * (i + 1)].strip()
                  for i in range(count - 1)] + [line[20 + 15 * (count - 1):]
                                                .strip()]
        rows[line[:20].strip()] = values
    paragraphs = "\n".join(lines[number + 1:]).split("\n\n")
    return rows, [" ".join(p.split("\n")) for p in paragraphs if p]


def tenths(text):
    """A figure of the table (us, one decimal) in tenths of a us."""
    return round(float(text) * 10)


def verdicts(p99, names):
    """What p99 (tenths of a us by setup name) says, as --compare must
    say it: the setups worse than unplaced, the lowest, and whether the
    policy alone beat the CPUs alone."""
    worse = [name for name in names
             if name != "unplaced" and p99[name] > p99["unplaced"]]
    lowest = [name for name in names if p99[name] == min(p99.values())]
    policy = "policy only" in names and p99["policy only"] < p99["cpus only"]
    return worse, lowest, policy


def expect_ratio(printed, p99, name):
    """printed is p99[name] over the process's, to its decimals."""
    want = p99[name] / p99["process"]
    decimals = len(printed.split(".")[1])
    expect(abs(float(printed) - want) <= 0.5 * 10 ** -decimals + 1e-9,
           f"{name}: p99 / process {printed}, {want:.4f} by its p99")
    expect_equal(decimals, 3 if want < 0.1 else 2, f"{name}: decimals of "
                 f"{printed}")


def us(tenth):
    return f"{tenth // 10}.{tenth % 10}"


def expect_compare_text(stdout, names, cpus):
    """The table of --compare for names, its ratio row, and each sentence
    under it there if and only if the p99s the table prints say so."""
    rows, sentences = compare_table(stdout, len(names))
    expect_equal(rows[""], names, "columns")
    for label in ("cpus", "policy", "woke on cpus", "p50 (us)", "p99 (us)",
                  "p99 / process", "p99.9 (us)", "run-queue wait (us)"):
        expect(label in rows, f"no {label} row in\n{stdout}")
    p99 = {name: tenths(value) for name, value in zip(names, rows["p99 (us)"])}
    print("    p99 (us): " + ", ".join(f"{name} {us(p99[name])}"
                                       for name in names))
    expect_equal(rows["p99 / process"][1], "1.00", "the process's ratio")
    for name, printed in zip(names, rows["p99 / process"]):
        expect_ratio(printed, p99, name)
    worse, lowest, policy = verdicts(p99, names)
    alone = "cpus only" if "cpus only" in names else "plan"
    said = {
        "The placement alone made the p99 worse: "
        f"{us(p99[alone])} us on CPUs {cpus} against {us(p99['unplaced'])} us"
        " unplaced. A pinned thread cannot leave a busy CPU, and an idle CPU "
        "first has to wake up: keep its CPU free of other work (klipper-pin "
        "reserve) or give it a policy.": alone in worse,
        f"The whole process on CPUs {cpus} (what CPUAffinity= gives) made "
        f"the p99 worse: {us(p99['process'])} us against "
        f"{us(p99['unplaced'])} us unplaced.": "process" in worse,
    }
    if "policy only" in names:
        said["The policy alone (fifo 10) did more than the placement alone "
             f"(CPUs {cpus}): p99 {us(p99['policy only'])} us against "
             f"{us(p99['cpus only'])} us."] = policy
    for sentence, holds in said.items():
        expect_equal(sentence in sentences, holds,
                     f"'{sentence}' said, by the p99s\n{stdout}")
    low = ("" if len(lowest) == 1 else ", ".join(lowest[:-1]) + " and ") \
        + lowest[-1]
    line = f"Lowest p99: {low}, {us(p99[lowest[0]])} us"
    if "process" not in lowest:
        ratio = p99[lowest[0]] / p99["process"]
        line += f", {ratio:.3f}" if ratio < 0.1 else f", {ratio:.2f}"
        line += "x the whole process's"
    expect_equal(sentences[-1], line + ".", "the lowest")
    expect_equal(len(sentences), 1 + sum(said.values()),
                 f"sentences: {sentences}")


def expect_compare_json(report, names):
    """--compare --json: every setup by name, and the ratios and verdicts
    as the text gives them (p99s to 0.1 us)."""
    expect_equal(list(report["setups"]), names, "setups")
    p99 = {name: (setup["p99_ns"] + 50) // 100
           for name, setup in report["setups"].items()}
    worse, lowest, _ = verdicts(p99, names)
    expect_equal(report["worse_than_unplaced"], worse, "worse_than_unplaced")
    expect_equal(report["lowest_p99"], lowest, "lowest_p99")
    expect_equal(list(report["p99_to_process"]), names, "p99_to_process")
    expect_equal(report["p99_to_process"]["process"], 1.0, "the process's")
    for name, ratio in report["p99_to_process"].items():
        want = p99[name] / p99["process"]
        decimals = 3 if want < 0.1 else 2
        expect(abs(ratio - want) <= 0.5 * 10 ** -decimals + 1e-9,
               f"{name}: p99_to_process {ratio}, {want:.4f} by its p99")


def test_compare(run):
    """--compare of CPUs alone: the three setups in each round, the
    process and the plan on the CPU asked, side by side in text, with the
    ratio row and the sentences the p99s call for."""
    cpu = online_cpus()[-1]
    report = probe_json(run, "--compare", "--rounds", "2", "--count", "50",
                        "--cpus", str(cpu), "--siblings", "1")
    expect_equal((report["compare"], report["rounds"], report["interrupted"]),
                 (True, 2, False), "compare")
    for name, setup in report["setups"].items():
        for field in FIELDS:
            expect(field in setup, f"no {field} in {name}")
        expect_equal(setup["count"], 100, f"{name} wake-ups")
    expect_equal(report["setups"]["unplaced"]["cpus"], "inherit", "unplaced")
    for name in ("process", "plan"):
        expect_equal(report["setups"][name]["woke_on"], str(cpu),
                     f"{name} woke on")
    expect_compare_json(report, THREE)
    completed = probe(run, "--compare", "--rounds", "1", "--count", "50",
                      "--cpus", str(cpu), "--load", str(cpu))
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    expect_compare_text(completed.stdout, THREE, str(cpu))


def test_compare_policy(run):
    """--compare of CPUs and a policy (the serial rule: cpus last, fifo
    10): five setups, the CPUs alone with no policy and the policy alone
    on no CPUs, the ratios and sentences as their p99s say; --policy on
    the command line makes the same five."""
    if os.geteuid() != 0:
        raise Skip("a fifo rule needs root")
    cpu = str(online_cpus()[-1])
    conf = run.write("probe.conf", "[thread serial]\nmatch_name: serialq*\n"
                     "cpus: last\npolicy: fifo\npriority: 10\n")
    report = probe_json(run, "--compare", "--rounds", "2", "--count", "50",
                        "--config", conf, "--rule", "serial",
                        "--siblings", "1")
    setups = report["setups"]
    expect_equal({name: (s["cpus"], s["policy"], s["priority"], s["rule"])
                  for name, s in setups.items()},
                 {"unplaced": ("inherit", "other", 0, None),
                  "process": (cpu, "other", 0, None),
                  "plan": (cpu, "fifo", 10, "serial"),
                  "cpus only": (cpu, "other", 0, "serial"),
                  "policy only": ("inherit", "fifo", 10, "serial")},
                 "each setup's placement")
    for name in ("process", "plan", "cpus only"):
        expect_equal(setups[name]["woke_on"], cpu, f"{name} woke on")
    for name, setup in setups.items():
        expect_equal(setup["count"], 100, f"{name} wake-ups")
    expect_compare_json(report, FIVE)
    completed = probe(run, "--compare", "--rounds", "1", "--count", "50",
                      "--config", conf, "--rule", "serial", "--load", cpu)
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    expect(max(len(line) for line in completed.stdout.splitlines()) <= 100,
           f"over 100 columns:\n{completed.stdout}")
    expect_compare_text(completed.stdout, FIVE, cpu)
    completed = probe(run, "--compare", "--rounds", "1", "--count", "20",
                      "--cpus", cpu, "--policy", "fifo", "--priority", "10")
    expect_equal(completed.returncode, 0, f"probe ({completed.stderr})")
    expect_compare_text(completed.stdout, FIVE, cpu)


def test_compare_without_cpus(run):
    """--compare of a rule that places on no CPUs: refused, as --compare
    with --policy alone is."""
    conf = run.write("probe.conf", "[thread serial]\nmatch_name: serialq*\n"
                     "nice: 5\n")
    completed = probe(run, "--compare", "--count", "3", "--config", conf,
                      "--rule", "serial")
    expect_equal(completed.returncode, 2, f"exit ({completed.stderr})")
    expect("--compare needs CPUs to compare: rule serial places the probe "
           "on none" in completed.stderr, completed.stderr)
    expect_equal(completed.stdout, "", "stdout")


def test_missing_rule(run):
    conf = run.write("probe.conf", "[thread serial]\nmatch_name: serialq*\n"
                     "cpus: last\n")
    completed = probe(run, "--config", conf, "--rule", "steps")
    expect_equal(completed.returncode, 1, "exit")
    expect("no rule [thread steps] (its rules: serial, and main)"
           in completed.stderr, completed.stderr)


def test_policy_without_permission(run):
    """As nobody with no RLIMIT_RTPRIO: exit 1, a message naming what to
    do, and the busy child started for --load gone."""
    if os.geteuid() != 0:
        raise Skip("needs root to become nobody for the test")
    if not shutil.which("setpriv") or not shutil.which("prlimit"):
        raise Skip("setpriv or prlimit (util-linux) is not installed")
    marker = "777us"
    completed = run.run(["prlimit", "--rtprio=0", "setpriv", "--reuid=nobody",
                         "--regid=nogroup", "--clear-groups",
                         run.build.launcher, "probe", "--count", "20",
                         "--policy", "fifo", "--priority", "10", "--load",
                         "0", "--threshold", marker])
    expect_equal(completed.returncode, 1, f"exit ({completed.stderr})")
    expect("cannot set policy fifo priority 10: Operation not permitted "
           "(run as root, or raise RLIMIT_RTPRIO" in completed.stderr,
           completed.stderr)
    expect_equal(with_marker(marker), [], "processes left running")


def stopped_by(run, sig, marker):
    """A long run with a busy child on each CPU and a sibling, stopped by
    sig once its children run: returns the completed run."""
    cpus = ",".join(str(cpu) for cpu in online_cpus()[:2])
    process = subprocess.Popen(
        run.build.command([run.build.launcher, "probe", "--count", "100000",
                           "--load", cpus, "--siblings", "1", "--threshold",
                           marker, "--json"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=run.env())
    try:
        deadline = time.monotonic() + 5
        children = []
        while time.monotonic() < deadline:
            children = [pid for pid in with_marker(marker)
                        if pid != process.pid]
            if len(children) == len(cpus.split(",")):
                break
            time.sleep(0.05)
        expect_equal(len(children), len(cpus.split(",")), "busy children")
        # some wake-ups to report (under qemu-user, beside two busy
        # children, the probe takes longer to start)
        time.sleep(2 if getattr(run.build, "qemu", None) else 0.3)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    expect_equal(process.returncode, 128 + sig, f"exit ({stderr})")
    expect_equal(with_marker(marker), [], "processes left running")
    for pid in children:
        expect(not os.path.exists(f"/proc/{pid}"), f"child {pid} remains")
    report = json.loads(stdout)
    expect_equal(report["interrupted"], True, "interrupted")
    expect(0 < report["count"] < 100000, f"wake-ups: {report['count']}")
    return report


def test_sigint_cleanup(run):
    stopped_by(run, signal.SIGINT, "771us")


def test_sigterm_cleanup(run):
    stopped_by(run, signal.SIGTERM, "772us")


def cyclictest_median_us(text):
    """The median of cyclictest -h's histogram (one line "US COUNT" per
    microsecond; the overflows are above its range)."""
    counts, overflows = [], 0
    for line in text.splitlines():
        if line[:1].isdigit():
            us, count = line.split()
            counts.append((int(us), int(count)))
        elif line.startswith("# Histogram Overflows:"):
            overflows = int(line.split(":")[1])
    total = sum(count for _, count in counts) + overflows
    seen = 0
    for us, count in counts:
        seen += count
        if seen >= (total + 1) // 2:
            return us
    return None


def test_agrees_with_cyclictest(run):
    """The same scenario under cyclictest and the probe: 2000 wake-ups
    every 1 ms on CPU 1, SCHED_OTHER, memory locked. Medians agree within
    150 us or a factor of 3 (see the report for why: cyclictest holds
    /dev/cpu_dma_latency at 0 and rounds down to microseconds, the probe
    does neither, and this is a 2-vCPU VM; an error of unit or of
    deadline would be off by orders of magnitude)."""
    need_cpus(2)
    if not shutil.which("cyclictest"):
        raise Skip("cyclictest (rt-tests) is not installed")
    cyclic = subprocess.run(["cyclictest", "-q", "-l", "2000", "-i", "1000",
                             "-a", "1", "-t", "1", "-m", "-h", "2000"],
                            capture_output=True, text=True, timeout=30)
    expect_equal(cyclic.returncode, 0, f"cyclictest ({cyclic.stderr})")
    theirs = cyclictest_median_us(cyclic.stdout)
    expect(theirs is not None, f"no histogram in {cyclic.stdout[:300]}")
    report = probe_json(run, "--count", "2000", "--interval", "1ms",
                        "--cpus", "1")
    ours = report["p50_ns"] / 1000
    print(f"    median: cyclictest {theirs} us, probe {ours:.1f} us")
    expect(abs(ours - theirs) <= 150 or 1 / 3 <= ours / max(theirs, 1) <= 3,
           f"medians disagree: cyclictest {theirs} us, probe {ours:.1f} us")
