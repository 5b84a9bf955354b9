"""Many threads at once: 16 creators making 1,000 threads each, half of
which name themselves, while another thread renames the creators and
another forks. Every thread placed by its rule, counts exact, no deadlock
(the harness's timeout ends a hung run)."""
import collections

from harness import (THREAD_SANITIZED, VALGRIND, expect, expect_equal, need_cpus,
                     need_own_pthread_create)

PLAN = """
[main]
cpus: 0
[thread named]
match_name: worker*
cpus: 1
[thread ctl]
match_name: ctl-a
cpus: 0
[thread leaves]
match_symbol: stress_leaf
spread: 0-1
[thread others]
cpus: 0-1
[children]
cpus: 0
"""


def test_sixteen_creators_renames_and_forks_at_once(run):
    need_cpus(2)
    need_own_pthread_create()  # its leaves are matched by symbol
    each = 250 if THREAD_SANITIZED or VALGRIND else 1000
    # Under valgrind a forked child's exit status is valgrind's own (the
    # other threads' allocations in flight at the fork count as lost).
    forks = 0 if VALGRIND else 20
    result = run.launch([run.build.concurrency, "stress", "16", str(each),
                         str(forks)], PLAN, timeout=600)
    expect_equal(result.code, 0, f"exit status ({result.stderr[-2000:]})")
    line, = result.lines("stress")
    leaves = 16 * each
    expect_equal(line["leaves"], str(leaves), "threads that ran")
    expect_equal(line["misplaced"], "0", "threads not where their rule put them")
    expect_equal(line["forks_ok"], str(forks), "forked children on [children]")
    expect(int(line["renames"]) > 0, "the renamer renamed")

    count = collections.Counter((e["event"], e["rule"], e["cpus"])
                                for e in result.events)
    # spread is fair under contention: exactly half on each CPU
    expect_equal(count[("thread", "leaves", "0")], leaves // 2, "spread to 0")
    expect_equal(count[("thread", "leaves", "1")], leaves // 2, "spread to 1")
    expect_equal(count[("rename", "named", "1")], leaves // 2,
                 "every thread that named itself placed again")
    expect(count[("rename", "ctl", "0")] > 0, "creators renamed by another")
    expect_equal(sum(v for (event, _, _), v in count.items()
                     if event == "child"), forks, "child events")
    seqs = collections.Counter(e["seq"] for e in result.events
                               if e["event"] == "thread")
    wanted = range(1, leaves + 19)  # 16 creators, renamer and forker
    expect_equal(([n for n in wanted if n not in seqs],
                  sorted(n for n, times in seqs.items() if times > 1),
                  sorted(n for n in seqs if n not in wanted)),
                 ([], [], []), "creation numbers missing, twice, beyond")
    expect(all(e["result"] == "ok" for e in result.events
               if e["event"] != "config"), "every placement ok")
