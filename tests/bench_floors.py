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
for name, floor in run["FLOORS"].items():
    section = floor[-1]
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
        ("cli_append_corpus", "mb_per_s"): 240.0, ("jsonfast_parse_corpus", "mb_per_s"): 500.0,
        # always with 4 threads: missed on both; its bare group commit
        # misses the scaling bound and meets the latency one.
        ("always_4threads_1partition", "events_per_s"): 26000.0, ("always_1thread", "events_per_s"): 10000.0,
        ("always_4threads_1partition", "p99_us"): 300.0, ("fdatasync_4k", "fdatasync_p50_us"): 75.0,
        ("raw_groupcommit_4threads", "events_per_s"): 24000.0, ("raw_groupcommit_1thread", "events_per_s"): 12000.0,
        ("raw_groupcommit_4threads", "p99_us"): 195.0}

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
for want in ("2,000,000 over 6,000,000", "| 0.33 |", "| 0.83 |", "out of reach, the floor misses it", "| 1.15 |",
             run["FLOORS"]["append_batched_none"][-1]):
    if want not in row:
        fail(f"floor row lacks {want!r}: {row}")
if not any(l.startswith("bench=append_batched_none_floor ") and "bound_reachable=no" in l for l in machine):
    fail("no machine-readable floor line")
if not any(l.startswith("| CLI append (MB/s of JSON Lines) vs its own parser") and "none measured" in l
           for l in text.splitlines()):
    fail("a missed target without a floor is not said to have none")


def floor_row(label):
    rows = [l for l in text.split("## Targets not met")[1].splitlines() if l.startswith("| " + label + " |")]
    if len(rows) != 1:
        fail(f"{len(rows)} floor rows for {label!r}")
    return rows[0]


# A floor over its own baseline: the bare group commit's 4 threads over
# its 1 thread, not over siglog's.
row = floor_row("always: 4 threads / 1 partition vs 1 thread")
if "24000 over 12000 | 2.00 |" not in row or "out of reach" not in row or "| 1.08 |" not in row:
    fail(f"scaling floor row wrong: {row}")
row = floor_row("always: p99 latency, 4 threads vs median fdatasync (x3)")
if "195 over 75.00 | 2.60 |" not in row or "within reach of the floor" not in row:
    fail(f"latency floor row wrong: {row}")
row = floor_row("machine: raw group commit (sync and wake-ups only), 4 threads vs 1")
if "it is a floor" not in row:
    fail(f"a machine row is not called a floor: {row}")

# The CLI's append of JSON Lines has its floor once measured: the parser
# and LZ4 blocks on two threads, over the same parser alone.
cli = dict(missed)
cli[("jsonl_floor_corpus", "mb_per_s")] = 400.0
cli[("jsonl_floor_corpus", "cpu_mb_per_s")] = 300.0
cli[("jsonfast_parse_corpus", "cpu_mb_per_s")] = 700.0
cli[("cli_append_corpus", "cpu_mb_per_s")] = 210.0
text, machine = report(cli)
row = floor_row("CLI append (MB/s of JSON Lines) vs its own parser (simdjson fast path) alone")
for want in ("400 over 500", "| 0.80 |", "| 0.43 |", "within reach of the floor", "| 0.60 |", "| 0.70 |",
             run["FLOORS"]["cli_append_vs_jsonfast"][-1]):
    if want not in row:
        fail(f"CLI append floor row lacks {want!r}: {row}")
if not any(l.startswith("bench=cli_append_vs_jsonfast_floor ") and "bound_reachable=yes" in l for l in machine):
    fail("no machine-readable line of the CLI append floor")

# Two targets judging one figure against two baselines are both written.
shared = dict(missed)
shared[("durable_8partitions", "events_per_s")] = 900000.0
shared[("raw_1file_durable", "events_per_s")] = 1.0e6
shared[("lmdb_durable_8partitions", "events_per_s")] = 600000.0
text, machine = report(shared)
for label, ratio in (("durable 8 partitions, 1000-event batches vs raw_1file_durable", "| 0.90 |"),
                     ("durable 8 partitions LZ4 vs LMDB durable commits of the same batches", "| 1.50 |")):
    rows = [l for l in text.split("## Targets not met")[0].splitlines() if l.startswith("| " + label + " |")]
    if len(rows) != 1 or ratio not in rows[0]:
        fail(f"target {label!r} sharing its figure with another: {rows}")

# A rate target's floor is over the target's own bound: the NASA file's
# append at 200 MB/s against 250, its floor at 300.
nasa = dict(missed)
nasa[("cli_append_nasa", "mb_per_s")] = 200.0
nasa[("cli_append_nasa", "cpu_mb_per_s")] = 150.0
nasa[("jsonl_floor_nasa", "mb_per_s")] = 300.0
nasa[("jsonl_floor_nasa", "cpu_mb_per_s")] = 200.0
text, machine = report(nasa)
label = [t[0] for t in run["RATE_TARGETS"] if t[1] == "cli_append_nasa"][0]
row = [l for l in text.split("## Targets not met")[0].splitlines() if l.startswith("| " + label + " |")]
if len(row) != 1 or "| 200 | 250 | 0.80 | 0.60 | >= 1.0 | NO |" not in row[0]:
    fail(f"NASA rate target row wrong: {row}")
row = floor_row(label)
for want in ("300 over 250", "| 1.20 |", "| 0.80 |", "within reach of the floor", "| 0.67 |", "| 0.75 |"):
    if want not in row:
        fail(f"NASA floor row lacks {want!r}: {row}")
if not any(l.startswith("bench=cli_append_nasa_floor ") and "floor_baseline=250 " in l for l in machine):
    fail("no machine-readable line of the NASA floor")

# A floor at or above the bound says so.
reach = dict(missed)
reach[("raw_rolled", "events_per_s")] = 4.0e6
text, _ = report(reach)
if "within reach of the floor" not in text:
    fail("a floor above the bound is not called within reach")

# Met targets get no floor row; with none missed, no section.
met = {k: v for k, v in base.items()
       if k[0] not in ("cli_append_corpus", "jsonfast_parse_corpus", "always_4threads_1partition",
                       "raw_groupcommit_4threads")}
met[("append_batched_none", "events_per_s")] = 4.0e6
met[("append_batched_none", "cpu_events_per_s")] = 5.0e6
text, _ = report(met)
if "Targets not met" in text:
    fail("a floor section with every target met")
print("bench_floors: ok")
