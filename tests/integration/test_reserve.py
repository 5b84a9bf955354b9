"""`klipper-pin reserve` under --root: --apply then --undo leaves a tree
byte for byte as it was, an apply again writes nothing, every unit it
writes passes `systemd-analyze verify`, and bad input, a file in the way or
a root it cannot write is refused with nothing written."""
import os
import shutil
import stat

from harness import Skip, expect, expect_equal

KLIPPER_UNIT = """[Unit]
Description=Klipper 3D Printer Firmware SV1
After=network-online.target

[Service]
Type=simple
User=pi
ExecStart=/bin/true
Restart=always

[Install]
WantedBy=multi-user.target
"""

# Debian 12's irqbalance.service, but ExecStart= (/usr/sbin/irqbalance is
# not on the test machine, and verify checks it is executable).
IRQBALANCE_UNIT = """[Unit]
Description=irqbalance daemon
Documentation=man:irqbalance(1)
ConditionVirtualization=!container
ConditionCPUs=>1

[Service]
EnvironmentFile=-/etc/default/irqbalance
ExecStart=/bin/true --foreground $IRQBALANCE_ARGS

[Install]
WantedBy=multi-user.target
"""

DROPIN = "klipper-pin-reserve.conf"
MARKER = ("# Written by klipper-pin reserve; `klipper-pin reserve --undo` "
          "removes it.\n")


def tree(run, name, cpus="0-3", files=None):
    """A root with cpus online, klipper.service and files ({path: text})."""
    root = run.path(name)
    shutil.rmtree(root, ignore_errors=True)
    base = {"/sys/devices/system/cpu/online": cpus + "\n",
            "/etc/systemd/system/klipper.service": KLIPPER_UNIT,
            "/boot/firmware/cmdline.txt": "console=tty1 root=/dev/mmcblk0p2\n"}
    base.update(files or {})
    for path, text in base.items():
        full = root + path
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as out:
            out.write(text)
    return root


def with_irqbalance(run, name, binary_text, env_file=None):
    files = {"/lib/systemd/system/irqbalance.service": IRQBALANCE_UNIT,
             "/usr/sbin/irqbalance": binary_text}
    if env_file is not None:
        files["/etc/default/irqbalance"] = env_file
    root = tree(run, name, files=files)
    wants = root + "/etc/systemd/system/multi-user.target.wants"
    os.makedirs(wants)
    os.symlink("/lib/systemd/system/irqbalance.service",
               wants + "/irqbalance.service")
    return root


def listing(root):
    """Every path under root with its mode and content (or link target)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                what = "-> " + os.readlink(full)
            elif stat.S_ISDIR(info.st_mode):
                what = "dir"
            else:
                with open(full, "rb") as data:
                    what = data.read()
            found[os.path.relpath(full, root)] = (oct(info.st_mode), what)
    return found


def reserve(run, root, *args):
    return run.run([run.build.launcher, "reserve", "--root", root] +
                   list(args))


def read(root, path):
    with open(root + path) as data:
        return data.read()


def expect_refused(run, result, root, before, words):
    expect_equal(result.returncode, 1, f"exit ({result.stderr})")
    expect(result.stderr.startswith("klipper-pin: reserve: "), result.stderr)
    for word in words:
        expect(word in result.stderr, f"'{word}' in {result.stderr!r}")
    expect_equal(listing(root), before, "nothing written")


def apply_then_undo(run, root):
    before = listing(root)
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    expect("daemon-reload" in applied.stdout, applied.stdout)
    expect(listing(root) != before, "apply wrote something")
    undone = reserve(run, root, "--undo")
    expect_equal(undone.returncode, 0, f"undo ({undone.stderr})")
    expect_equal(listing(root), before, "the tree after --undo")


def test_apply_then_undo_restores_a_tree_without_the_directories(run):
    root = tree(run, "bare")
    apply_then_undo(run, root)
    expect(not os.path.exists(root + "/etc/systemd/system.conf.d"),
           "the directories made are gone")


def test_apply_then_undo_keeps_the_users_own_files(run):
    users = {
        "/etc/systemd/system.conf.d/10-mine.conf": "[Manager]\nLogLevel=info\n",
        "/etc/systemd/user.conf.d/10-mine.conf": "[Manager]\n",
        "/etc/systemd/system/klipper.service.d/override.conf":
            "[Service]\nCPUAffinity=2-3\n",
        "/etc/klipper-pin/other": "someone else's\n",
    }
    root = tree(run, "users", files=users)
    os.chmod(root + "/etc/systemd/system.conf.d/10-mine.conf", 0o600)
    before = listing(root)
    apply_then_undo(run, root)
    for path, text in users.items():
        expect_equal(read(root, path), text, path)
    expect_equal(listing(root), before, "modes too")


def test_the_files_for_cpus_2_3_on_4_cpus(run):
    root = tree(run, "four")
    shown = reserve(run, root, "--cpus", "last-1-last")
    expect_equal(shown.returncode, 0, f"show ({shown.stderr})")
    for path, line in (
            ("/etc/systemd/system.conf.d/" + DROPIN, "CPUAffinity=0-1"),
            ("/etc/systemd/user.conf.d/" + DROPIN, "CPUAffinity=0-1"),
            ("/etc/systemd/system/klipper.service.d/" + DROPIN,
             "CPUAffinity=0-3"),
            ("/etc/systemd/system/klipper-pin-irq.service",
             run.build.launcher + " reserve --set-irqs --cpus 2-3")):
        expect(f"==> {root}{path} <==\n{MARKER}" in shown.stdout,
               f"{path} shown with its marker")
        expect(line in shown.stdout, f"{line} in {shown.stdout}")
    # the same line audit advises
    expect("isolcpus=domain,managed_irq,2-3 nohz_full=2-3 rcu_nocbs=2-3"
           in shown.stdout, shown.stdout)
    expect("/boot/firmware/cmdline.txt" in shown.stdout, shown.stdout)
    expect(not os.path.exists(root + "/etc/systemd/system.conf.d"),
           "--show writes nothing")
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    unit = read(root, "/etc/systemd/system/klipper.service.d/" + DROPIN)
    expect(unit.startswith(MARKER), unit)
    expect("Wants=klipper-pin-irq.service" in unit, unit)


def test_applying_twice_writes_nothing_new(run):
    root = tree(run, "twice")
    first = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(first.returncode, 0, f"first ({first.stderr})")
    inodes = {path: os.lstat(os.path.join(root, path)).st_ino
              for path in listing(root)}
    again = reserve(run, root, "--cpus", "last-1-last", "--apply")
    expect_equal(again.returncode, 0, f"again ({again.stderr})")
    expect("nothing new to write" in again.stdout, again.stdout)
    expect("wrote" not in again.stdout, again.stdout)
    expect_equal({path: os.lstat(os.path.join(root, path)).st_ino
                  for path in listing(root)}, inodes, "no file replaced")


def verify(run, root, units):
    """systemd-analyze verify on units by path, with the drop-ins of the
    tree: its unit directory first in the search path, then the
    machine's (for sysinit.target and the like)."""
    if not shutil.which("systemd-analyze"):
        raise AssertionError("systemd-analyze is missing: apt-get install "
                             "systemd (debian-packages has it)")
    paths = [root + "/etc/systemd/system/" + unit for unit in units]
    env = {"SYSTEMD_UNIT_PATH": root + "/etc/systemd/system:",
           "SYSTEMD_LOG_LEVEL": "notice"}
    result = run.run(["systemd-analyze", "verify", "--man=no"] + paths, env=env)
    expect_equal(result.returncode, 0, f"verify ({result.stderr})")
    said = [line for line in result.stderr.splitlines()
            if root in line or "klipper" in line or "irqbalance" in line]
    expect_equal(said, [], "what verify says of the tree's units")


def test_every_unit_written_passes_systemd_analyze_verify(run):
    root = tree(run, "verify")
    applied = reserve(run, root, "--cpus", "2-3", "--keep-irq", "45",
                      "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    verify(run, root, ["klipper.service", "klipper-pin-irq.service"])
    root = tree(run, "verify-slice", files={
        "/etc/systemd/system/system.slice.d/50-cpus.conf":
            "[Slice]\nAllowedCPUs=0-1\n"})
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    verify(run, root, ["klipper.service", "klipper.slice",
                       "klipper-pin-irq.service"])
    root = with_irqbalance(run, "verify-irqbalance",
                           "IRQBALANCE_BANNED_CPULIST")
    os.makedirs(root + "/etc/systemd/system/irqbalance.service.d")
    shutil.copy(root + "/lib/systemd/system/irqbalance.service",
                root + "/etc/systemd/system/irqbalance.service")
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    verify(run, root, ["klipper.service", "irqbalance.service"])


def test_a_slice_that_forbids_the_cpus_gets_the_unit_a_slice_of_its_own(run):
    root = tree(run, "slice", files={
        "/etc/systemd/system/system.slice.d/50-cpus.conf":
            "[Slice]\nAllowedCPUs=0 1\n"})
    shown = reserve(run, root, "--cpus", "2-3")
    expect_equal(shown.returncode, 0, f"show ({shown.stderr})")
    expect(f"==> {root}/etc/systemd/system/klipper.slice <==" in shown.stdout,
           shown.stdout)
    expect("AllowedCPUs=0-3" in shown.stdout, shown.stdout)
    expect("Slice=klipper.slice" in shown.stdout, shown.stdout)
    expect("system.slice.d/50-cpus.conf:2" in shown.stdout, shown.stdout)
    apply_then_undo(run, root)
    # a slice that allows them needs nothing
    root = tree(run, "slice-ok", files={
        "/etc/systemd/system/system.slice.d/50-cpus.conf":
            "[Slice]\nAllowedCPUs=0-3\n"})
    shown = reserve(run, root, "--cpus", "2-3")
    expect("klipper.slice" not in shown.stdout, shown.stdout)
    # the root slice forbids them to every unit: no slice can help
    root = tree(run, "slice-root", files={
        "/etc/systemd/system/-.slice.d/50-cpus.conf":
            "[Slice]\nAllowedCPUs=0-1\n"})
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before, ["-.slice", "hierarchical"])


def test_a_slice_no_longer_needed_is_removed_by_the_next_apply(run):
    cpuset = "/etc/systemd/system/system.slice.d/50-cpus.conf"
    root = tree(run, "slice-gone", files={cpuset: "[Slice]\nAllowedCPUs=0-1\n"})
    first = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(first.returncode, 0, f"first ({first.stderr})")
    os.unlink(root + cpuset)
    os.rmdir(os.path.dirname(root + cpuset))
    before = listing(root)
    again = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(again.returncode, 0, f"again ({again.stderr})")
    expect("removed " + root + "/etc/systemd/system/klipper.slice" in
           again.stdout, again.stdout)
    expect("Slice=" not in read(root, "/etc/systemd/system/klipper.service.d/"
                                + DROPIN), "no Slice= left")
    undone = reserve(run, root, "--undo")
    expect_equal(undone.returncode, 0, f"undo ({undone.stderr})")
    expect_equal(set(listing(root)),
                 {p for p in before if "klipper-pin" not in p and
                  not p.endswith(".conf.d") and "klipper.s" not in p} |
                 {"etc/systemd/system/klipper.service"}, "what is left")


def test_irqbalance_gets_a_drop_in_in_the_list_its_version_reads(run):
    root = with_irqbalance(run, "irqbalance-1.9",
                           "\x7fELF...IRQBALANCE_BANNED_CPULIST...")
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    dropin = read(root, "/etc/systemd/system/irqbalance.service.d/" + DROPIN)
    expect("Environment=IRQBALANCE_BANNED_CPULIST=2-3\n" in dropin, dropin)
    expect(not os.path.exists(root + "/etc/systemd/system/"
                              "klipper-pin-irq.service"), "no unit of ours")
    # the word across two reads of the binary
    root = with_irqbalance(run, "irqbalance-long",
                           "x" * 65530 + "IRQBALANCE_BANNED_CPULIST")
    shown = reserve(run, root, "--cpus", "2-3")
    expect("IRQBALANCE_BANNED_CPULIST=2-3" in shown.stdout, shown.stdout)
    # Debian 11's 1.7 knows only the hex mask (and ignores a list)
    root = with_irqbalance(run, "irqbalance-1.7",
                           "\x7fELF...IRQBALANCE_BANNED_CPUS...",
                           "IRQBALANCE_BANNED_CPULIST=1\n")
    shown = reserve(run, root, "--cpus", "2-3")
    expect("Environment=IRQBALANCE_BANNED_CPUS=c\n" in shown.stdout,
           shown.stdout)
    apply_then_undo(run, root)


def test_a_conflicting_setting_in_etc_default_irqbalance_is_refused(run):
    root = with_irqbalance(run, "irqbalance-conflict",
                           "IRQBALANCE_BANNED_CPULIST",
                           "# comment\n#IRQBALANCE_BANNED_CPULIST=9\n"
                           "IRQBALANCE_BANNED_CPULIST=\"1\"\n")
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before,
                   [root + "/etc/default/irqbalance:3",
                    "IRQBALANCE_BANNED_CPULIST=1", "EnvironmentFile="])
    # since 1.8 a mask there wins over the drop-in's list
    root = with_irqbalance(run, "irqbalance-mask", "IRQBALANCE_BANNED_CPULIST",
                           "export IRQBALANCE_BANNED_CPUS=1\n")
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before,
                   ["irqbalance:1 sets IRQBALANCE_BANNED_CPUS=1"])
    # the same CPUs there are no conflict
    root = with_irqbalance(run, "irqbalance-same", "IRQBALANCE_BANNED_CPULIST",
                           "IRQBALANCE_BANNED_CPULIST=2-3\n")
    apply_then_undo(run, root)


def test_keep_irq_leaves_the_serial_irq_beside_klippy(run):
    root = with_irqbalance(run, "keep", "IRQBALANCE_BANNED_CPULIST")
    applied = reserve(run, root, "--cpus", "2-3", "--keep-irq", "45",
                      "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    dropin = read(root, "/etc/systemd/system/irqbalance.service.d/" + DROPIN)
    expect('Environment="IRQBALANCE_ARGS=--banirq=45"' in dropin, dropin)
    unit = read(root, "/etc/systemd/system/klipper-pin-irq.service")
    expect("--set-irqs --cpus 2-3 --keep-irq 45\n" in unit, unit)
    bad = reserve(run, root, "--cpus", "2-3", "--keep-irq", "x")
    expect_equal(bad.returncode, 1, "a bad IRQ list")
    expect("bad --keep-irq 'x'" in bad.stderr, bad.stderr)


def test_set_irqs_moves_every_irq_the_kernel_lets_it(run):
    root = tree(run, "irqs")
    for irq in ("0", "1", "45", "57"):
        os.makedirs(f"{root}/proc/irq/{irq}")
        if irq != "0":
            with open(f"{root}/proc/irq/{irq}/smp_affinity_list", "w") as f:
                f.write("0-3\n")
    # the kernel refuses some: here one that cannot be written at all
    os.makedirs(f"{root}/proc/irq/0/smp_affinity_list")
    moved = reserve(run, root, "--set-irqs", "--cpus", "2-3",
                    "--keep-irq", "45")
    expect_equal(moved.returncode, 0, f"set-irqs ({moved.stderr})")
    expect("moved 2 IRQs to CPUs 0-1, kept 1 on 2-3" in moved.stdout,
           moved.stdout)
    expect("skipped 1 the kernel refuses to move: 0 (" in moved.stdout,
           moved.stdout)
    for irq, cpus in (("1", "0-1\n"), ("45", "2-3\n"), ("57", "0-1\n")):
        expect_equal(read(root, f"/proc/irq/{irq}/smp_affinity_list"), cpus,
                     f"IRQ {irq}")


def test_bad_cpu_lists_are_refused_with_nothing_written(run):
    root = tree(run, "bad-cpus")
    before = listing(root)
    for cpus, words in (("2-x", ["bad --cpus '2-x'", "expected"]),
                        ("0-3", ["every online CPU", "none would be left"]),
                        ("last-1-last,0,1", ["every online CPU"]),
                        ("5", ["CPU 5 not online", "online: 0-3"]),
                        ("3-5", ["CPU 4-5 not online"]),
                        ("last-7", ["names no CPU here"])):
        refused = reserve(run, root, "--cpus", cpus, "--apply")
        expect_refused(run, refused, root, before, words)
    root = tree(run, "no-online")
    os.unlink(root + "/sys/devices/system/cpu/online")
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before,
                   [root + "/sys/devices/system/cpu/online"])


def test_a_file_in_the_way_is_refused_with_nothing_written(run):
    theirs = "/etc/systemd/system/klipper.service.d/" + DROPIN
    root = tree(run, "in-the-way", files={theirs: "[Service]\nNice=-5\n"})
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before,
                   [root + theirs, "klipper-pin did not write it"])
    # nor does --undo remove a file without the marker
    applied_root = tree(run, "undo-theirs")
    applied = reserve(run, applied_root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    path = applied_root + "/etc/systemd/system.conf.d/" + DROPIN
    with open(path, "w") as out:
        out.write("[Manager]\nCPUAffinity=0\n")
    before = listing(applied_root)
    refused = reserve(run, applied_root, "--undo")
    expect_refused(run, refused, applied_root, before, [path])


def test_an_unwritable_root_is_refused_with_nothing_written(run):
    missing = run.path("no-such-root")
    refused = reserve(run, missing, "--cpus", "2-3", "--apply")
    expect_equal(refused.returncode, 1, "a missing root")
    expect(missing in refused.stderr and "No such file" in refused.stderr,
           refused.stderr)
    expect(not os.path.exists(missing), "not made")
    root = tree(run, "systemd-file")
    shutil.rmtree(root + "/etc/systemd")
    with open(root + "/etc/systemd", "w") as out:
        out.write("not a directory\n")
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_refused(run, refused, root, before,
                   [root + "/etc/systemd is in the way"])
    if os.geteuid() != 0:
        raise Skip("the read-only tree needs root to run as another user")
    root = tree(run, "read-only")
    os.chmod(run.tmp, 0o755)
    before = listing(root)
    refused = run.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                       "--clear-groups", run.build.launcher, "reserve",
                       "--root", root, "--cpus", "2-3", "--apply"])
    expect_refused(run, refused, root, before,
                   ["cannot write in " + root + "/etc", "Permission denied"])


def test_now_under_root_is_refused(run):
    root = tree(run, "now")
    before = listing(root)
    refused = reserve(run, root, "--cpus", "2-3", "--apply", "--now")
    expect_equal(refused.returncode, 2, f"exit ({refused.stderr})")
    expect("--now" in refused.stderr and "--root" in refused.stderr,
           refused.stderr)
    expect_equal(listing(root), before, "nothing written")


def test_usage_errors_exit_2(run):
    root = tree(run, "usage")
    for args, words in ((["--apply"], "--cpus LIST is needed"),
                        (["--cpus", "2", "--apply", "--undo"], "give one of"),
                        (["--cpus", "2", "--unit", "../x.service"],
                         "--unit needs a service"),
                        (["--cpus", "2", "extra"], "unexpected 'extra'")):
        result = reserve(run, root, *args)
        expect_equal(result.returncode, 2, f"{args} ({result.stderr})")
        expect(words in result.stderr, f"{words} in {result.stderr}")
    nothing = reserve(run, root, "--undo")
    expect_equal(nothing.returncode, 0, "undo with nothing reserved")
    expect("nothing to undo" in nothing.stdout, nothing.stdout)


def test_undo_after_the_manifest_is_tampered_with_refuses(run):
    root = tree(run, "tampered")
    applied = reserve(run, root, "--cpus", "2-3", "--apply")
    expect_equal(applied.returncode, 0, f"apply ({applied.stderr})")
    manifest = root + "/etc/klipper-pin/reserve.manifest"
    with open(manifest, "a") as out:
        out.write("rm -rf /\n")
    before = listing(root)
    refused = reserve(run, root, "--undo")
    expect_refused(run, refused, root, before, [manifest, "not a record"])
