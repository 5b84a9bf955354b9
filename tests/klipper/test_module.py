"""klippy/extras/klipper_pin.py inside a live klippy under the launcher:
its G-code, its get_status() through the API socket, its part of the
Stats lines and no warning where every thread is where it should be."""
import os
import re

from klipper import read, wait_for


def test_gcode_prints_every_thread(context):
    k = context.klipper()
    process, api, run = context.shared_live()
    output = api.gcode("KLIPPER_PIN_STATUS")
    lines = output.splitlines()
    assert lines[0] == "// klipper-pin: placing, plan " + \
        os.path.realpath(k.launcher + "/../../config/klipper-pin.conf"), \
        output
    rows = {int(line.split()[1]): line for line in lines[2:]}
    tids = {int(t) for t in os.listdir(f"/proc/{process.pid}/task")}
    assert set(rows) == tids, (rows, tids)
    serial = [line for line in rows.values() if "serialq mcu" in line]
    assert len(serial) == 1 and " serial " in serial[0] and \
        "fifo/10" in serial[0], output


def test_get_status_through_the_api(context):
    k = context.klipper()
    process, api, run = context.shared_live()
    status = api.query("klipper_pin")["klipper_pin"]
    assert status["active"] is True and status["state"] == "placing", status
    assert status["reason"] == ""
    assert status["config"].endswith("config/klipper-pin.conf"), status
    assert status["off_plan"] == 0 and status["failed"] == 0, status
    seen = {t["tid"]: t for t in k.status(process.pid)["threads"]}
    mine = {t["tid"]: t for t in status["threads"]}
    assert set(mine) == set(seen), (mine, seen)
    for tid, t in mine.items():
        other = seen[tid]
        for key in ("name", "rule", "event", "want", "result", "cpus",
                    "policy", "priority"):
            assert t[key] == other[key], (key, t, other)
        assert t["flag"] == "" and isinstance(t["wait_ms"], float), t
        assert isinstance(t["last_cpu"], int), t


def test_stats_line_in_klippy_log(context):
    context.klipper()
    process, api, run = context.shared_live()
    # Stats lines are written while the toolhead is active: a dwell makes
    # it so for a minute.
    api.gcode("G4 P10")
    log = os.path.join(run, "klippy.log")
    pattern = re.compile(r"^Stats [0-9.]+: .*klipper_pin: threads=(\d+) "
                         r"off_plan=(\d+) migrations=(\d+) "
                         r"max_wait_ms=([0-9.]+) .*print_stall=",
                         re.MULTILINE)
    found = wait_for("a Stats line with klipper_pin",
                     lambda: pattern.findall(read(log))[1:])
    threads, off, migrations, wait = found[-1]
    tids = os.listdir(f"/proc/{process.pid}/task")
    assert int(threads) == len(tids) and int(off) == 0, found[-1]
    assert "srtt=" in [line for line in read(log).splitlines()
                       if "klipper_pin: threads=" in line][-1]


def test_no_warning_when_every_thread_is_placed(context):
    context.klipper()
    process, api, run = context.shared_live()
    warnings = api.query("configfile")["configfile"]["warnings"]
    assert not [w for w in warnings if "klipper-pin" in w["message"]], \
        warnings
