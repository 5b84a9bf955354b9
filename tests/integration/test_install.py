"""install.sh and the update cycle, as a printer's user meets them: a
bare repository made from this repository's HEAD stands for upstream, a
clone of it under a temporary HOME is the user's checkout, and a --root
tree holds klipper.service. The build is the real one; only sudo,
apt-get, dpkg-query and systemctl are stand-ins first on PATH (each logs
its arguments; sudo runs its command as the user). Run as root, as CI
does, every step runs as `nobody` (setpriv), as install.sh must not run
as root. Restarting klipper is done by hand: the drop-in's ExecStartPre,
then its ExecStart, as systemd would run them.

Test-only: KLIPPER_PIN_TEST_INSTALL_SOURCE names another repository to
take HEAD from (default: this one)."""
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from harness import ROOT, Skip, expect, expect_equal

SOURCE = os.environ.get("KLIPPER_PIN_TEST_INSTALL_SOURCE", ROOT)
AS_ROOT = os.geteuid() == 0
NOBODY = 65534
DEPS_MISSING = "libinih-dev"  # what the dpkg-query stand-in calls missing

FAKES = {
    "sudo": """#!/bin/sh
echo "sudo $*" >>"$CALLS"
while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done
exec "$@"
""",
    "apt-get": '#!/bin/sh\necho "apt-get $*" >>"$CALLS"\n',
    "systemctl": '#!/bin/sh\necho "systemctl $*" >>"$CALLS"\n',
    "dpkg-query": """#!/bin/sh
for pkg; do :; done
echo "dpkg-query $pkg" >>"$CALLS"
case " $DEPS_MISSING " in *" $pkg "*)
    echo "dpkg-query: no packages found matching $pkg" >&2; exit 1 ;; esac
echo "install ok installed"
""",
}

UNIT = """[Unit]
Description=Klipper 3D Printer Firmware SV1

[Service]
Type=simple
User=nobody
ExecStart=/bin/echo klippy-started
"""

MOONRAKER = """[server]
host: 0.0.0.0
port: 7125
"""


class Printer:
    """A user's home (klipper, printer_data, the klipper-pin checkout), a
    system tree with klipper.service, and upstream."""

    def __init__(self, plugins=False):
        if not shutil.which("git") or subprocess.run(
                ["git", "-C", SOURCE, "rev-parse", "HEAD"],
                capture_output=True).returncode != 0:
            raise Skip(f"{SOURCE} is not a git checkout (the distro chroots "
                       "copy the files alone): install.sh is tested from "
                       "a clone of it by the host's make check")
        self.base = tempfile.mkdtemp(prefix="klipper-pin-install-")
        os.chmod(self.base, 0o755)
        self.home = self.path("home")
        self.root = self.path("root")
        self.bin = self.path("bin")
        self.calls = self.path("calls")
        self.upstream = self.path("upstream.git")
        self.clone = os.path.join(self.home, "klipper-pin")
        self.data = os.path.join(self.home, "printer_data")
        self.config = os.path.join(self.data, "config", "klipper-pin.conf")
        self.moonraker = os.path.join(self.data, "config", "moonraker.conf")
        self.log = os.path.join(self.data, "logs", "klipper-pin.log")
        self.dropin = os.path.join(self.root, "etc/systemd/system/klipper.service.d/zz-klipper-pin.conf")
        for folder in ("klipper/klippy/extras", "printer_data/config", "printer_data/logs"):
            os.makedirs(os.path.join(self.home, folder))
        if plugins:
            os.makedirs(os.path.join(self.home, "klipper/klippy/plugins"))
        self.write(self.moonraker, MOONRAKER)
        self.write(os.path.join(self.root, "etc/systemd/system/klipper.service"), UNIT)
        # The home seen from inside the system tree, as on a real machine:
        # `systemd --root` reads every path of the unit under the root.
        inside = self.root + self.home
        os.makedirs(os.path.dirname(inside))
        os.symlink(self.home, inside)
        self.command = os.path.join(self.root, "usr/local/bin/klipper-pin")
        os.makedirs(os.path.dirname(self.command))
        os.makedirs(self.bin)
        for name, text in FAKES.items():
            self.write(os.path.join(self.bin, name), text)
            os.chmod(os.path.join(self.bin, name), 0o755)
        # Upstream: a bare repository of HEAD (made as the one running
        # the test, who can read this repository), then handed to the user.
        subprocess.run(["git", "clone", "-q", "--bare", "--no-local", SOURCE, self.upstream],
                       check=True, capture_output=True)
        if AS_ROOT:
            for top, dirs, files in os.walk(self.base):
                for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                    os.lchown(name, NOBODY, NOBODY)
        self.git(["clone", "-q", self.upstream, self.clone])
        self.git(["clone", "-q", self.upstream, self.path("dev")])

    def path(self, name):
        return os.path.join(self.base, name)

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(text)

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def env(self):
        return {
            # systemd's own PATH, the stand-ins first.
            "PATH": self.bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home, "USER": "nobody", "LOGNAME": "nobody",
            "LC_ALL": "C", "CALLS": self.calls, "DEPS_MISSING": DEPS_MISSING,
            "GIT_AUTHOR_NAME": "upstream", "GIT_AUTHOR_EMAIL": "upstream@example.invalid",
            "GIT_COMMITTER_NAME": "upstream", "GIT_COMMITTER_EMAIL": "upstream@example.invalid",
        }

    def run(self, args, cwd=None, as_root=False, timeout=600):
        """args as the user (nobody, when the test runs as root)."""
        prefix = []
        if AS_ROOT and not as_root:
            prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        return subprocess.run(prefix + list(args), cwd=cwd or self.home, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def git(self, args, cwd=None):
        done = self.run(["git"] + list(args), cwd=cwd)
        expect(done.returncode == 0, f"git {' '.join(args)}: {done.stderr}")
        return done.stdout

    def install(self, *options, wanted=0):
        done = self.run([os.path.join(self.clone, "install.sh"), "--root", self.root] + list(options))
        expect_equal(done.returncode, wanted,
                     f"install.sh {' '.join(options)} exit status\n{done.stdout}{done.stderr}")
        return done

    def commit_upstream(self, edit, message):
        """edit(dev) changes the upstream working copy; committed, pushed."""
        dev = self.path("dev")
        edit(dev)
        self.git(["commit", "-q", "-a", "-m", message], cwd=dev)
        self.git(["push", "-q", "origin", "HEAD"], cwd=dev)

    def pull(self):
        """What Moonraker does to the checkout: fetch, then pull."""
        self.git(["fetch", "origin", "--prune"], cwd=self.clone)
        self.git(["pull", "-q"], cwd=self.clone)

    def expect_clean(self, when):
        status = self.git(["status", "--porcelain"], cwd=self.clone)
        expect_equal(status, "", f"git status --porcelain {when}")
        described = self.git(["describe", "--always", "--tags", "--long", "--dirty"], cwd=self.clone)
        expect(not described.strip().endswith("-dirty"), f"Moonraker sees a dirty repo {when}: {described}")

    def exec_lines(self):
        """The drop-in's ExecStartPre commands and its last ExecStart, as
        argv lists (systemd's prefixes -, @, :, +, ! dropped)."""
        expect(os.path.exists(self.dropin), f"no drop-in at {self.dropin}")
        pre, start = [], None
        with open(self.dropin) as dropin:
            for line in dropin:
                key, _, value = line.strip().partition("=")
                value = value.lstrip("-@:+!")
                if key == "ExecStartPre" and value:
                    pre.append(shlex.split(value))
                elif key == "ExecStart" and value:
                    start = shlex.split(value)
        expect(start is not None, "the drop-in has no ExecStart")
        return pre, start

    def restart(self):
        """systemctl restart klipper, by hand: each ExecStartPre (its
        failure ignored, as "-" says), then ExecStart. Returns the
        ExecStartPre runs and the ExecStart run."""
        pre, start = self.exec_lines()
        pres = [self.run(argv) for argv in pre]
        started = self.run(start, timeout=60)
        return pres, started, start

    def running_version(self):
        _, start = self.exec_lines()
        done = self.run([start[0], "--version"])
        expect_equal(done.returncode, 0, f"{start[0]} --version: {done.stderr}")
        return done.stdout.strip()

    def calls_made(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as calls:
            return calls.read().splitlines()

    def read(self, path):
        with open(path) as text:
            return text.read()


def snapshot(top, leave_out=()):
    """Every entry under top: its type, mode and content (or target)."""
    found = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in leave_out:
                continue
            rel = os.path.relpath(path, top)
            info = os.lstat(path)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir", info.st_mode)
            else:
                with open(path, "rb") as data:
                    found[rel] = ("file", info.st_mode, hashlib.sha256(data.read()).hexdigest())
    return found


def expect_same_tree(before, after, what):
    if before == after:
        return
    changed = sorted(set(before) ^ set(after)) + sorted(
        k for k in set(before) & set(after) if before[k] != after[k])
    raise AssertionError(f"{what} differs: {changed[:20]}")


def bump_version(dev):
    path = os.path.join(dev, "Makefile")
    with open(path) as makefile:
        text = makefile.read()
    text, count = re.subn(r"^VERSION = (\S+)$", r"VERSION = \1.1", text, flags=re.M)
    expect_equal(count, 1, "VERSION lines in the Makefile")
    with open(path, "w") as makefile:
        makefile.write(text)


def break_build(dev):
    with open(os.path.join(dev, "launcher", "main.c"), "a") as source:
        source.write("\nint klipper_pin_broken(void) { return }\n")


def test_install_update_cycle(runner):
    """Install, an update upstream pulled as Moonraker does, a restart that
    runs the new version, then an update that does not build: the old
    version runs and the log says why."""
    printer = Printer()
    try:
        done = printer.install()
        expect("installed" in done.stdout, f"install.sh output:\n{done.stdout}")
        clone = printer.clone
        pre, start = printer.exec_lines()
        expect_equal(pre, [[os.path.join(clone, "scripts", "klipper-pin-rebuild")]],
                     "the drop-in's ExecStartPre")
        expect_equal(start[0], os.path.join(clone, "deploy", "current", "klipper-pin"),
                     "the launcher ExecStart runs")
        expect("--" in start and start[start.index("--") + 1:] == ["/bin/echo", "klippy-started"],
               f"ExecStart wraps the unit's own: {start}")
        expect(printer.read(printer.config) == printer.read(os.path.join(clone, "config", "klipper-pin.conf")),
               "the shipped config copied")
        link = os.path.join(printer.home, "klipper/klippy/extras/klipper_pin.py")
        expect_equal(os.readlink(link), os.path.join(clone, "klippy/extras/klipper_pin.py"), "the module link")
        moonraker = printer.read(printer.moonraker)
        expect(moonraker.startswith(MOONRAKER), "moonraker.conf kept as it was above the section")
        for line in ("[update_manager klipper-pin]", "type: git_repo", "path: ~/klipper-pin",
                     f"origin: {printer.upstream}", "primary_branch: main", "managed_services: klipper"):
            expect(f"\n{line}\n" in moonraker, f"moonraker.conf has {line!r}:\n{moonraker}")
        calls = printer.calls_made()
        expect(f"apt-get install -y --no-install-recommends {DEPS_MISSING}" in calls,
               f"the missing dependency installed: {calls}")
        expect("systemctl daemon-reload" in calls and "systemctl restart klipper" in calls,
               f"daemon-reload and restart: {calls}")
        printer.expect_clean("after install")

        # The service starts: the build is current, klippy runs under it.
        pres, started, _ = printer.restart()
        expect_equal(pres[0].returncode, 0, f"ExecStartPre: {pres[0].stderr}")
        expect_equal(started.returncode, 0, f"ExecStart: {started.stderr}")
        expect("klippy-started" in started.stdout, f"klippy ran: {started.stdout}{started.stderr}")
        first = printer.running_version()
        if AS_ROOT:
            # A unit without User=: the rebuild runs as the checkout's owner.
            pre, _ = printer.exec_lines()
            done = printer.run(pre[0], as_root=True)
            expect_equal(done.returncode, 0, f"ExecStartPre as root: {done.stderr}")
            owners = {os.lstat(os.path.join(top, name)).st_uid
                      for top, dirs, files in os.walk(os.path.join(clone, "deploy"))
                      for name in dirs + files}
            expect_equal(owners, {NOBODY}, "the owners of deploy/ after a rebuild as root")
        expect(first.startswith("klipper-pin "), f"--version: {first}")

        # An update: a new version upstream, pulled, klipper restarted.
        printer.commit_upstream(bump_version, "version bump")
        printer.pull()
        printer.expect_clean("after the pull")
        pres, started, _ = printer.restart()
        expect_equal(pres[0].returncode, 0, f"ExecStartPre rebuilds: {pres[0].stderr}")
        expect("klippy-started" in started.stdout, f"klippy ran: {started.stderr}")
        second = printer.running_version()
        expect_equal(second, first + ".1", "the version running after the update")
        printer.expect_clean("after the rebuild")

        # An update that does not build: klippy still starts, on the last
        # good build, and the journal and the log say why.
        printer.commit_upstream(break_build, "a syntax error")
        printer.pull()
        pres, started, _ = printer.restart()
        expect(pres[0].returncode != 0, "the failed rebuild reports failure (ignored by '-')")
        expect("failed" in pres[0].stderr and "last good build" in pres[0].stderr,
               f"stderr (the journal) says why: {pres[0].stderr}")
        expect("error" in pres[0].stderr, f"the compiler's error in the journal: {pres[0].stderr}")
        expect("klippy-started" in started.stdout, f"klippy ran: {started.stderr}")
        expect_equal(printer.running_version(), second, "the version running after a failed build")
        log = printer.read(printer.log)
        expect("klipper_pin_broken" in log and "build of sources" in log and "failed" in log,
               f"the log says why:\n{log[-2000:]}")
        printer.expect_clean("after the failed build")

        # The next restart does not build the same sources again.
        pres, started, _ = printer.restart()
        expect("failed to build before" in pres[0].stderr, f"not rebuilt: {pres[0].stderr}")
        expect("klippy-started" in started.stdout, f"klippy ran: {started.stderr}")

        # Fixed upstream: the next restart runs the fix.
        def fix(dev):
            printer.git(["revert", "--no-edit", "-n", "HEAD"], cwd=dev)
            bump_version(dev)
        printer.commit_upstream(fix, "fixed")
        printer.pull()
        pres, started, _ = printer.restart()
        expect_equal(pres[0].returncode, 0, f"ExecStartPre: {pres[0].stderr}")
        expect_equal(printer.running_version(), second + ".1", "the version after the fix")
        builds = os.listdir(os.path.join(clone, "deploy", "builds"))
        expect_equal(len(builds), 2, f"the builds kept (current and the one before): {builds}")
    finally:
        printer.close()


def test_install_twice_then_uninstall(runner):
    """A second install changes nothing; --uninstall leaves the home and
    the system tree as they were before the first, byte for byte, but for
    the log."""
    printer = Printer()
    try:
        home_before = snapshot(printer.home, [printer.log])
        root_before = snapshot(printer.root)
        printer.install()
        expect_equal(os.readlink(printer.command),
                     os.path.join(printer.clone, "deploy/current/klipper-pin"),
                     "klipper-pin on PATH, the build current points to")
        version = printer.run([printer.command, "--version"])
        expect(version.stdout.startswith("klipper-pin "),
               f"the command runs: {version.stdout} {version.stderr}")
        home_once = snapshot(printer.home, [printer.log])
        root_once = snapshot(printer.root)
        dropin_once = printer.read(printer.dropin)
        again = printer.install()
        expect("keeping your" in again.stdout and "linked already" in again.stdout
               and "on PATH already" in again.stdout
               and "keeping the [update_manager klipper-pin] section" in again.stdout,
               f"the second install says what it kept:\n{again.stdout}")
        expect_same_tree(home_once, snapshot(printer.home, [printer.log]), "the home after a second install")
        expect_equal(sorted(snapshot(printer.root)), sorted(root_once), "the system tree's files after a second install")
        dropin_twice = printer.read(printer.dropin)
        expect_equal(dropin_twice.count("klipper-pin-rebuild"), 1, f"one ExecStartPre:\n{dropin_twice}")
        expect_equal(dropin_twice.count("deploy/current/klipper-pin"), dropin_once.count("deploy/current/klipper-pin"),
                     f"ExecStart wrapped once:\n{dropin_twice}")
        expect_equal(printer.read(printer.moonraker).count("[update_manager klipper-pin]"), 1,
                     "one moonraker section")

        done = printer.install("--uninstall")
        expect("uninstalled" in done.stdout, f"uninstall output:\n{done.stdout}")
        expect_same_tree(home_before, snapshot(printer.home, [printer.log]), "the home after --uninstall")
        expect_same_tree(root_before, snapshot(printer.root), "the system tree after --uninstall")
        calls = printer.calls_made()
        expect(f"apt-get remove -y {DEPS_MISSING}" in calls, f"what install.sh installed is removed: {calls}")
        expect(not any(c.startswith("apt-get remove") and "gcc" in c for c in calls), f"gcc stays: {calls}")
        expect(os.path.exists(printer.log), "the log stays")
    finally:
        printer.close()


def test_install_keeps_user_files(runner):
    """An existing klipper-pin.conf and [update_manager klipper-pin]
    section are never overwritten, nor removed by --uninstall; on Kalico
    (klippy/plugins/) the module is linked there."""
    printer = Printer(plugins=True)
    try:
        mine = "# my own plan\n[main]\ncpus: 0\n"
        section = MOONRAKER + "\n[update_manager klipper-pin]\ntype: git_repo\npath: ~/elsewhere\n"
        printer.write(printer.config, mine)
        printer.write(printer.moonraker, section)
        done = printer.install()
        expect_equal(printer.read(printer.config), mine, "klipper-pin.conf after install")
        expect_equal(printer.read(printer.moonraker), section, "moonraker.conf after install")
        expect("keeping your" in done.stdout, f"install.sh says it kept the config:\n{done.stdout}")
        plugins = os.path.join(printer.home, "klipper/klippy/plugins/klipper_pin.py")
        expect(os.path.islink(plugins), "the module is linked into klippy/plugins/")
        expect(not os.path.lexists(os.path.join(printer.home, "klipper/klippy/extras/klipper_pin.py")),
               "and not into klippy/extras/")
        printer.install("--uninstall")
        expect_equal(printer.read(printer.config), mine, "klipper-pin.conf after --uninstall")
        expect_equal(printer.read(printer.moonraker), section, "moonraker.conf after --uninstall")
        expect(not os.path.lexists(plugins), "the module link removed")
    finally:
        printer.close()


def test_install_edited_config_survives_uninstall(runner):
    """The config install.sh copied, once edited, is the user's: --uninstall
    keeps it; a section moved away from the end of moonraker.conf is still
    found and removed."""
    printer = Printer()
    try:
        printer.install()
        with open(printer.config, "a") as config:
            config.write("# my edit\n")
        with open(printer.moonraker, "a") as moonraker:
            moonraker.write("\n[update_manager other]\ntype: git_repo\n")
        done = printer.install("--uninstall")
        expect("you edited it" in done.stdout, f"uninstall says it kept the config:\n{done.stdout}")
        expect(printer.read(printer.config).endswith("# my edit\n"), "the edited config kept")
        moonraker = printer.read(printer.moonraker)
        expect("[update_manager klipper-pin]" not in moonraker and "[update_manager other]" in moonraker,
               f"only klipper-pin's section removed:\n{moonraker}")
    finally:
        printer.close()


def test_install_refuses_root(runner):
    printer = Printer()
    try:
        if AS_ROOT:
            done = printer.run([os.path.join(printer.clone, "install.sh"), "--root", printer.root],
                               as_root=True)
        else:
            # Not root here: an `id` that says 0 stands in.
            printer.write(os.path.join(printer.bin, "id"), "#!/bin/sh\necho 0\n")
            os.chmod(os.path.join(printer.bin, "id"), 0o755)
            done = printer.run([os.path.join(printer.clone, "install.sh"), "--root", printer.root])
        expect(done.returncode != 0, "install.sh as root exits non-zero")
        expect("root" in done.stderr, f"and says why: {done.stderr}")
        expect(not os.path.exists(os.path.join(printer.clone, "deploy")), "nothing was built")
        expect_equal(printer.calls_made(), [], "nothing was run through sudo")
    finally:
        printer.close()


def test_install_needs_klipper_service(runner):
    printer = Printer()
    try:
        os.unlink(os.path.join(printer.root, "etc/systemd/system/klipper.service"))
        done = printer.install(wanted=1)
        expect("klipper.service" in done.stderr, f"says what is missing: {done.stderr}")
        expect(not os.path.exists(os.path.join(printer.clone, "deploy")), "nothing was built")
        expect_equal(printer.calls_made(), [], "nothing was installed")
        expect_equal(printer.read(printer.moonraker), MOONRAKER, "moonraker.conf untouched")
    finally:
        printer.close()
