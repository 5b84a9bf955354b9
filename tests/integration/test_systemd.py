"""klipper-pin systemd install | remove | show, against unit trees built
under --root as Klipper's own install script, KIAUH and `systemctl edit`
write them. Every drop-in written is checked by systemd's own
`systemd-analyze verify --root`, which loads the unit with its drop-ins
as systemd would and checks the command it ends up with."""
import os
import shutil
import subprocess

from harness import ROOT, Skip, expect, expect_equal, need_cpus

UNIT_DIR = "etc/systemd/system"
DROPIN = "zz-klipper-pin.conf"
LAUNCHER = "/usr/local/bin/klipper-pin"
PYTHON_ENV = "/home/pi/klippy-env/bin/python"
SHIPPED_CONFIG = os.path.join(ROOT, "config", "klipper-pin.conf")

# KIAUH's template (kiauh/.../klipper.service), as KIAUH writes it out for
# user pi: klippy's arguments come from the environment file.
KIAUH_UNIT = """\
[Unit]
Description=Klipper 3D Printer Firmware SV1
Documentation=https://www.klipper3d.org/
After=network-online.target
Wants=udev.target

[Install]
WantedBy=multi-user.target

[Service]
Type=simple
User=pi
RemainAfterExit=yes
WorkingDirectory=/home/pi/klipper
EnvironmentFile=%h/printer_data/systemd/klipper.env
ExecStart=/home/pi/klippy-env/bin/python $KLIPPER_ARGS
Restart=always
RestartSec=10
"""

# Klipper's scripts/install-debian.sh, its heredoc written out for pi.
KLIPPER_SCRIPT_UNIT = """\
#Systemd service file for klipper
[Unit]
Description=Starts klipper on startup
After=network.target

[Install]
WantedBy=multi-user.target

[Service]
Type=simple
User=pi
RemainAfterExit=yes
ExecStart=/home/pi/klippy-env/bin/python /home/pi/klipper/klippy/klippy.py /home/pi/printer.cfg -l /tmp/klippy.log
Restart=always
RestartSec=10
"""

# KIAUH's second instance: its own data directory.
SECOND_INSTANCE_UNIT = KIAUH_UNIT.replace(
    "EnvironmentFile=%h/printer_data/systemd/klipper.env",
    "EnvironmentFile=/home/pi/printer_2_data/systemd/klipper.env")

FIFO_AND_NICE = """\
[main]
cpus: 0
[thread serial]
match_name: serialq*
cpus: 0
policy: fifo
priority: 10
[thread steps]
match_name: stepper_*
cpus: 0
nice: -5
"""


def need_systemd_analyze():
    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze is not installed (Debian's systemd)")
    # verify --root came with systemd 250 (Debian 12 has 252, 11 has 247).
    version = subprocess.run(["systemd-analyze", "--version"],
                             capture_output=True, text=True).stdout.split()
    if len(version) > 1 and version[1].isdigit() and int(version[1]) < 250:
        raise Skip(f"systemd-analyze {version[1]} cannot verify under "
                   "--root (systemd 250 and later can: Debian 12, 13)")


def put(root, path, text, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as out:
        out.write(text)
    os.chmod(full, mode)
    return full


def make_tree(run, units, config=None,
              config_path="/home/pi/printer_data/config/klipper-pin.conf"):
    """A system under a root: units (path under the root -> text), the
    targets systemd-analyze needs, user pi, klippy's python, the launcher
    at LAUNCHER, and config (text; None: the shipped one) at
    config_path."""
    run.count += 1
    root = run.path(f"root-{run.count}")
    for target in ("sysinit", "basic", "shutdown", "multi-user", "network",
                   "network-online", "udev"):
        put(root, f"usr/lib/systemd/system/{target}.target",
            f"[Unit]\nDescription={target}\n")
    put(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
        "pi:x:1000:1000:,,,:/home/pi:/bin/bash\n")
    for program, source in ((PYTHON_ENV, "/bin/true"),
                            (LAUNCHER, run.build.launcher)):
        full = os.path.join(root, program.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        shutil.copy(source, full)
    for path, text in units.items():
        put(root, path, text)
    if config is None:
        with open(SHIPPED_CONFIG) as shipped:
            config = shipped.read()
    if config_path:
        put(root, config_path, config)
    return root


def snapshot(root):
    """Every path under root with its mode and contents (None for a
    directory), to compare trees byte for byte."""
    found = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(top, name)
            info = os.lstat(full)
            content = None
            if not os.path.isdir(full):
                with open(full, "rb") as data:
                    content = data.read()
            found[os.path.relpath(full, root)] = (info.st_mode, content)
    return found


def systemd(run, root, *args, launcher=True):
    extra = ["--launcher", LAUNCHER] if launcher else []
    return run.run([run.build.launcher, "systemd"] + list(args) +
                   ["--root", root] + extra)


def dropin_path(root, unit="klipper.service"):
    return os.path.join(root, UNIT_DIR, unit + ".d", DROPIN)


def read(path):
    with open(path) as data:
        return data.read()


def settings(text, key):
    """Values of key= in a unit file's text, in order."""
    prefix = key + "="
    return [line[len(prefix):] for line in text.splitlines()
            if line.startswith(prefix)]


def verify(root, unit="klipper.service"):
    """systemd-analyze verify under root: the unit and every drop-in as
    systemd loads them, the command's program looked up in the tree."""
    need_systemd_analyze()
    completed = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
        capture_output=True, text=True, timeout=60)
    return completed


def expect_verified(root, unit="klipper.service"):
    completed = verify(root, unit)
    expect_equal(completed.returncode, 0,
                 f"systemd-analyze verify ({completed.stderr})")
    expect(DROPIN not in completed.stderr,
           f"systemd-analyze complains of the drop-in: {completed.stderr}")


def install(run, root, *args):
    completed = systemd(run, root, "install", *args)
    expect_equal(completed.returncode, 0, f"install ({completed.stderr})")
    return completed


def wrapped(command, config="/home/pi/printer_data/config/klipper-pin.conf",
            prefix=""):
    return (f"{prefix}{LAUNCHER} --config {config} --on-error run -- "
            f"{command}")


def test_kiauh_unit_with_environment_file_and_klipper_args(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    completed = install(run, root)
    text = read(dropin_path(root))
    expect(text.startswith("# Written by klipper-pin systemd install; "
                           "`klipper-pin systemd remove` removes it.\n"),
           f"the marker first: {text}")
    expect_equal(settings(text, "ExecStart"),
                 ["", wrapped(f"{PYTHON_ENV} $KLIPPER_ARGS")],
                 "ExecStart= reset, then the command wrapped verbatim")
    # The shipped config's serial thread: fifo, priority 10.
    expect_equal(settings(text, "LimitRTPRIO"), ["10"], "LimitRTPRIO")
    expect_equal(settings(text, "LimitNICE"), [], "no negative nice")
    expect("EnvironmentFile: %h/printer_data/systemd/klipper.env (/etc"
           in completed.stdout, f"the environment file noted: "
           f"{completed.stdout}")
    expect("User:            pi" in completed.stdout, "User= noted")
    expect_verified(root)


def test_klipper_install_script_unit(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KLIPPER_SCRIPT_UNIT},
                     config_path="/home/pi/klipper-pin.conf")
    install(run, root)
    text = read(dropin_path(root))
    command = (f"{PYTHON_ENV} /home/pi/klipper/klippy/klippy.py "
               "/home/pi/printer.cfg -l /tmp/klippy.log")
    # The config beside the printer.cfg klippy is given.
    expect_equal(settings(text, "ExecStart"),
                 ["", wrapped(command, config="/home/pi/klipper-pin.conf")],
                 "ExecStart=")
    expect_verified(root)


def test_second_instance_klipper_2(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
                           f"{UNIT_DIR}/klipper-2.service":
                           SECOND_INSTANCE_UNIT},
                     config_path="/home/pi/printer_2_data/config/"
                     "klipper-pin.conf")
    before = snapshot(root)
    install(run, root, "--unit", "klipper-2")
    text = read(dropin_path(root, "klipper-2.service"))
    config = "/home/pi/printer_2_data/config/klipper-pin.conf"
    expect_equal(settings(text, "ExecStart")[1],
                 wrapped(f"{PYTHON_ENV} $KLIPPER_ARGS", config=config),
                 "the second instance's own config")
    expect(not os.path.exists(dropin_path(root)),
           "the first instance left alone")
    expect_verified(root, "klipper-2.service")
    systemd(run, root, "remove", "--unit", "klipper-2.service")
    expect_equal(snapshot(root), before, "the tree after remove")


def test_override_conf_replacing_exec_start_is_what_is_wrapped(run):
    other = "/home/pi/other-env/bin/python"
    override = ("[Service]\nExecStart=\n"
                f"ExecStart={other} /home/pi/klipper/klippy/klippy.py "
                "/home/pi/printer_data/config/printer.cfg\n")
    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/override.conf": override})
    # other's python is not in the tree: verify fails while override.conf's
    # command is the one in effect, and passes once the wrap comes after.
    expect(verify(root).returncode != 0, "verify fails before the wrap")
    before = snapshot(root)
    install(run, root)
    text = read(dropin_path(root))
    expect_equal(settings(text, "ExecStart")[1], wrapped(
        f"{other} /home/pi/klipper/klippy/klippy.py "
        "/home/pi/printer_data/config/printer.cfg",
        config="/home/pi/printer_data/config/klipper-pin.conf"),
        "override.conf's command wrapped")
    expect(f"/{UNIT_DIR}/klipper.service.d/override.conf:3\n" in text,
           f"where it came from: {text}")
    expect_verified(root)
    completed = systemd(run, root, "remove")
    expect_equal(completed.returncode, 0, f"remove ({completed.stderr})")
    expect_equal(snapshot(root), before,
                 "override.conf and its directory kept, ours gone")


def test_cpu_affinity_in_a_drop_in_is_warned(run):
    need_cpus(2)
    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/cpu.conf":
        "[Service]\nCPUAffinity=2-3\n"},
        config="[main]\ncpus: 0\n[thread all]\ncpus: 1\n")
    completed = install(run, root)
    expect(f"{root}/{UNIT_DIR}/klipper.service.d/cpu.conf:2: CPUAffinity=2-3"
           in completed.stderr, f"the warning names it: {completed.stderr}")
    expect("onto CPUs 0-1 outside it too" in completed.stderr,
           f"the plan's CPUs outside it: {completed.stderr}")
    expect_verified(root)


def test_allowed_cpus_refusing_the_plan_is_warned(run):
    need_cpus(2)
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT.replace(
        "Restart=always", "AllowedCPUs=1\nRestart=always")},
        config="[main]\ncpus: 0\n[thread all]\ncpus: 1\n")
    completed = install(run, root)
    expect("AllowedCPUs=1 confines every klippy thread to CPUs 1"
           in completed.stderr and "the plan's CPUs 0 outside it"
           in completed.stderr, f"the warning: {completed.stderr}")


def test_install_twice_writes_nothing_new(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    install(run, root)
    first = os.stat(dropin_path(root))
    tree = snapshot(root)
    completed = install(run, root)
    expect("is up to date: nothing written" in completed.stdout,
           f"says so: {completed.stdout}")
    again = os.stat(dropin_path(root))
    expect_equal((again.st_ino, again.st_mtime_ns),
                 (first.st_ino, first.st_mtime_ns), "the same file, untouched")
    expect_equal(snapshot(root), tree, "the tree")


def test_an_exec_start_already_running_klipper_pin_is_not_wrapped_again(run):
    by_hand = ("[Service]\nExecStart=\nExecStart=/usr/local/bin/klipper-pin "
               "--config /home/pi/printer_data/config/klipper-pin.conf -- "
               f"{PYTHON_ENV} $KLIPPER_ARGS\n")
    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/override.conf": by_hand})
    before = snapshot(root)
    completed = install(run, root)
    expect("override.conf:3: ExecStart= runs klipper-pin already: nothing "
           "to do" in completed.stdout, f"says so: {completed.stdout}")
    expect_equal(snapshot(root), before, "nothing written")


def test_install_then_remove_leaves_the_tree_as_before(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    before = snapshot(root)
    install(run, root)
    expect(os.path.isdir(os.path.join(root, UNIT_DIR, "klipper.service.d")),
           "the directory made")
    completed = systemd(run, root, "remove")
    expect_equal(completed.returncode, 0, f"remove ({completed.stderr})")
    expect_equal(snapshot(root), before, "the tree after remove")
    completed = systemd(run, root, "remove")
    expect_equal(completed.returncode, 0, "a second remove")
    expect("nothing to remove" in completed.stdout, completed.stdout)


def test_remove_keeps_a_directory_someone_else_filled_meanwhile(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    install(run, root)
    other = put(root, f"{UNIT_DIR}/klipper.service.d/override.conf",
                "[Service]\nRestartSec=5\n")
    expect_equal(systemd(run, root, "remove").returncode, 0, "remove")
    expect(os.path.exists(other) and not os.path.exists(dropin_path(root)),
           "ours removed, theirs kept")


def test_remove_and_install_refuse_a_file_not_written_by_install(run):
    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/{DROPIN}": "[Service]\nNice=1\n"})
    before = snapshot(root)
    for action in ("remove", "install"):
        completed = systemd(run, root, action)
        expect_equal(completed.returncode, 1, f"{action} ({completed.stderr})")
        expect(f"klipper-pin: systemd: {dropin_path(root)}: not written by "
               "klipper-pin" in completed.stderr, completed.stderr)
    expect_equal(snapshot(root), before, "nothing changed")


def test_show_prints_what_install_writes_and_writes_nothing(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    before = snapshot(root)
    shown = systemd(run, root, "show")
    expect_equal(shown.returncode, 0, f"show ({shown.stderr})")
    expect_equal(snapshot(root), before, "the tree after show")
    expect("installed:       no" in shown.stdout, shown.stdout)
    install(run, root)
    header = f"# {dropin_path(root)}\n"
    expect(header in shown.stdout, f"the path shown: {shown.stdout}")
    expect_equal(shown.stdout.split(header, 1)[1], read(dropin_path(root)),
                 "what show printed against what install wrote")
    again = systemd(run, root, "show")
    expect("installed:       yes, up to date" in again.stdout, again.stdout)


def test_fifo_priority_and_negative_nice_get_their_limits(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT},
                     config=FIFO_AND_NICE)
    install(run, root)
    text = read(dropin_path(root))
    expect_equal(settings(text, "LimitRTPRIO"), ["10"], "LimitRTPRIO")
    # systemd.exec(5): a "-N" value is a nice level (raw limit 20 + N).
    expect_equal(settings(text, "LimitNICE"), ["-5"], "LimitNICE")
    expect_verified(root)


def test_a_prefix_is_kept_in_front(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT.replace(
        f"ExecStart={PYTHON_ENV}", f"ExecStart=-{PYTHON_ENV}")})
    install(run, root)
    expect_equal(settings(read(dropin_path(root)), "ExecStart")[1],
                 wrapped(f"{PYTHON_ENV} $KLIPPER_ARGS", prefix="-"),
                 "'-' before the launcher")
    expect_verified(root)


def test_quotes_and_braced_variables_are_kept_verbatim(run):
    command = f"{PYTHON_ENV} \"/home/pi/my klipper/klippy.py\" ${{ARGS}} 'a b'"
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT.replace(
        f"ExecStart={PYTHON_ENV} $KLIPPER_ARGS", f"ExecStart={command}")})
    install(run, root)
    expect_equal(settings(read(dropin_path(root)), "ExecStart")[1],
                 wrapped(command), "verbatim")
    expect_verified(root)


def test_source_adds_the_rebuild_before_klippy(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    put(root, "/home/pi/klipper-pin/scripts/klipper-pin-rebuild",
        "#!/bin/sh\n", 0o755)
    install(run, root, "--source", "/home/pi/klipper-pin")
    expect_equal(settings(read(dropin_path(root)), "ExecStartPre"),
                 ["-/home/pi/klipper-pin/scripts/klipper-pin-rebuild"],
                 "ExecStartPre=")
    expect_verified(root)


def test_the_launcher_written_is_this_program_by_default(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    own = os.path.realpath(run.build.launcher)
    completed = systemd(run, root, "install", launcher=False)
    expect_equal(completed.returncode, 1,
                 "refused: this program is not in the tree")
    expect(f"the launcher {root}{own} cannot be run" in completed.stderr,
           completed.stderr)
    inside = os.path.join(root, own.lstrip("/"))
    os.makedirs(os.path.dirname(inside), exist_ok=True)
    shutil.copy(own, inside)
    completed = systemd(run, root, "install", launcher=False)
    expect_equal(completed.returncode, 0, f"install ({completed.stderr})")
    expect(settings(read(dropin_path(root)), "ExecStart")[1].startswith(
        own + " --config "), "its own absolute path")


def test_a_drop_in_after_ours_setting_exec_start_is_refused(run):
    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/zzz-late.conf":
        f"[Service]\nExecStart=\nExecStart={PYTHON_ENV} $KLIPPER_ARGS\n"})
    before = snapshot(root)
    completed = systemd(run, root, "install")
    expect_equal(completed.returncode, 1, completed.stderr)
    expect("zzz-late.conf:3: sets ExecStart= in a drop-in that comes after"
           in completed.stderr, completed.stderr)
    expect_equal(snapshot(root), before, "nothing written")


def expect_refused(run, root, message, *args):
    before = snapshot(root)
    completed = systemd(run, root, "install", *args)
    expect_equal(completed.returncode, 1, f"refused ({completed.stderr})")
    expect(f"klipper-pin: systemd: {message}" in completed.stderr,
           f"the message: {completed.stderr!r}, wanted {message!r}")
    expect_equal(snapshot(root), before, "nothing written")
    return completed


def test_bad_input_is_refused_and_nothing_written(run):
    root = make_tree(run, {})
    expect_refused(run, root, "no unit klipper.service: looked in "
                   f"{root}/etc/systemd/system.control")

    root = make_tree(run, {
        f"{UNIT_DIR}/klipper.service": KIAUH_UNIT,
        f"{UNIT_DIR}/klipper.service.d/more.conf":
        f"[Service]\nExecStart={PYTHON_ENV} /home/pi/other.py\n"})
    expect_refused(run, root, f"{root}/{UNIT_DIR}/klipper.service.d/"
                   "more.conf:2: a second ExecStart= (the first: "
                   f"{root}/{UNIT_DIR}/klipper.service:16)")

    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT.replace(
        "$KLIPPER_ARGS", "\"$KLIPPER_ARGS")})
    expect_refused(run, root, f"{root}/{UNIT_DIR}/klipper.service:16: "
                   f"ExecStart={PYTHON_ENV} \"$KLIPPER_ARGS: unbalanced "
                   "quotes")

    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT},
                     config="[main]\ncpus: 0\n[thread serial]\ncpu: 1\n")
    expect_refused(run, root, f"{root}/home/pi/printer_data/config/"
                   "klipper-pin.conf:4: ")

    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT},
                     config_path=None)
    expect_refused(run, root, f"{root}/home/pi/printer_data/config/"
                   "klipper-pin.conf: cannot read the config")

    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT.replace(
        f"ExecStart={PYTHON_ENV} $KLIPPER_ARGS", "ExecStart=")})
    expect_refused(run, root, f"{root}/{UNIT_DIR}/klipper.service: no "
                   "ExecStart= in effect")


def test_now_under_root_is_refused_before_anything_changes(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    before = snapshot(root)
    for action in ("install", "remove"):
        completed = systemd(run, root, action, "--now")
        expect_equal(completed.returncode, 2, f"{action} --now --root")
        expect("--now with --root: systemctl cannot reload or restart"
               in completed.stderr, completed.stderr)
    expect_equal(snapshot(root), before, "nothing written")


def test_usage_errors(run):
    root = make_tree(run, {f"{UNIT_DIR}/klipper.service": KIAUH_UNIT})
    for args in (["frobnicate"], [], ["install", "--unit", "a/b.service"],
                 ["install", "--config", "relative.conf"],
                 ["install", "extra"]):
        completed = systemd(run, root, *args)
        expect_equal(completed.returncode, 2 if "--config" not in args else 1,
                     f"{args}: {completed.stderr}")
        expect(completed.stderr.startswith("klipper-pin: systemd: "),
               completed.stderr)
    help_text = run.run([run.build.launcher, "systemd", "--help"])
    expect_equal(help_text.returncode, 0, "--help")
    expect("install|remove|show" in help_text.stdout, help_text.stdout)
