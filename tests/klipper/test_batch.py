"""klippy in batch mode (-i gcode -o out -d dict): four steppers on a
cartesian printer, nothing sent to a micro-controller."""
import json
import os
import re

from klipper import Skip, read
from expect import shipped_plan

STEPPERS = ("stepper_x", "stepper_y", "stepper_z", "extruder")


def shim_events(run):
    with open(os.path.join(run, "shim.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_every_step_thread_replaced_when_it_names_itself(context):
    plan = shipped_plan()
    if plan is None:
        raise Skip("1 CPU online: the shipped config skips two rules here")
    run = context.klipper().batch()
    events = shim_events(run)
    renamed = {e["name"]: e for e in events if e["event"] == "rename"}
    spread, _ = plan["steps"]
    for stepper in STEPPERS:
        assert stepper in renamed, (stepper, sorted(renamed))
        e = renamed[stepper]
        assert e["rule"] == "steps" and e["result"] == "ok", e
        assert e["want"] in spread and e["cpus"] == e["want"], e
        assert e["policy"] == "other", e
        # Created first, inside c_helper.so, before it had a name.
        created = [c for c in events if c["event"] == "thread"
                   and c["tid"] == e["tid"]]
        assert created and created[0]["rule"] == "chelper" and \
            created[0]["library"] == "c_helper.so", created
    # In turn: the four take both CPUs of the spread.
    assert {renamed[s]["want"] for s in STEPPERS} == set(spread), renamed


def test_gcode_in_batch_mode_writes_to_the_log(context):
    run = context.klipper().batch()
    log = read(os.path.join(run, "klippy.log"))
    assert "klipper-pin: placing, plan " in log, log[-2000:]
    rows = re.findall(r"^\d+ +(stepper_[xyz]|extruder) +steps ", log,
                      re.MULTILINE)
    assert sorted(rows) == sorted(STEPPERS), rows


def test_not_launched_is_a_warning(context):
    run = context.klipper().batch(launched=False)
    log = read(os.path.join(run, "klippy.log"))
    assert "klipper-pin: not active: klippy was not started by " \
        "klipper-pin (no libklipper-pin in /proc/self/maps)" in log, \
        log[-2000:]


def test_on_error_run_is_a_warning_with_the_error(context):
    k = context.klipper()
    bad = os.path.join(k.directory(), "bad.conf")
    with open(bad, "w") as f:
        f.write("[main]\ncpu: 1\n")
    run = k.batch(options=("--on-error", "run", "--config", bad))
    log = read(os.path.join(run, "klippy.log"))
    line = [x for x in log.splitlines() if "klipper-pin: not active" in x]
    assert line, log[-2000:]
    assert "--on-error run" in line[0] and "bad.conf:2" in line[0], line
