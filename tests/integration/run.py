"""Runs every test_* function of tests/integration/test_*.py, each given a
Runner, and ends with one line: "integration: N passed, N failed, N skipped".

Usage: run.py BUILD_DIR [NAME_FILTER]"""
import importlib.util
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def tests_in(path):
    spec = importlib.util.spec_from_file_location(
        os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in sorted(vars(module)):
        if name.startswith("test_") and callable(getattr(module, name)):
            yield f"{module.__name__}.{name}", getattr(module, name)


def main():
    build = harness.Build(sys.argv[1])
    wanted = sys.argv[2] if len(sys.argv) > 2 else ""
    here = os.path.dirname(os.path.abspath(__file__))
    passed = failed = skipped = 0
    for file in sorted(os.listdir(here)):
        if not (file.startswith("test_") and file.endswith(".py")):
            continue
        for name, test in tests_in(os.path.join(here, file)):
            if wanted not in name:
                continue
            runner = harness.Runner(build)
            started = time.monotonic()
            try:
                test(runner)
            except harness.Skip as reason:
                skipped += 1
                print(f"SKIP {name}: {reason}")
            except Exception:  # a failed test, whatever it raised
                failed += 1
                print(f"FAIL {name}")
                print("  " + traceback.format_exc().rstrip().replace("\n", "\n  "))
            else:
                passed += 1
                print(f"ok   {name} ({time.monotonic() - started:.2f}s)")
            finally:
                runner.close()
            sys.stdout.flush()
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
