"""Where the shipped config (config/klipper-pin.conf) says each of
klippy's threads goes, on the CPUs online here; as its comments put it."""
from klipper import cpulist, online_cpus


def shipped_plan():
    """{rule: (CPU list, policy)} on this machine's CPUs."""
    cpus = online_cpus()
    if len(cpus) < 2:
        return None  # 1 CPU: two rules are skipped, by design
    last, before = cpus[-1], cpus[-2]
    housekeeping = cpus[:-2] or cpus[:1]  # never empty: on 2 CPUs, CPU 0
    return {
        "main": (str(before), "other"),
        "serial": (str(last), "fifo"),
        "serial-reader": (str(before), "other"),
        "housekeeping": (cpulist(housekeeping), "other"),
        "steps": ([str(before), str(last)], "other"),
    }


def rule_for(thread, pid):
    """The rule that must place a live klippy thread, by what it is."""
    name = thread["name"]
    if thread["tid"] == pid:
        return "main"
    if name.startswith("serialq"):
        return "serial"
    if name.startswith("serialhdl"):
        return "serial-reader"
    if name.startswith(("stepper_", "extruder")):
        return "steps"
    return "housekeeping"
