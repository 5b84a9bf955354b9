"""The launcher's own behaviour: exit codes as env(1), messages for bad
configs (and the program never started), check, dry-run, options, and the
environment it hands on."""
import os

from harness import (SANITIZER_RUNTIME, expect, expect_equal,
                     need_no_thread_sanitizer)

BAD_CONFIGS = [
    # (config text, line, words the message must have)
    ("[main]\ncpu: 1\n", 2, ["unknown key 'cpu'", "did you mean 'cpus'"]),
    ("[mian]\ncpus: 1\n", 1, ["unknown section [mian]", "did you mean [main]"]),
    ("[main]\ncpus: 3-1\n", 2, ["bad CPU list '3-1'", "expected"]),
    ("[main]\ncpus: a\n", 2, ["bad CPU list 'a'", "expected"]),
    ("[main]\ncpus: 99999\n", 2, ["99999", "8191"]),
    ("[main]\ncpus:\n", 2, ["bad CPU list", "expected"]),
    ("[thread x]\ncpus: 1\npolicy: fifo\npriority: 100\n", 4,
     ["bad priority '100'", "1 to 99"]),
    ("[thread x]\ncpus: 1\nspread: 0-1\n", 3, ["'cpus' and 'spread' both"]),
    ("[main]\ncpus 1\n", 2, ["malformed line 'cpus 1'", "expected"]),
    ("[thread x]\npolicy: fifo\n", 2, ["needs a 'priority'"]),
    ("[thread x]\nmatch_index: 0\n", 2, ["match_index", "start at 1"]),
    ("[thread x]\nrename: a-name-far-too-long\n", 2, ["rename", "15 bytes"]),
    ("[main]\nspread: 0-1\n", 2, ["'spread' does not belong in [main]"]),
    ("[klipper-pin]\nlog: relative/path\n", 2, ["absolute path"]),
    ("[main]\nnice: -21\n", 2, ["bad nice '-21'", "-20 to 19"]),
    ("[main]\ncpus: 0\n[main]\n", 3, ["duplicate section [main]"]),
    ("[main]\ncpus: 0\ncpus: 1\n", 3, ["duplicate key 'cpus'", "line 2"]),
    ("[main]\ncpus: " + ",".join(["0"] * 120) + "\nnice: 99\n", 3,
     ["bad nice '99'"]),
]


def test_bad_configs_exit_125_name_the_line_and_run_nothing(run):
    marker = run.path("ran")
    for text, line, words in BAD_CONFIGS:
        path = run.write("bad.conf", text)
        result = run.run([run.build.launcher, "--config", path, "--",
                          "/bin/touch", marker])
        expect_equal(result.returncode, 125, f"exit status for {text!r}")
        expect(result.stderr.startswith(f"klipper-pin: {path}:{line}: "),
               f"file:line for {text!r}: {result.stderr!r}")
        for word in words:
            expect(word in result.stderr, f"{word!r} in {result.stderr!r}")
        expect(not os.path.exists(marker), f"program ran for {text!r}")
        expect_equal(result.stderr.count("\n"), 1, "one line of error")
        checked = run.run([run.build.launcher, "check", "--config", path])
        expect_equal(checked.returncode, 1, f"check of {text!r}")
        expect_equal(checked.stderr, result.stderr, "check says the same")


def test_unreadable_config(run):
    result = run.run([run.build.launcher, "--config", run.path("missing.conf"),
                      "--", "true"])
    expect_equal(result.returncode, 125, "exit status")
    expect("missing.conf: cannot read the config: No such file" in
           result.stderr, result.stderr)


def test_exit_codes_like_env(run):
    launcher = run.build.launcher
    expect_equal(run.run([launcher, "--", "/no/such/program"]).returncode,
                 127, "not found")
    expect_equal(run.run([launcher, "no-such-program-anywhere"]).returncode,
                 127, "not found on PATH")
    plain = run.write("not-executable", "#!/bin/sh\n")
    expect_equal(run.run([launcher, "--", plain]).returncode, 126,
                 "not executable")
    expect_equal(run.run([launcher, "--", "/bin/sh", "-c", "exit 7"]).returncode,
                 7, "the program's own status")
    expect_equal(run.run([launcher]).returncode, 125, "no command")
    expect_equal(run.run([launcher, "--bogus", "true"]).returncode, 125,
                 "unknown option")
    expect_equal(run.run([launcher, "--shim", "/no/such.so", "true"]).returncode,
                 125, "missing shim")


def test_program_options_are_its_own(run):
    result = run.run([run.build.launcher, "--log", "none", "/bin/echo", "-n",
                      "--config", "x"])
    expect_equal((result.returncode, result.stdout), (0, "--config x"),
                 "options after COMMAND go to COMMAND")
    result = run.run([run.build.launcher, "--log", "none", "--", "check"])
    expect_equal(result.returncode, 127, "'--' makes check a COMMAND")


def test_same_pid_and_environment(run):
    need_no_thread_sanitizer("a library preloaded before its runtime "
                             "crashes the instrumented launcher")
    result = run.run([run.build.launcher, "--log", "none", "--", "/bin/sh",
                      "-c", 'echo "$$ $KLIPPER_PIN_PID $LD_PRELOAD"'],
                     env={"LD_PRELOAD": "libc.so.6"})
    pid, target, preload = result.stdout.split()
    preload = preload.split(":")
    expect_equal(pid, target, "the program runs as the launcher's PID")
    runtime = [SANITIZER_RUNTIME] if SANITIZER_RUNTIME else []
    expect_equal(preload, runtime + ["libc.so.6", run.build.shim],
                 "LD_PRELOAD keeps its entries, the shim added last")
    nested = run.run([run.build.launcher, "--log", "none", "--",
                      run.build.launcher, "--log", "none", "--", "/bin/sh",
                      "-c", 'echo "$LD_PRELOAD"'])
    expect_equal(nested.stdout.strip().split(":"), runtime + [run.build.shim],
                 "the shim once")


def test_config_chosen_by_option_then_environment(run):
    env_config = run.write("env.conf", "[main]\ncpus: 0\n")
    option_config = run.write("option.conf", "[main]\ncpus: all\n")
    result = run.run([run.build.launcher, "check"],
                     env={"KLIPPER_PIN_CONFIG": env_config})
    expect(f"config:   {env_config}" in result.stdout, result.stdout)
    result = run.run([run.build.launcher, "check", "-c", option_config],
                     env={"KLIPPER_PIN_CONFIG": env_config})
    expect(f"config:   {option_config}" in result.stdout, result.stdout)


def test_check_prints_the_plan_for_this_machine(run):
    shipped = os.path.join(os.path.dirname(run.build.dir), "config",
                           "klipper-pin.conf")
    result = run.run([run.build.launcher, "check", "--config", shipped])
    expect_equal(result.returncode, 0, f"check of the shipped config: "
                 f"{result.stderr}")
    for words in ("[thread serial]", "match: name=serialq*",
                  "policy fifo priority 10", "[thread chelper]",
                  "library=c_helper.so", "children: cpus 0-last-2",
                  "main:     cpus last-1 = ", "valid"):
        expect(words in result.stdout, f"{words!r} in check output")


def test_dry_run_prints_and_runs_nothing(run):
    marker = run.path("ran")
    config = run.write("plan.conf", "[main]\ncpus: 0\n")
    result = run.run([run.build.launcher, "-n", "-c", config, "--",
                      "/bin/touch", marker, "with space"])
    expect_equal(result.returncode, 0, "exit status")
    expect(not os.path.exists(marker), "the program did not run")
    expect("main:     cpus 0" in result.stdout, result.stdout)
    expect(f"command: /bin/touch {marker} 'with space'" in result.stdout,
           result.stdout)
    expect(f"shim:    {run.build.shim}" in result.stdout, result.stdout)


def test_shim_path_that_ld_preload_would_split(run):
    odd = run.path("dir with space")
    os.mkdir(odd)
    with open(run.build.shim, "rb") as src, \
            open(os.path.join(odd, "libklipper-pin.so"), "wb") as dst:
        dst.write(src.read())
    result = run.run([run.build.launcher, "--shim",
                      os.path.join(odd, "libklipper-pin.so"), "true"])
    expect_equal(result.returncode, 125, "exit status")
    expect("LD_PRELOAD would split" in result.stderr, result.stderr)


def test_help_and_version(run):
    help_text = run.run([run.build.launcher, "--help"])
    expect_equal(help_text.returncode, 0, "--help")
    expect("usage: klipper-pin" in help_text.stdout, help_text.stdout)
    version = run.run([run.build.launcher, "-V"])
    expect(version.stdout.startswith("klipper-pin "), version.stdout)


def test_shim_exports_only_the_interposed_functions_unversioned(run):
    result = run.run(["nm", "-D", "--defined-only", run.build.shim])
    expect_equal(result.returncode, 0, f"nm: {result.stderr}")
    exported = sorted(line.split()[-1] for line in result.stdout.splitlines()
                      if line.split()[1] in "TtWwDdBb")
    wanted = ["prctl", "pthread_create", "pthread_setname_np"]
    with open(run.build.shim, "rb") as elf:
        if elf.read(5)[4] == 1:  # ELFCLASS32: prctl's 64-bit-time name too
            wanted = ["__prctl_time64"] + wanted
    expect_equal(exported, wanted, "exported symbols")
    versions = run.run(["readelf", "--dyn-syms", "--wide", run.build.shim])
    for line in versions.stdout.splitlines():
        if line.split()[-1:] and line.split()[-1].startswith(
                ("prctl", "pthread_create", "pthread_setname_np")):
            expect("@" not in line.split()[-1], f"unversioned: {line}")
