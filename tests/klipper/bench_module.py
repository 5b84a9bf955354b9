#!/usr/bin/env python3
"""What klippy/extras/klipper_pin.py costs klippy's reactor: get_status()
(each call a fresh read, as once a second), stats() and the G-code's
read, per call, in a process of 20 threads under the launcher with the
shipped config. A measurement, not a test: it prints figures and asserts
nothing.

Usage: tests/klipper/bench_module.py [BUILD_DIR] [CALLS]"""
import importlib.util
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
THREADS = 20


class Printer:
    """What the module asks of klippy's printer object, and no more."""

    def get_reactor(self):
        return None

    def lookup_object(self, name, default=None):
        return self if name == "gcode" else default

    def register_command(self, *args, **kwargs):
        pass

    def register_event_handler(self, *args):
        pass


class Config:
    def get_printer(self):
        return Printer()


def measure(call, calls):
    """Wall-clock and CPU-time (this thread's) figures of calls calls:
    the wall clock counts the time the thread waited for a CPU too,
    which on a busy machine is most of the slow calls."""
    wall, cpu = [], []
    for i in range(calls):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call(i)
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    figures = []
    for times in (wall, cpu):
        times.sort()
        figures += [sum(times) / len(times) * 1e3,
                    times[len(times) // 2] * 1e3,
                    times[int(len(times) * 0.99)] * 1e3]
    return figures


def inner(calls):
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait)
               for _ in range(THREADS - 1)]
    for worker in workers:
        worker.start()
    spec = importlib.util.spec_from_file_location(
        "klipper_pin", os.path.join(REPO, "klippy", "extras",
                                    "klipper_pin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pin = module.load_config(Config())
    status = pin.get_status(0.)
    assert status["active"], status
    print(f"{len(status['threads'])} threads, state {status['state']}, "
          f"plan {status['config']}; {calls} calls each, in ms")
    print(f"{'':28} {'wall clock':^23} {'CPU time':^23}")
    print(f"{'call':28} " + f"{'mean':>7} {'median':>7} {'p99':>7} " * 2)
    for name, call in (
            ("get_status (fresh)", lambda i: pin.get_status(1. + i)),
            ("get_status (within 1 s)", lambda i: pin.get_status(1.)),
            ("stats", lambda i: pin.stats(float(i))),
            ("KLIPPER_PIN_STATUS's read", lambda i: pin._status())):
        print(f"{name:28} " + " ".join(f"{v:7.3f}"
                                       for v in measure(call, calls)))
    stop.set()
    for worker in workers:
        worker.join()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner(int(sys.argv[2]))
        return 0
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
    calls = sys.argv[2] if len(sys.argv) > 2 else "1000"
    return subprocess.call([
        os.path.join(build, "klipper-pin"), "--config",
        os.path.join(REPO, "config", "klipper-pin.conf"), "--log", "none",
        "--", sys.executable, os.path.abspath(__file__), "--inner", calls])


if __name__ == "__main__":
    sys.exit(main())
