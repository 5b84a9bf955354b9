"""The module's struct layout of the placement table against the C
compiler's (shim/record.h), on this machine and, when their compilers are
installed, on 64-bit and 32-bit ARM. Needs no Klipper."""
import importlib.util
import os
import shutil
import subprocess
import tempfile

from klipper import MODULE, REPO, Skip


def module():
    spec = importlib.util.spec_from_file_location("klipper_pin", MODULE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def assertions(m):
    """C that fails to compile where the module's layout is not the C
    one."""
    fields = [
        ("struct record_table", "magic", 0), ("struct record_table", "pid", 8),
        ("struct record_table", "slot_count", 12),
        ("struct record_table", "config", 16),
        ("struct record_table", "children_bytes", 272),
        ("struct record_table", "children", 276),
        ("struct record_table", "slots", m.SLOTS_OFFSET),
        ("struct record_slot", "sequence", 0),
        ("struct record_slot", "tid", 4 * m.TID_WORD),
        ("struct record_slot", "seq", 8), ("struct record_slot", "event", 16),
        ("struct record_slot", "rule", 24),
        ("struct record_slot", "result", 72),
        ("struct record_slot", "want_bytes", 112),
        ("struct record_slot", "want", 116),
    ]
    lines = ['#include "record.h"']
    for struct, field, offset in fields:
        lines.append(f"_Static_assert(offsetof({struct}, {field}) == "
                     f"{offset}, \"{field}\");")
    # The offsets above are the module's struct formats, read back.
    lines += [
        f"_Static_assert(sizeof(struct record_slot) == {m.SLOT.size}, "
        "\"slot size\");",
        f"_Static_assert(sizeof(struct record_table) == {m.TABLE_SIZE}, "
        "\"table size\");",
        f"_Static_assert(RECORD_SLOTS == {m.RECORD_SLOTS}, \"slots\");",
        f"_Static_assert(RECORD_MASK_BYTES == {m.RECORD_MASK_BYTES}, "
        "\"mask\");",
        f"_Static_assert(RECORD_MAGIC == {m.RECORD_MAGIC:#x}ull, \"magic\");",
        f"_Static_assert(sizeof(RECORD_NAME) == {len(m.RECORD_NAME) + 1}, "
        "\"name\");",
    ]
    return "\n".join(lines) + "\n"


def formats_agree(m):
    # The struct formats give the offsets the assertions name.
    import struct
    slot = "=IiQ8s48s40sI128s4x"
    assert m.SLOT.format == slot and m.SLOT.size == 248, m.SLOT.format
    assert struct.calcsize("=IiQ8s48s40s") == 112
    assert m.HEADER.size == 408 and m.SLOTS_OFFSET % 8 == 0


def compile_with(cc, source):
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "layout.c")
        with open(path, "w") as f:
            f.write(source)
        result = subprocess.run(
            [cc, "-std=c11", "-c", "-o", os.path.join(work, "layout.o"),
             "-I", os.path.join(REPO, "shim"), path],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert result.returncode == 0, f"{cc}:\n{result.stdout}"


def test_layout_matches_record_h_here(context):
    m = module()
    formats_agree(m)
    compile_with(os.environ.get("CC", "cc"), assertions(m))


def test_layout_matches_record_h_on_arm64_and_armhf(context):
    m = module()
    found = [cc for cc in ("aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc")
             if shutil.which(cc)]
    if not found:
        raise Skip("no aarch64-linux-gnu-gcc or arm-linux-gnueabihf-gcc")
    for cc in found:
        compile_with(cc, assertions(m))
    if len(found) < 2:
        raise Skip(f"only {found[0]} is installed")
