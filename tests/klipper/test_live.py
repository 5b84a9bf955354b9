"""klippy on the Linux-process MCU, under the launcher with the shipped
config, reaching "ready" with every thread where the config says."""
from klipper import Skip
from expect import rule_for, shipped_plan


def test_ready_with_every_thread_where_the_shipped_config_says(context):
    plan = shipped_plan()
    if plan is None:
        raise Skip("1 CPU online: the shipped config skips two rules here")
    k = context.klipper()
    process, api, run = context.shared_live()
    status = k.status(process.pid)
    assert status["shim"] == "placing", status["shim"]
    threads = status["threads"]
    names = [t["name"] for t in threads]
    assert "serialq mcu" in names and "serialhdl mcu" in names, names
    for t in threads:
        rule = rule_for(t, process.pid)
        cpus, policy = plan[rule]
        assert t["rule"] == rule, (t, rule)
        assert t["result"] == "ok", t
        assert t["cpus"] == cpus and t["want"] == cpus, (t, cpus)
        assert t["policy"] == policy, (t, policy)
        assert t["flag"] == "", t
        if policy == "fifo":
            assert t["priority"] == 10, t
