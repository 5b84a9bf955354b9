"""`klipper-pin check` catches what a run would hit, every problem at once;
the run applies exactly the plan check validated; --on-error run starts the
program unplaced."""
import os
import stat

from harness import Skip, expect, expect_equal, need_cpus, online_cpus

PLACE = "[main]\ncpus: 0\n[thread all]\ncpus: 1\n"


def check(run, config_text, *options, env=None):
    config = run.write("check.conf", config_text)
    return run.run([run.build.launcher, "check", "-c", config] + list(options),
                   env=env)


def test_inherited_klipper_pin_variables_change_nothing(run):
    need_cpus(2)
    inherited = {"KLIPPER_PIN_LOG": "bogus", "KLIPPER_PIN_LOG_FORMAT": "xml",
                 "KLIPPER_PIN_OFF": "stale", "KLIPPER_PIN_PID": "1"}
    checked = check(run, PLACE, env=inherited)
    expect_equal(checked.returncode, 0, f"check ({checked.stderr})")
    result = run.launch([run.build.create, "basic", "2"], PLACE, env=inherited)
    expect_equal(result.code, 0, f"exit ({result.stderr})")
    expect_equal({line["cpus"] for line in result.lines("thread")}, {"1"},
                 "threads placed as checked")
    expect_equal(len(result.logged("thread")), 2, "logged where checked")


def test_every_error_at_once_with_its_line(run):
    checked = check(run, "[main]\ncpus: 0\nnice: 40\n[thread a]\ncpu: 1\n"
                    "[thread b]\npolicy: fast\n")
    expect_equal(checked.returncode, 1, "invalid")
    for line, words in ((3, "nice"), (5, "'cpu'"), (7, "policy")):
        expect(f"check.conf:{line}:" in checked.stderr and words in
               checked.stderr, f"line {line} ({words}) in {checked.stderr}")
    expect("invalid: 3 errors" in checked.stdout, checked.stdout)


def test_options_before_the_subcommand(run):
    config = run.write("c.conf", PLACE)
    result = run.run([run.build.launcher, "-c", config, "check"])
    expect_equal(result.returncode, 0, f"exit ({result.stderr})")
    expect(f"config:   {config}" in result.stdout, result.stdout)
    # after "--", "check" is a command to run
    result = run.run([run.build.launcher, "-c", config, "--", "check"])
    expect_equal(result.returncode, 127, "no program called check")


def test_a_shim_that_is_not_one_is_refused_before_the_program_runs(run):
    marker = run.path("ran")
    result = run.run([run.build.launcher, "--shim", "/etc/passwd", "--",
                      "touch", marker])
    expect_equal(result.returncode, 125, "exit status")
    expect("not an ELF shared object" in result.stderr, result.stderr)
    expect(not os.path.exists(marker), "the program did not run")
    checked = run.run([run.build.launcher, "check", "--shim", "/etc/passwd"])
    expect_equal(checked.returncode, 1, f"check ({checked.stderr})")


def test_dry_run_of_a_missing_command_says_so(run):
    result = run.run([run.build.launcher, "-n", "--", "no-such-program-x"])
    expect_equal(result.returncode, 127, "exit status as the run's")
    expect("no-such-program-x" in result.stderr, result.stderr)


def test_log_problems_found_by_check(run):
    missing = run.path("no-dir/klipper-pin.log")
    checked = check(run, f"[klipper-pin]\nlog: {missing}\n")
    expect_equal(checked.returncode, 1, "a missing directory is an error")
    expect("no-dir" in checked.stderr, checked.stderr)
    link = run.path("link.log")
    os.symlink(run.path("target.log"), link)
    checked = check(run, f"[klipper-pin]\nlog: {link}\n")
    expect_equal(checked.returncode, 1, "a symlinked log is an error")
    expect("symbolic links are refused" in checked.stderr, checked.stderr)
    fifo = run.path("log.fifo")
    os.mkfifo(fifo)
    checked = check(run, f"[klipper-pin]\nlog: {fifo}\n")
    expect("is a FIFO" in checked.stderr, checked.stderr)


def test_check_as_an_unprivileged_user(run):
    if os.geteuid() != 0:
        raise Skip("checking as another user needs root")
    private = run.path("private")
    os.mkdir(private, 0o700)
    config = run.write("nobody.conf",
                       f"[klipper-pin]\nlog: {private}/klipper-pin.log\n")
    os.chmod(run.tmp, 0o755)
    os.chmod(config, 0o644)
    result = run.run([run.build.launcher, "check", "-c", config,
                      "--user", "nobody"])
    expect_equal(result.returncode, 1, f"nobody cannot make the log "
                 f"({result.stderr})")
    expect("user nobody cannot make the log" in result.stderr, result.stderr)
    # root itself can: the same check without --user passes
    result = run.run([run.build.launcher, "check", "-c", config])
    expect_equal(result.returncode, 0, f"root can ({result.stderr})")
    # a config only root can read
    os.chmod(config, 0o600)
    result = run.run([run.build.launcher, "check", "-c", config, "-u",
                      "nobody"])
    expect("user nobody cannot read the config" in result.stderr,
           result.stderr)
    # a log directory nobody may write: valid
    shared = run.path("shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    config = run.write("shared.conf",
                       f"[klipper-pin]\nlog: {shared}/klipper-pin.log\n")
    os.chmod(config, 0o644)
    result = run.run([run.build.launcher, "check", "-c", config, "-u",
                      "nobody"])
    expect_equal(result.returncode, 0, f"valid for nobody ({result.stderr})")
    expect(not os.listdir(shared), "check created nothing")


def test_check_as_someone_else_without_root_says_so(run):
    if os.geteuid() != 0:
        raise Skip("needs root to become nobody for the test")
    os.chmod(run.tmp, 0o755)
    config = run.write("c.conf", PLACE)
    os.chmod(config, 0o644)
    result = run.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup",
                      "--clear-groups", run.build.launcher, "check", "-c",
                      config, "--user", "root"])
    expect_equal(result.returncode, 1, f"exit ({result.stderr})")
    expect("needs root" in result.stderr, result.stderr)


def test_warnings_for_rules_that_can_never_match_and_an_empty_config(run):
    checked = check(run, "[thread all]\ncpus: 0\n[thread serial]\n"
                    "match_name: serialq*\ncpus: 1\n")
    expect_equal(checked.returncode, 0, "valid, with a warning")
    expect("check.conf:3: [thread serial] can never match" in checked.stderr,
           checked.stderr)
    checked = check(run, "# nothing here\n")
    expect_equal(checked.returncode, 0, "an empty config is valid")
    expect("places nothing" in checked.stderr, checked.stderr)


def test_syslog_without_a_listener_is_a_warning(run):
    checked = check(run, "[klipper-pin]\nlog: syslog\n")
    expect_equal(checked.returncode, 0, "valid")
    listening = os.path.exists("/dev/log") and \
        stat.S_ISSOCK(os.stat("/dev/log").st_mode)
    warned = "nothing listens on /dev/log" in checked.stderr
    expect(warned == (not listening),
           f"/dev/log {'is' if listening else 'is not'} there: "
           f"{checked.stderr!r}")


def test_on_error_run_starts_the_program_unplaced(run):
    need_cpus(2)
    bad = "[main]\ncpus: 0\n[thread all]\ncpu: 1\n"
    refused = run.launch([run.build.create, "basic", "1"], bad)
    expect_equal(refused.code, 125, "refuse is the default")
    result = run.launch([run.build.create, "basic", "2"], bad,
                        options=("--on-error", "run"))
    expect_equal(result.code, 0, f"the program ran ({result.stderr})")
    expect("unknown key 'cpu'" in result.stderr and ":4:" in result.stderr,
           result.stderr)
    expect_equal({line["cpus"] for line in result.lines("thread")},
                 {"0-1"}, "threads not placed")
    main, = result.lines("main")
    expect_equal(main["cpus"], "0-1", "main thread not placed")
    expect_equal(result.events, [], "the shim placed and logged nothing")
    # The shim is loaded, and knows why it is off.
    environ = run.run([run.build.launcher, "--on-error", "run", "-c",
                       run.write("bad.conf", bad), "--", "cat",
                       "/proc/self/environ"]).stdout.split("\0")
    expect(any(v.startswith("LD_PRELOAD=") and "libklipper-pin.so" in v
               for v in environ), "the shim is preloaded")
    expect(any(v.startswith("KLIPPER_PIN_OFF=") and ":4:" in v
               for v in environ), "and told why it is off")


def test_shipped_config_places_the_demo_as_its_comments_say(run):
    # On this machine's CPUs: main and the serial reader on last-1, the
    # serial thread on last with SCHED_FIFO 10, step threads spread over
    # the last two.
    need_cpus(2)
    online = online_cpus()
    last, before = online[-1], online[-2]
    shipped = os.path.join(os.path.dirname(run.build.dir), "config",
                           "klipper-pin.conf")
    demo = os.path.join(run.build.dir, "demo", "klippy-demo")
    checked = run.run([run.build.launcher, "check", "-c", shipped])
    expect_equal(checked.returncode, 0, f"check ({checked.stderr})")
    expect("warning" not in checked.stderr, f"no warning: {checked.stderr}")
    with open(shipped) as text:
        result = run.launch([demo], text.read())
    expect_equal(result.code, 0, f"exit ({result.stderr})")
    placed = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0].isdigit():
            placed[" ".join(words[1:-1])] = words[-1]
    expect_equal(placed.get("serialq mcu"), str(last), "serial thread")
    expect_equal(placed.get("serialhdl mcu"), str(before), "serial reader")
    steps = {placed.get(n) for n in ("stepper_x", "stepper_y", "extruder")}
    expect_equal(steps, {str(before), str(last)}, "step threads spread")
    serial = [e for e in result.logged("rename") if e["name"] == "serialq mcu"]
    expect_equal((serial[0]["policy"], serial[0]["priority"]), ("fifo", 10),
                 "serial thread real-time")
    expect(all(e["result"] == "ok" for e in result.events),
           [e["result"] for e in result.events])
