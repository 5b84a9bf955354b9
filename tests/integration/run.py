"""Runs every test_* function of tests/integration/test_*.py, each given a
Runner, and ends with one line: "integration: N passed, N failed, N skipped".
tests/cross/test_arm.py runs the same tests, with an ARM Build, through
all_tests and run_tests.

Usage: run.py BUILD_DIR [NAME_FILTER]"""
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def tests_in(path):
    spec = importlib.util.spec_from_file_location(
        os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in sorted(vars(module)):
        if name.startswith("test_") and callable(getattr(module, name)):
            yield f"{module.__name__}.{name}", getattr(module, name)


def all_tests(wanted=""):
    """(name, function) of every test here, "test_file.test_name", in
    order; with wanted, only those whose name contains it."""
    found = []
    for file in sorted(os.listdir(HERE)):
        if file.startswith("test_") and file.endswith(".py"):
            found += [(name, test) for name, test
                      in tests_in(os.path.join(HERE, file)) if wanted in name]
    return found


def run_tests(build, tests, excluded=None, label=""):
    """Runs each (name, function) of tests with a Runner of build, one line
    each ("ok", "FAIL" and the traceback, "SKIP" and why, label before the
    name); a name in excluded is not run but skipped with the reason it
    maps to. Returns (passed, failed, skipped)."""
    excluded = excluded or {}
    label = label + " " if label else ""
    passed = failed = skipped = 0
    for name, test in tests:
        if name in excluded:
            skipped += 1
            print(f"SKIP {label}{name}: {excluded[name]}")
            continue
        runner = harness.Runner(build)
        started = time.monotonic()
        try:
            test(runner)
        except harness.Skip as reason:
            skipped += 1
            print(f"SKIP {label}{name}: {reason}")
        except Exception:  # a failed test, whatever it raised
            failed += 1
            print(f"FAIL {label}{name}")
            print("  " + traceback.format_exc().rstrip().replace("\n", "\n  "))
        else:
            passed += 1
            print(f"ok   {label}{name} ({time.monotonic() - started:.2f}s)")
        finally:
            runner.close()
        sys.stdout.flush()
    return passed, failed, skipped


def main():
    build = harness.Build(sys.argv[1])
    wanted = sys.argv[2] if len(sys.argv) > 2 else ""
    passed, failed, skipped = run_tests(build, all_tests(wanted))
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
