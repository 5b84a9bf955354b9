"""The module's warnings in the web UI (configfile's warnings, what
Mainsail and Fluidd show): a placement the kernel refused."""
import os
import shutil

from klipper import Skip


def test_policy_eperm_is_a_warning_naming_limitrtprio(context):
    # SCHED_FIFO without RLIMIT_RTPRIO: root may always, so as root the
    # MCU and klippy run as nobody (the tree copy is readable by all).
    k = context.klipper()
    prefix = ["prlimit", "--rtprio=0"]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            raise Skip("no setpriv to run klippy as nobody")
        prefix += ["setpriv", "--reuid=nobody", "--regid=nogroup",
                   "--clear-groups"]
    elif not shutil.which("prlimit"):
        raise Skip("no prlimit to drop RLIMIT_RTPRIO")
    process, api, run = k.live(prefix=prefix, mode=0o777)
    try:
        status = api.query("klipper_pin")["klipper_pin"]
        serial = [t for t in status["threads"]
                  if t["name"] == "serialq mcu"]
        assert serial and serial[0]["flag"] == "failed", status
        assert "policy EPERM" in serial[0]["result"], serial
        assert serial[0]["policy"] == "other", serial  # placed, not fifo
        assert serial[0]["cpus"] == serial[0]["want"], serial
        assert status["failed"] >= 1, status
        warnings = [w["message"] for w in
                    api.query("configfile")["configfile"]["warnings"]
                    if w["type"] == "runtime_warning"]
        wanted = ("klipper-pin: placing thread 'serialq mcu' (rule serial) "
                  "failed: policy EPERM: add LimitRTPRIO= to the unit")
        assert wanted in warnings, warnings
        output = api.gcode("KLIPPER_PIN_STATUS")
        assert "failed: policy EPERM" in output, output
    finally:
        api.close()
        k.stop(process)


def test_thread_moved_off_its_plan_is_a_warning(context):
    # Something else (here taskset) moves the serial reader: flagged in
    # get_status at once, a warning once stats() has seen it twice.
    import subprocess
    from klipper import online_cpus, wait_for
    if len(online_cpus()) < 2:
        raise Skip("1 CPU online: nowhere to move a thread to")
    context.klipper()
    process, api, run = context.shared_live()
    status = api.query("klipper_pin")["klipper_pin"]
    reader = [t for t in status["threads"] if t["name"] == "serialhdl mcu"][0]
    elsewhere = [c for c in online_cpus() if str(c) != reader["want"]][0]
    subprocess.run(["taskset", "-pc", str(elsewhere), str(reader["tid"])],
                   check=True, stdout=subprocess.DEVNULL)
    wanted = (f"klipper-pin: thread 'serialhdl mcu' runs on CPUs {elsewhere}, "
              f"away from its plan (rule serial-reader: CPUs "
              f"{reader['want']}): something else moved it")

    def warned():
        return wanted in [w["message"] for w in api.query(
            "configfile")["configfile"]["warnings"]]
    wait_for("the moved-thread warning", warned, timeout=10)
    status = api.query("klipper_pin")["klipper_pin"]
    moved = [t for t in status["threads"] if t["tid"] == reader["tid"]][0]
    assert moved["flag"] == "moved" and status["off_plan"] == 1, status
