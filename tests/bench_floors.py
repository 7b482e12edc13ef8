#!/usr/bin/env python3
"""bench/run writes, for every target row marked NO, the same-run floor
that bounds it and the bench/ANALYSIS.md section holding its profile, and
says so when a missed target has no floor. Fed made-up figures, not run."""
import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.argv = ["run", "--quick"]
run = runpy.run_path(os.path.join(ROOT, "bench", "run"), run_name="bench_run_under_test")


def fail(msg):
    sys.exit("bench_floors: " + msg)


# Every floor names a section bench/ANALYSIS.md has.
with open(os.path.join(ROOT, "bench", "ANALYSIS.md")) as f:
    headings = {line.lstrip("#").strip() for line in f if line.startswith("#")}
for name, (_, _, _, section) in run["FLOORS"].items():
    if section not in headings:
        fail(f"floor of {name} points to a section bench/ANALYSIS.md lacks: {section!r}")


def report(figures):
    R = run["R"]
    R.samples.clear()
    R.order.clear()
    for (w, f), v in figures.items():
        R.add(w, f, v)
    out, machine = run["report"](0.1, 0.1, 1)
    return "\n".join(out), machine


base = {("append_batched_lz4", "seg_bytes_per_event"): 100.0, ("append_batched_lz4", "index_bytes_per_event"): 1.0,
        ("raw", "events_per_s"): 6.0e6, ("raw", "cpu_events_per_s"): 6.0e6,
        ("raw_rolled", "events_per_s"): 2.0e6, ("raw_rolled", "cpu_events_per_s"): 5.0e6,
        ("cli_append_corpus", "mb_per_s"): 240.0, ("jsonfast_parse_corpus", "mb_per_s"): 500.0}

# Missed, with a floor under the bound; another missed without one.
missed = dict(base)
missed[("append_batched_none", "events_per_s")] = 2.3e6
missed[("append_batched_none", "cpu_events_per_s")] = 4.5e6
text, machine = report(missed)
if "## Targets not met: their same-run floors" not in text:
    fail("no floor section for a missed target")
rows = [l for l in text.splitlines() if l.startswith("| batched append, no compression vs raw write |")]
floor_rows = [r for r in rows if "raw_rolled" in r or "out of reach" in r]
if len(floor_rows) != 1:
    fail("the missed uncompressed append has no floor row: %r" % rows)
row = floor_rows[0]
for want in ("2,000,000", "| 0.33 |", "| 0.83 |", "out of reach, the floor misses it", "| 1.15 |",
             run["FLOORS"]["append_batched_none"][3]):
    if want not in row:
        fail(f"floor row lacks {want!r}: {row}")
if not any(l.startswith("bench=append_batched_none_floor ") and "bound_reachable=no" in l for l in machine):
    fail("no machine-readable floor line")
if not any(l.startswith("| CLI append (MB/s of JSON Lines) vs its own parser") and "none measured" in l
           for l in text.splitlines()):
    fail("a missed target without a floor is not said to have none")

# A floor at or above the bound says so.
reach = dict(missed)
reach[("raw_rolled", "events_per_s")] = 4.0e6
text, _ = report(reach)
if "within reach of the floor" not in text:
    fail("a floor above the bound is not called within reach")

# Met targets get no floor row; with none missed, no section.
met = {k: v for k, v in base.items() if k[0] not in ("cli_append_corpus", "jsonfast_parse_corpus")}
met[("append_batched_none", "events_per_s")] = 4.0e6
met[("append_batched_none", "cpu_events_per_s")] = 5.0e6
text, _ = report(met)
if "Targets not met" in text:
    fail("a floor section with every target met")
print("bench_floors: ok")
