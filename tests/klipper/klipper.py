"""Real Klipper for the tests: a working copy of the tree named by
$KLIPPER_SRC, the Linux-process MCU, klippy under the launcher (live, with
its API socket, or in batch mode) and a client of that socket."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODULE = os.path.join(REPO, "klippy", "extras", "klipper_pin.py")
SHIPPED = os.path.join(REPO, "config", "klipper-pin.conf")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable


class Skip(Exception):
    """A test that cannot run here, with the reason."""


def online_cpus():
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus += range(int(low), int(high or low) + 1)
    return cpus


def cpulist(cpus):
    """A list of CPUs as taskset -c writes it."""
    out = []
    for cpu in sorted(cpus):
        if out and out[-1][1] == cpu - 1:
            out[-1][1] = cpu
        else:
            out.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out)


def prepare(source, work):
    """Builds out/klipper.elf and c_helper.so into source when missing,
    then copies klippy/ and the MCU into work/klipper with the module
    linked in (a copy: a test may run it as another user). Returns the
    copy's path."""
    elf = os.path.join(source, "out", "klipper.elf")
    if not os.path.exists(elf):
        with open(os.path.join(source, ".config"), "w") as f:
            f.write("CONFIG_MACH_LINUX=y\n")
        for command in (["make", "olddefconfig"],
                        ["make", f"-j{len(online_cpus())}"]):
            subprocess.run(command, cwd=source, check=True,
                           stdout=subprocess.DEVNULL)
    chelper = os.path.join(source, "klippy", "chelper")
    subprocess.run([PYTHON, "-c", "import chelper; chelper.get_ffi()"],
                   cwd=os.path.dirname(chelper), check=True, stdout=subprocess.DEVNULL)
    tree = os.path.join(work, "klipper")
    shutil.copytree(os.path.join(source, "klippy"),
                    os.path.join(tree, "klippy"), symlinks=True)
    os.makedirs(os.path.join(tree, "out"))
    shutil.copy2(elf, os.path.join(tree, "out", "klipper.elf"))
    shutil.copy2(os.path.join(source, "out", "klipper.dict"),
                 os.path.join(tree, "out", "klipper.dict"))
    extras = os.path.join(tree, "klippy", "extras", "klipper_pin.py")
    if os.path.lexists(extras):
        os.remove(extras)
    shutil.copy2(MODULE, extras)
    return tree


class Api:
    """klippy's API socket: JSON-RPC, each message ended by \\x03."""

    def __init__(self, path, timeout=30, exited=None):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline or \
                        (exited and exited.poll() is not None):
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buffer = b""
        self.next_id = 1
        self.output = []  # G-code responses, once subscribed

    def _message(self):
        while b"\x03" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("klippy closed its API socket")
            self.buffer += data
        message, _, self.buffer = self.buffer.partition(b"\x03")
        return json.loads(message)

    def call(self, method, **params):
        request_id = self.next_id
        self.next_id += 1
        self.sock.sendall(json.dumps({"id": request_id, "method": method,
                                      "params": params}).encode() + b"\x03")
        while True:
            message = self._message()
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            if "params" in message and "response" in message["params"]:
                self.output.append(message["params"]["response"])

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            info = self.call("info")
            if info["state"] == "ready":
                return info
            if info["state"] in ("error", "shutdown") or \
                    time.monotonic() > deadline:
                raise AssertionError(f"klippy is not ready: {info}")
            time.sleep(0.2)

    def gcode(self, script):
        """Runs script; returns the console lines it wrote."""
        if not getattr(self, "subscribed", False):
            self.call("gcode/subscribe_output",
                      response_template={"key": "out"})
            self.subscribed = True
        self.output = []
        self.call("gcode/script", script=script)
        return "\n".join(self.output)

    def query(self, *objects):
        return self.call("objects/query",
                         objects={name: None for name in objects})["status"]

    def close(self):
        self.sock.close()


LIVE_CFG = """\
[mcu]
serial: {tty}
[printer]
kinematics: none
max_velocity: 1
max_accel: 1
[klipper_pin]
"""

BATCH_CFG = """\
# Four steppers on a cartesian printer, for klippy's batch mode (nothing
# is sent to a micro-controller, so the Linux MCU's pins need no GPIO).
[mcu]
serial: /dev/null
[printer]
kinematics: cartesian
max_velocity: 300
max_accel: 3000
[stepper_x]
step_pin: gpio0
dir_pin: gpio1
enable_pin: !gpio2
microsteps: 16
rotation_distance: 40
endstop_pin: ^gpio3
position_endstop: 0
position_max: 200
homing_speed: 50
[stepper_y]
step_pin: gpio4
dir_pin: gpio5
enable_pin: !gpio6
microsteps: 16
rotation_distance: 40
endstop_pin: ^gpio7
position_endstop: 0
position_max: 200
homing_speed: 50
[stepper_z]
step_pin: gpio8
dir_pin: gpio9
enable_pin: !gpio10
microsteps: 16
rotation_distance: 8
endstop_pin: ^gpio11
position_endstop: 0
position_max: 200
[extruder]
step_pin: gpio12
dir_pin: gpio13
enable_pin: !gpio14
microsteps: 16
rotation_distance: 33.5
nozzle_diameter: 0.400
filament_diameter: 1.750
heater_pin: gpio15
sensor_type: EPCOS 100K B57560G104F
sensor_pin: analog0
control: pid
pid_Kp: 22.2
pid_Ki: 1.08
pid_Kd: 114
min_temp: 0
max_temp: 250
min_extrude_temp: 0
[klipper_pin]
"""

BATCH_GCODE = """\
G28
G1 X20 Y20 Z5 F6000
G1 X40 Y30 E1 F3000
KLIPPER_PIN_STATUS
"""


class Klipper:
    """One run's Klipper: the tree copy, and every process started from
    it, stopped at close()."""

    def __init__(self, build, source):
        self.build = os.path.abspath(build)
        self.launcher = os.path.join(self.build, "klipper-pin")
        self.work = tempfile.mkdtemp(prefix="klipper-pin-klipper.")
        os.chmod(self.work, 0o755)  # a test may run klippy as nobody
        try:
            self.tree = prepare(source, self.work)
        except BaseException:
            shutil.rmtree(self.work, ignore_errors=True)
            raise
        self.processes = []
        self.count = 0

    def directory(self, mode=0o755):
        self.count += 1
        path = os.path.join(self.work, f"run{self.count}")
        os.makedirs(path)
        os.chmod(path, mode)
        return path

    def start(self, command, log, **kwargs):
        out = open(log, "wb")
        process = subprocess.Popen(command, stdout=out,
                                   stderr=subprocess.STDOUT, **kwargs)
        out.close()
        self.processes.append(process)
        return process

    def mcu(self, run, prefix=()):
        tty = os.path.join(run, "mcu-tty")
        self.start([*prefix, os.path.join(self.tree, "out", "klipper.elf"),
                    "-I", tty], os.path.join(run, "mcu.out"))
        deadline = time.monotonic() + 10
        while not os.path.exists(tty):
            if time.monotonic() > deadline:
                raise AssertionError("the Linux MCU made no tty")
            time.sleep(0.05)
        return tty

    def klippy(self, cfg, *args):
        return [PYTHON, os.path.join(self.tree, "klippy", "klippy.py"),
                cfg, *args]

    def under_launcher(self, *args, config=SHIPPED, options=()):
        return [self.launcher, "--config", config, *options, "--", *args]

    def live(self, config=SHIPPED, prefix=(), options=(), mode=0o755,
             launched=True):
        """A live klippy (kinematics: none, no stepper) on the Linux MCU,
        ready. Returns (process, api, run directory)."""
        run = self.directory(mode)
        tty = self.mcu(run, prefix)
        cfg = os.path.join(run, "printer.cfg")
        with open(cfg, "w") as f:
            f.write(LIVE_CFG.format(tty=tty))
        os.chmod(cfg, 0o644)
        sock = os.path.join(run, "klippy.sock")
        command = self.klippy(cfg, "-a", sock, "-I",
                              os.path.join(run, "printer"), "-l",
                              os.path.join(run, "klippy.log"))
        if launched:
            command = self.under_launcher(*command, config=config,
                                          options=options)
        process = self.start([*prefix, *command],
                             os.path.join(run, "klippy.out"))
        try:
            api = Api(sock, exited=process)
            api.wait_ready()
        except Exception:
            process.kill()
            raise AssertionError(
                "klippy did not get ready:\n" +
                read(os.path.join(run, "klippy.out"))[-3000:] +
                read(os.path.join(run, "klippy.log"))[-3000:])
        return process, api, run

    def batch(self, options=(), launched=True, tree=None):
        """A batch run of the four-stepper printer; returns its run
        directory, with klippy.log, shim.json (the shim's log) and
        klippy.out."""
        tree = tree or self.tree
        run = self.directory()
        cfg = os.path.join(run, "printer.cfg")
        gcode = os.path.join(run, "in.gcode")
        with open(cfg, "w") as f:
            f.write(BATCH_CFG)
        with open(gcode, "w") as f:
            f.write(BATCH_GCODE)
        command = [PYTHON, os.path.join(tree, "klippy", "klippy.py"), cfg,
                   "-i", gcode, "-o", os.path.join(run, "out.serial"),
                   "-d", os.path.join(tree, "out", "klipper.dict"),
                   "-l", os.path.join(run, "klippy.log")]
        if launched:
            command = self.under_launcher(
                *command, options=("--log", os.path.join(run, "shim.json"),
                                   "--log-format", "json", *options))
        result = subprocess.run(command, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=120)
        with open(os.path.join(run, "klippy.out"), "wb") as f:
            f.write(result.stdout)
        assert result.returncode == 0, (
            f"batch klippy exited {result.returncode}:\n"
            + result.stdout.decode(errors="replace")[-3000:]
            + read(os.path.join(run, "klippy.log"))[-3000:])
        return run

    def status(self, pid):
        result = subprocess.run([self.launcher, "status", str(pid), "--json"],
                                stdout=subprocess.PIPE, check=True)
        return json.loads(result.stdout)["processes"][0]

    def stop(self, process):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                self.stop(process)
        shutil.rmtree(self.work, ignore_errors=True)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(what, check, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
