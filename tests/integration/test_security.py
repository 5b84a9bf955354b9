"""A setuid program (AT_SECURE) with the shim preloaded: the shim reads no
environment there and places nothing."""
import os
import re
import shutil
import stat

from harness import (SANITIZED, Skip, cpu_text, expect, expect_equal,
                     need_cpus, parse_fields)

NOBODY = 65534

# In a mount namespace of its own, so that nothing outside sees it: the
# shim's directory laid over the system library directory, then the
# program run as nobody. $1 library dir, $2 overlay upper, $3 overlay work;
# the rest is the command.
IN_NAMESPACE = """
set -e
mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$1"
shift 3
exec "$@"
"""


def system_library_dir():
    """The directory libc was loaded from: one the loader trusts."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            # libc.so.6; libc-2.31.so before glibc 2.34
            if re.match(r"libc(\.so|-\d)", os.path.basename(path)):
                return os.path.dirname(os.path.realpath(path))
    raise Skip("cannot tell where libc is loaded from")


def test_setuid_program_is_not_placed_and_reads_no_environment(run):
    # In secure mode the loader takes a preload only by bare name from a
    # system directory, and only when the library is setuid itself: so
    # the test lays a setuid copy of the shim over that directory, in a
    # private mount namespace.
    if SANITIZED:
        raise Skip("a sanitizer's runtime cannot be preloaded into a "
                   "setuid program; the plain `make check` runs this test")
    if os.geteuid() != 0:
        raise Skip("needs root, to make a setuid program and mount an "
                   "overlay in a private mount namespace")
    for tool in ("unshare", "setpriv"):
        if not shutil.which(tool):
            raise Skip(f"{tool} (util-linux) is not installed")
    need_cpus(2)
    if os.statvfs(run.tmp).f_flag & os.ST_NOSUID:
        raise Skip(f"{run.tmp} is on a filesystem mounted nosuid: no "
                   "program there can be setuid")

    os.chmod(run.tmp, 0o755)  # nobody must reach the programs
    upper, work, logs = (run.path(n) for n in ("upper", "work", "logs"))
    for directory in (upper, work, logs):
        os.mkdir(directory)
    os.chown(logs, NOBODY, NOBODY)
    shim_name = f"libklipper-pin-secure-test-{os.getpid()}.so"
    shutil.copy(run.build.shim, os.path.join(upper, shim_name))
    os.chmod(os.path.join(upper, shim_name), 0o4755)
    config = run.write("secure.conf", f"""
[klipper-pin]
log: {logs}/from-config.log
[main]
cpus: 1
[thread all]
cpus: 0
""")
    os.chmod(config, 0o644)
    programs = {}
    for kind, mode in (("plain", 0o755), ("setuid", 0o4755)):
        programs[kind] = run.path(f"processes-{kind}")
        shutil.copy(run.build.processes, programs[kind])
        os.chmod(programs[kind], mode)
    expect(os.stat(programs["setuid"]).st_mode & stat.S_ISUID,
           "the program is setuid")

    def as_nobody(kind):
        # Only the program gets the preload: sh and setpriv, run first,
        # would be placed by it and pass their CPUs on.
        environment = [
            f"LD_PRELOAD={shim_name}",
            f"KLIPPER_PIN_CONFIG={config}",
            f"KLIPPER_PIN_LOG={logs}/from-environment-{kind}.log",
            "KLIPPER_PIN_LOG_FORMAT=json",
        ]
        result = run.run(
            ["unshare", "--mount", "--propagation", "private",
             "sh", "-c", IN_NAMESPACE, "sh",
             system_library_dir(), upper, work,
             "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
             "--clear-groups", "env", *environment,
             programs[kind], "secure", "2"])
        expect_equal(result.returncode, 0,
                     f"{kind} program's exit status ({result.stderr})")
        lines = {}
        for line in result.stdout.splitlines():
            kind_of_line, _, rest = line.partition(" ")
            lines.setdefault(kind_of_line, []).append(parse_fields(rest))
        return lines

    # The same program, not setuid: the shim in the overlay places it, so
    # the setup works and the run below means something.
    plain = as_nobody("plain")
    expect_equal(plain["secure"], [{"at_secure": "0", "shim": "1"}],
                 "plain program: not secure, shim loaded")
    expect_equal(plain["main"][0]["cpus"], "1", "plain main thread placed")
    expect_equal([t["cpus"] for t in plain["thread"]], ["0", "0"],
                 "plain threads placed")
    expect(os.path.exists(f"{logs}/from-environment-plain.log"),
           "plain program logged where KLIPPER_PIN_LOG said")

    start = cpu_text(os.sched_getaffinity(0))
    setuid = as_nobody("setuid")
    expect_equal(setuid["secure"], [{"at_secure": "1", "shim": "1"}],
                 "setuid program: secure mode, and the loader took the shim")
    expect_equal(setuid["main"][0]["proc"], start,
                 "setuid main thread left where it started")
    expect_equal([t["proc"] for t in setuid["thread"]],
                 [start] * 2, "setuid threads left where they started")
    expect_equal(sorted(os.listdir(logs)), ["from-environment-plain.log"],
                 "the setuid program wrote no log, by environment or config")

