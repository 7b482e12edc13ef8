#!/usr/bin/env python3
"""bench/run measures a group of interleaved workloads again, whole, when
one of its baselines came out disturbed, at most REMEASURES times, and
lists every re-measurement in RESULTS.md. Fed made-up figures, not run."""
import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.argv = ["run", "--quick"]
run = runpy.run_path(os.path.join(ROOT, "bench", "run"), run_name="bench_run_under_test")
R = run["R"]


def fail(msg):
    sys.exit("bench_remeasure: " + msg)


def figures(workload, series):
    """A workload whose successive repetitions give the values of series."""
    it = iter(series)
    return (workload, lambda: {"events_per_s": next(it)})


reps = run["ARGS"].reps
calm = [100.0] * (3 * reps)
# raw is a baseline (of uncompressed append); its first group is disturbed.
burst = [100.0] * (reps - 1) + [300.0]
run["interleave"]([figures("append_batched_none", [50.0] * reps + [60.0] * (2 * reps)),
                   figures("raw", burst + calm)])
if R.samples[("raw", "events_per_s")] != [100.0] * reps:
    fail(f"the disturbed baseline was kept: {R.samples[('raw', 'events_per_s')]}")
if R.samples[("append_batched_none", "events_per_s")] != [60.0] * reps:
    fail("the other side of the ratio was not measured again with its baseline: "
         f"{R.samples[('append_batched_none', 'events_per_s')]}")
if len(R.remeasured) != 1 or "raw events_per_s spread 200 %" not in R.remeasured[0]:
    fail(f"the re-measurement is not recorded: {R.remeasured}")

# A group whose figures other than baselines spread is not measured again,
# and samples of earlier groups stay.
run["interleave"]([figures("durable_3streams_8partitions", [10.0] * (reps - 1) + [90.0])])
if len(R.samples[("durable_3streams_8partitions", "events_per_s")]) != reps or len(R.remeasured) != 1:
    fail("a group without a disturbed baseline was measured again")
if R.samples[("raw", "events_per_s")] != [100.0] * reps:
    fail("a later group dropped an earlier group's samples")

# Disturbed every time: measured 1 + REMEASURES times, the last kept, and
# the quiet-run check still fails on it.
always = [100.0] * (reps - 1) + [400.0]
run["interleave"]([figures("lmdb", always * (1 + run["REMEASURES"]) + calm)])
if len(R.remeasured) != 1 + run["REMEASURES"]:
    fail(f"a group disturbed every time was measured {len(R.remeasured)} extra times: {R.remeasured}")
if not any("baseline lmdb events_per_s spread 300 %" in w for w in run["quiet_check"](0.1)):
    fail("the quiet-run check passed a baseline disturbed in its last measurement")
R.add("append_batched_lz4", "seg_bytes_per_event", 100.0)  # what the report derives its disk figure from
R.add("append_batched_lz4", "index_bytes_per_event", 1.0)
out, _ = run["report"](0.1, 0.1, 1)
line = [l for l in out if l.startswith("- groups measured again")]
if len(line) != 1 or "raw (baseline raw events_per_s spread 200 %)" not in line[0]:
    fail(f"RESULTS.md does not list the re-measurements: {line}")
print("bench_remeasure: ok")
