# Show where klipper-pin placed each of klippy's threads
#
# klipper-pin is a launcher put in front of klippy in klipper.service's ExecStart; its preload library places
# each thread on CPUs and keeps what it did in a placement table, a memfd
# named "klipper-pin-placements" in this very process. This module reads
# that table and /proc/self/task for: the KLIPPER_PIN_STATUS command,
# get_status() (Moonraker's "klipper_pin" object), a part of klippy.log's
# Stats lines, and warnings in the web UI.
#
# Install: link this file into klippy/extras/ (klippy/plugins/ on Kalico)
# and add a [klipper_pin] section to printer.cfg.
#
# This file may be distributed under the terms of the GNU GPLv3 license.
import errno, logging, mmap, os, struct

# The C layout of shim/record.h. The same on 64-bit and 32-bit ARM (and
# x86-64): uint64_t is 8-aligned in both ABIs, so seq sits at 8 and the
# slot is padded from 244 to 248 bytes. tests/klipper checks these against
# the C compiler.
RECORD_NAME = "klipper-pin-placements"
RECORD_MAGIC = 0x316e69702d706b6b  # "kpk-pin1"
RECORD_SLOTS = 1024
RECORD_MASK_BYTES = 128
# magic, pid, slot_count, config[256], children_bytes, children[128], and
# 4 bytes of padding: the slots start 8-aligned
HEADER = struct.Struct("=QiI256sI128s4x")
# sequence, tid, seq, event[8], rule[48], result[40], want_bytes,
# want[128], padding
SLOT = struct.Struct("=IiQ8s48s40sI128s4x")
SLOTS_OFFSET = HEADER.size  # 408, a multiple of 8
TABLE_SIZE = SLOTS_OFFSET + RECORD_SLOTS * SLOT.size
# Slot fields in 32-bit words, for reading every tid at once.
WORDS_PER_SLOT = SLOT.size // 4
TID_WORD = 1

POLICIES = {0: "other", 1: "fifo", 2: "rr", 3: "batch", 5: "idle",
            6: "deadline"}
# A placement that failed for want of a real-time limit.
EPERM_HINT = "add LimitRTPRIO= to the unit"
# Seconds a get_status() answer stays fresh: Moonraker asks four times a
# second, the threads change far less often.
STATUS_REFRESH = 1.


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

_cpulists = {}

def _cpulist(cpus):
    # A CPU list as taskset -c writes it: "0-1,3". A printer's threads
    # have a few sets between them: each is written once.
    text = _cpulists.get(cpus)
    if text is None:
        if len(_cpulists) > 256:
            _cpulists.clear()
        text = _cpulists[cpus] = _write_cpulist(cpus)
    return text

def _write_cpulist(cpus):
    out = []
    for cpu in sorted(cpus):
        if out and out[-1][1] == cpu - 1:
            out[-1][1] = cpu
        else:
            out.append([cpu, cpu])
    return ",".join("%d" % (a,) if a == b else "%d-%d" % (a, b)
                    for a, b in out)

def _mask_cpus(mask, length):
    # A cpu_set_t as bytes (little-endian words: bit n is byte n/8's n%8).
    bits = int.from_bytes(mask[:length], "little")
    cpus = []
    while bits:
        low = bits & -bits
        cpus.append(low.bit_length() - 1)
        bits ^= low
    return frozenset(cpus)

def _pread(fd, size=4096):
    try:
        return os.pread(fd, size, 0)
    except OSError:
        return None


class PlacementTable:
    """The shim's table in this process, mapped read-only; None-safe:
    every method answers something when it is absent."""
    def __init__(self, pid):
        self.map = self.words = None
        self.config = None
        self.pid = pid
        path = self._find()
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if os.fstat(fd).st_size < TABLE_SIZE:
                return
            self.map = mmap.mmap(fd, TABLE_SIZE, mmap.MAP_SHARED,
                                 mmap.PROT_READ)
        except (OSError, ValueError):
            self.map = None
            return
        finally:
            os.close(fd)
        magic, pid, count, config, _, _ = HEADER.unpack_from(self.map, 0)
        if magic != RECORD_MAGIC or pid != self.pid or count != RECORD_SLOTS:
            self.map.close()
            self.map = None
            return
        self.config = _text(config)
        self.words = memoryview(self.map).cast("i")
    def _find(self):
        try:
            names = os.listdir("/proc/self/fd")
        except OSError:
            return None
        for name in names:
            try:
                link = os.readlink("/proc/self/fd/" + name)
            except OSError:
                continue
            if link.startswith("/memfd:" + RECORD_NAME):
                return "/proc/self/fd/" + name
        return None
    def present(self):
        return self.words is not None
    def slot_of(self, tid):
        # The slot of thread tid, or None. The shim claims the first free
        # slot from tid % RECORD_SLOTS on: almost always that one.
        if self.words is None:
            return None
        first = SLOTS_OFFSET // 4 + TID_WORD
        home = tid % RECORD_SLOTS
        if self.words[first + home * WORDS_PER_SLOT] == tid:
            return home
        try:
            return self.words[first::WORDS_PER_SLOT].tolist().index(tid)
        except ValueError:
            return None
    def read_slot(self, index):
        # A slot as it was between two writes (its sequence count even and
        # unchanged), as a dict; None when it is free or kept changing.
        at = SLOTS_OFFSET + index * SLOT.size
        for _ in range(8):
            raw = self.map[at:at + SLOT.size]
            again = self.map[at:at + SLOT.size]
            if raw != again:
                continue
            (sequence, tid, seq, event, rule, result, want_bytes,
             want) = SLOT.unpack(raw)
            if sequence & 1:
                continue
            if tid == 0 or not event.strip(b"\0"):
                return None
            if 0 < want_bytes <= RECORD_MASK_BYTES:
                wanted = _mask_cpus(want, want_bytes)
            else:
                wanted = None  # inherit: the rule asked no CPUs
            return {"tid": tid, "seq": seq, "event": _text(event),
                    "rule": _text(rule), "result": _text(result),
                    "want": wanted}
        return None


class ThreadFiles:
    """One thread's /proc files, kept open: a pread of an open file costs
    a third of an open, read and close. A thread that ended reads as
    nothing (ESRCH), and its files are closed."""
    def __init__(self, tid):
        self.tid = tid
        self.fds = {}
    def read(self, name):
        fd = self.fds.get(name)
        if fd is not None:
            data = _pread(fd)
            if data:
                return data
            # Its thread ended; the same tid may be a new thread's now.
            self.fds.pop(name)
            os.close(fd)
        try:
            fd = os.open("/proc/self/task/%d/%s" % (self.tid, name),
                         os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        self.fds[name] = fd
        return _pread(fd)
    def close(self):
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()


class KlipperPin:
    def __init__(self, config):
        self.printer = config.get_printer()
        self.reactor = self.printer.get_reactor()
        self.pid = os.getpid()
        self.files = {}
        self.last_status = None
        self.last_status_time = -STATUS_REFRESH
        self.last_counts = {}  # tid: (wait_ns, migrations) at last stats
        self.suspects = {}     # tid: (want, cpus) seen off plan once
        self.warned = set()
        self.table = PlacementTable(self.pid)
        self.state, self.reason = self._state()
        gcode = self.printer.lookup_object("gcode")
        gcode.register_command("KLIPPER_PIN_STATUS", self.cmd_STATUS,
                               desc=self.cmd_STATUS_help)
        self.printer.register_event_handler("klippy:ready", self._ready)
        self.printer.register_event_handler("klippy:disconnect",
                                            self._disconnect)
    # What the shim does here
    def _state(self):
        if self.table.present():
            return "placing", ""
        off = os.environ.get("KLIPPER_PIN_OFF")
        if off is not None:
            return "inactive", (
                "klipper-pin found an error and runs klippy unplaced"
                " (--on-error run): %s" % (off,))
        maps = ""
        try:
            with open("/proc/self/maps", "r") as f:
                maps = f.read()
        except (OSError, UnicodeDecodeError):
            pass
        if "libklipper-pin" in maps:
            return "inactive", (
                "the klipper-pin library is loaded but keeps no placement"
                " table here (klippy is not the process klipper-pin ran)")
        return "inactive", (
            "klippy was not started by klipper-pin (no libklipper-pin in"
            " /proc/self/maps): put klipper-pin in front of klippy in the"
            " unit's ExecStart")
    def _disconnect(self):
        for files in self.files.values():
            files.close()
        self.files.clear()
    # Reading the threads
    def _tids(self):
        try:
            return sorted(int(t) for t in os.listdir("/proc/self/task"))
        except (OSError, ValueError):
            return [self.pid]
    def _threads(self, want_stat=True, want_migrations=False):
        # One dict per live thread. Threads that end between the listing
        # and the reads are left out: that is normal.
        tids = self._tids()
        for tid in list(self.files):
            if tid not in tids:
                self.files.pop(tid).close()
        threads = []
        for tid in tids:
            files = self.files.get(tid)
            if files is None:
                files = self.files[tid] = ThreadFiles(tid)
            info = {"tid": tid}
            if want_stat:
                stat = files.read("stat")
                if not stat:
                    files.close()
                    self.files.pop(tid, None)
                    continue
                # The name may hold spaces and ')': split at the last one.
                head, _, rest = stat.rpartition(b")")
                fields = rest.split()
                info["name"] = head.partition(b"(")[2].decode(
                    "utf-8", "replace")
                try:
                    info["last_cpu"] = int(fields[36])
                    info["priority"] = int(fields[37])
                    info["policy"] = POLICIES.get(int(fields[38]), "?")
                except (IndexError, ValueError):
                    info["last_cpu"] = info["priority"] = None
                    info["policy"] = "?"
            try:
                info["cpus"] = frozenset(os.sched_getaffinity(tid))
            except OSError:
                files.close()
                self.files.pop(tid, None)
                continue
            schedstat = files.read("schedstat")
            try:
                info["wait_ns"] = int(schedstat.split()[1])
            except (AttributeError, IndexError, ValueError):
                info["wait_ns"] = None  # no CONFIG_SCHED_INFO
            if want_migrations:
                info["migrations"] = None
                sched = files.read("sched")
                if sched:
                    at = sched.find(b"se.nr_migrations")
                    if at >= 0:
                        line = sched[at:sched.find(b"\n", at)]
                        try:
                            info["migrations"] = int(
                                line.rpartition(b":")[2])
                        except ValueError:
                            pass
            slot = self.table.slot_of(tid)
            info["placed"] = (self.table.read_slot(slot)
                              if slot is not None else None)
            threads.append(info)
        return threads
    def _flag(self, t):
        placed = t["placed"]
        if placed is None:
            return "unplaced"
        if placed["result"] != "ok":
            return "failed"
        if placed["want"] is not None and placed["want"] != t["cpus"]:
            return "moved"
        return ""
    # Warnings in the web UI (and klippy.log)
    def _warn(self, msg):
        if msg in self.warned:
            return
        self.warned.add(msg)
        configfile = self.printer.lookup_object("configfile", None)
        warn = getattr(configfile, "runtime_warning", None)
        if warn is not None:
            warn(msg)  # logs it too
        else:
            logging.warning(msg)  # Klipper before runtime_warning()
    def _check(self, threads):
        # Warns of a failed placement, and of a thread off its plan seen
        # twice in a row with the same CPUs (not one caught mid-placement).
        suspects = {}
        for t in threads:
            placed = t["placed"]
            flag = self._flag(t)
            name = t.get("name") or str(t["tid"])
            if flag == "failed":
                result = placed["result"]
                msg = ("klipper-pin: placing thread '%s' (rule %s) failed:"
                       " %s" % (name, placed["rule"], result))
                if "policy EPERM" in result:
                    msg += ": " + EPERM_HINT
                self._warn(msg)
            elif flag == "moved":
                key = (placed["want"], t["cpus"])
                if self.suspects.get(t["tid"]) == key:
                    self._warn(
                        "klipper-pin: thread '%s' runs on CPUs %s, away"
                        " from its plan (rule %s: CPUs %s): something"
                        " else moved it" % (
                            name, _cpulist(t["cpus"]), placed["rule"],
                            _cpulist(placed["want"])))
                suspects[t["tid"]] = key
        self.suspects = suspects
    def _ready(self):
        try:
            if self.state != "placing":
                self._warn("klipper-pin: not active: " + self.reason)
                return
            self._check(self._threads())
        except Exception:
            logging.exception("klipper_pin: ready check failed")
    # get_status(): Moonraker's "klipper_pin" object
    def _entry(self, t):
        placed = t["placed"] or {}
        want = placed.get("want")
        return {
            "tid": t["tid"], "name": t.get("name"),
            "rule": placed.get("rule"), "event": placed.get("event"),
            "want": (_cpulist(want) if want is not None
                     else ("inherit" if placed else None)),
            "result": placed.get("result"),
            "cpus": _cpulist(t["cpus"]), "last_cpu": t.get("last_cpu"),
            "policy": t.get("policy"), "priority": t.get("priority"),
            "wait_ms": (round(t["wait_ns"] / 1e6, 3)
                        if t["wait_ns"] is not None else None),
            "flag": self._flag(t)}
    def _status(self):
        threads = [self._entry(t) for t in self._threads()]
        return {
            "active": self.state == "placing", "state": self.state,
            "reason": self.reason,
            # The table's config; "" is the built-in plan.
            "config": self.table.config,
            "off_plan": sum(1 for t in threads if t["flag"] == "moved"),
            "failed": sum(1 for t in threads if t["flag"] == "failed"),
            "threads": threads}
    def get_status(self, eventtime):
        if (self.last_status is None
                or eventtime - self.last_status_time >= STATUS_REFRESH
                or eventtime < self.last_status_time):
            try:
                self.last_status = self._status()
            except Exception:
                logging.exception("klipper_pin: get_status failed")
                if self.last_status is None:
                    self.last_status = {
                        "active": False, "state": "error",
                        "reason": "klipper_pin could not read the threads",
                        "config": None, "off_plan": 0, "failed": 0,
                        "threads": []}
            self.last_status_time = eventtime
        return self.last_status
    # stats(): a part of klippy.log's once-a-second Stats line
    def stats(self, eventtime):
        try:
            if self.state != "placing":
                return False, "klipper_pin: inactive"
            threads = self._threads(want_stat=False, want_migrations=True)
            self._check_names(threads)
            off = migrations = 0
            worst = 0.
            counts = {}
            for t in threads:
                if self._flag(t) in ("moved", "failed"):
                    off += 1
                before = self.last_counts.get(t["tid"], (None, None))
                if t["wait_ns"] is not None:
                    if before[0] is not None:
                        worst = max(worst, (t["wait_ns"] - before[0]) / 1e6)
                if t["migrations"] is not None and before[1] is not None:
                    migrations += max(0, t["migrations"] - before[1])
                counts[t["tid"]] = (t["wait_ns"], t["migrations"])
            self.last_counts = counts
            return False, ("klipper_pin: threads=%d off_plan=%d"
                           " migrations=%d max_wait_ms=%.3f"
                           % (len(threads), off, migrations, worst))
        except Exception:
            logging.exception("klipper_pin: stats failed")
            return False, ""
    def _check_names(self, threads):
        # The warnings want names; stats() reads none, so only the few
        # threads worth a warning get theirs.
        if all(self._flag(t) not in ("moved", "failed") for t in threads):
            self.suspects = {}
            return
        for t in threads:
            files = self.files.get(t["tid"])
            comm = files.read("comm") if files else None
            t["name"] = (comm.decode("utf-8", "replace").rstrip("\n")
                         if comm else None)
        self._check(threads)
    # KLIPPER_PIN_STATUS
    cmd_STATUS_help = "Show where klipper-pin placed each klippy thread"
    def cmd_STATUS(self, gcmd):
        try:
            status = self._status()
        except Exception:
            logging.exception("klipper_pin: KLIPPER_PIN_STATUS failed")
            raise gcmd.error("klipper_pin: could not read the threads"
                             " (see klippy.log)")
        if status["active"]:
            lines = ["klipper-pin: placing, plan %s"
                     % (status["config"] or "built-in",)]
        else:
            lines = ["klipper-pin: not active: %s" % (status["reason"],)]
        lines.append("%-7s %-15s %-14s %-6s %-6s %4s %-9s %9s %s" % (
            "tid", "name", "rule", "want", "cpus", "last", "policy",
            "rq-wait", "flag"))
        for t in status["threads"]:
            policy = t["policy"] or "?"
            if t["priority"]:
                policy = "%s/%d" % (policy, t["priority"])
            wait = ("%.1fms" % (t["wait_ms"],)
                    if t["wait_ms"] is not None else "-")
            flag = t["flag"]
            if flag == "failed":
                flag = "failed: " + t["result"]
            lines.append("%-7d %-15s %-14s %-6s %-6s %4s %-9s %9s %s" % (
                t["tid"], t["name"], t["rule"] or "-", t["want"] or "-",
                t["cpus"], "-" if t["last_cpu"] is None else t["last_cpu"],
                policy, wait, flag))
        gcmd.respond_info("\n".join(lines))

def load_config(config):
    return KlipperPin(config)
