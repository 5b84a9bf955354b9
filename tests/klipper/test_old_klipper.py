"""Klipper from before threads were named (before August 2025): the tree
copy with set_thread_name() made a no-op, so every thread stays python3;
the table's rule still tells which is which."""
import os
import re
import shutil
import subprocess

from klipper import PYTHON, read


def unnamed_tree(k):
    tree = os.path.join(k.work, "unnamed")
    if os.path.exists(tree):
        return tree
    shutil.copytree(k.tree, tree, symlinks=True)
    helper = os.path.join(tree, "klippy", "chelper", "pyhelper.c")
    with open(helper) as f:
        text = f.read()
    named = "return prctl(PR_SET_NAME, name);"
    assert named in text, "set_thread_name() is not as expected"
    with open(helper, "w") as f:
        f.write(text.replace(named, "(void)name; return 0;"))
    subprocess.run([PYTHON, "-c", "import chelper; chelper.get_ffi()"],
                   cwd=os.path.join(tree, "klippy"), check=True,
                   stdout=subprocess.DEVNULL)
    return tree


def test_unnamed_threads_placed_by_library_and_shown(context):
    k = context.klipper()
    run = k.batch(tree=unnamed_tree(k))
    log = read(os.path.join(run, "klippy.log"))
    rows = re.findall(r"^(\d+) +(\S+) +(\S+) ", log[log.index(
        "klipper-pin: placing"):], re.MULTILINE)
    names = {name for tid, name, rule in rows}
    assert names == {"python3"}, rows
    rules = [rule for tid, name, rule in rows]
    # The serial thread and four step threads, placed at creation by the
    # library rule alone.
    assert rules.count("chelper") == 5, rows
    assert rules.count("main") == 1, rows
