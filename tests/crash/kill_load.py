#!/usr/bin/env python3
"""kill_load -- proves that SIGKILL of a writer process at any moment loses
no acknowledged event and leaves a store that opens, reads back densely and
takes appends: a real crash_writer process (2 threads, 2 streams x 3
partitions, sync=always, 256 KiB segments, 1 MiB journal) is killed after a
random few milliseconds, again and again, on the same store; some writers
are killed during their own open, i.e. during crash recovery (at a random
moment, or from inside recovery at the first repair it reports). Every 10
cycles and at the end, crash_writer check proves every acknowledged event
present, byte-identical, at its offset, and appends one more per partition.
"""
import argparse
import os
import statistics
import time

import crashlib
from crashlib import Failure


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=crashlib.cycles_default(200))
    ap.add_argument("--seed", type=int)
    ap.add_argument("--check-every", type=int, default=10)
    args = ap.parse_args()
    seed, rng = crashlib.seeded_rng(args.seed)

    base = crashlib.fresh_dir(os.path.join(crashlib.BUILD_DIR, "kill_load"))
    store, acks, log = (os.path.join(base, n) for n in ("store", "acks", "writer.log"))
    crashlib.init_store(store)

    open_times = [3000]  # us; refined from the writers' O lines
    killed_in_open = 0
    recovery_kills = 0
    check_run = 1_000_000
    with open(log, "ab") as logf:
        for cycle in range(1, args.cycles + 1):
            what = f"seed {seed} cycle {cycle}"
            mode = rng.random()
            extra = []
            if mode < 0.15:
                # Somewhere in open, which is recovery after the last kill.
                delay = rng.uniform(0, 1.5 * statistics.median(open_times)) / 1e6
                recovery_kills += 1
            elif mode < 0.30:
                extra = ["--die-in-recovery"]
                delay = rng.uniform(0.002, 0.030)
                recovery_kills += 1
            elif mode < 0.40:
                delay = rng.uniform(0.100, 0.300)  # long enough to roll segments
            else:
                delay = rng.uniform(0.002, 0.030)
            logf.write(f"--- {what}: delay {delay * 1e3:.1f} ms {' '.join(extra)}\n".encode())
            logf.flush()
            proc = crashlib.start_writer(store, acks, cycle, seed * 1000 + cycle, logf, extra)
            time.sleep(delay)
            crashlib.kill_writer(proc, what, log)
            opened = crashlib.open_runs(acks)
            if cycle in opened:
                open_times.append(opened[cycle])
            else:
                killed_in_open += 1
            if cycle % args.check_every == 0 or cycle == args.cycles:
                check_run += 1
                try:
                    summary = crashlib.check(store, acks, what, append_run=check_run)
                except Failure:
                    crashlib.keep_evidence(store, os.path.join(base, f"failed-store-cycle{cycle}"))
                    raise
                print(f"cycle {cycle}: {summary}", flush=True)
    in_recovery = crashlib.count_lines(log, "killed in recovery")
    print(f"{args.cycles} kills, {recovery_kills} aimed at recovery, {killed_in_open} before open "
          f"finished, {in_recovery} of them from inside recovery; median open "
          f"{statistics.median(open_times) / 1e3:.1f} ms", flush=True)


if __name__ == "__main__":
    crashlib.main(run)
