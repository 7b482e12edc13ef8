#!/usr/bin/env python3
"""readers_chaos -- proves that read-only processes tailing a store while
its writer is killed again and again (mid-append, and during recovery) never
crash (no SIGBUS from a mapping cut under them), never see a record that is
not exactly one of the written events, never see offsets out of order, and
never see an event that is not durable: every event any reader was handed
is, after the last recovery, still at the offset it was seen at,
byte-identical. Also that they keep following across writer restarts: once
the last writer closed cleanly, every reader reaches the end of every
partition. 8 crash_writer read processes (SIGLOG_CURSOR_FOLLOW cursors on
all 2 x 3 partitions) run for the whole test.
"""
import argparse
import os
import signal
import subprocess
import time

import crashlib
from crashlib import Failure

READY_TIMEOUT_S = 30
CATCH_UP_TIMEOUT_S = 60


def reader_status(i, proc, log):
    rc = proc.poll()
    if rc is None:
        return None
    if rc < 0:
        return f"reader {i} died of signal {signal.Signals(-rc).name}:\n" + crashlib.tail_of(log)
    return f"reader {i} exited with status {rc}:\n" + crashlib.tail_of(log)


def wait_for(pred, timeout_s, what):
    end = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > end:
            raise Failure(what)
        time.sleep(0.05)


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=crashlib.cycles_default(150))
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    seed, rng = crashlib.seeded_rng(args.seed)

    base = crashlib.fresh_dir(os.path.join(crashlib.BUILD_DIR, "readers_chaos"))
    store, acks, log = (os.path.join(base, n) for n in ("store", "acks", "writer.log"))
    crashlib.init_store(store)

    seen = [os.path.join(base, f"seen.{i}") for i in range(args.readers)]
    rlogs = [os.path.join(base, f"reader.{i}.log") for i in range(args.readers)]
    readers = []
    try:
        for i in range(args.readers):
            with open(rlogs[i], "wb") as rl:
                readers.append(crashlib.spawn([crashlib.WRITER, "read", store, seen[i]], rl))
        # A read-only open may run recovery under the writer lock; let them
        # all finish opening before a writer wants the lock.
        wait_for(lambda: all(crashlib.count_lines(s, "R") for s in seen) or
                 any(p.poll() is not None for p in readers),
                 READY_TIMEOUT_S, "readers did not start")

        def readers_alive(what):
            for i, p in enumerate(readers):
                bad = reader_status(i, p, rlogs[i])
                if bad:
                    raise Failure(f"{what}: {bad}")

        readers_alive("start")
        with open(log, "ab") as logf:
            for cycle in range(1, args.cycles + 1):
                what = f"seed {seed} cycle {cycle}"
                extra = ["--die-in-recovery"] if rng.random() < 0.2 else []
                delay = rng.uniform(0.005, 0.080)
                logf.write(f"--- {what}: delay {delay * 1e3:.1f} ms {' '.join(extra)}\n".encode())
                logf.flush()
                proc = crashlib.start_writer(store, acks, cycle, seed * 1000 + cycle, logf, extra)
                time.sleep(delay)
                crashlib.kill_writer(proc, what, log)
                readers_alive(what)

            live = [crashlib.count_lines(s, "S") for s in seen]
            print(f"during the kills the readers saw {live} records", flush=True)

            # A last writer recovers, appends a little and closes cleanly;
            # then every reader must reach the end of every partition.
            last = args.cycles + 1
            r = subprocess.run([crashlib.WRITER, "write", store, acks, "--run", str(last),
                                "--events", "20"], stdout=logf, stderr=logf)
            if r.returncode != 0:
                raise Failure(f"seed {seed}: the final writer failed:\n" + crashlib.tail_of(log))
        summary = crashlib.check(store, acks, f"seed {seed} before the readers stop")
        total = int(summary.split()[1])

        def caught_up():
            readers_alive("catching up")
            return all(crashlib.count_lines(s, "S") >= total for s in seen)

        try:
            wait_for(caught_up, CATCH_UP_TIMEOUT_S, "")
        except Failure:
            counts = [crashlib.count_lines(s, "S") for s in seen]
            raise Failure(f"seed {seed}: readers stopped following: they saw {counts} of "
                          f"{total} records within {CATCH_UP_TIMEOUT_S} s of the last append")

        for p in readers:
            p.send_signal(signal.SIGTERM)
        for i, p in enumerate(readers):
            p.wait()
            bad = reader_status(i, p, rlogs[i])
            if p.returncode != 0:
                raise Failure(f"seed {seed} at the end: {bad}")
        summary = crashlib.check(store, acks, f"seed {seed} with the readers' logs", seen=seen,
                                 append_run=1_000_000)
        print(f"{args.cycles} writer kills under {args.readers} readers; {summary}", flush=True)
    finally:
        for p in readers:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    crashlib.main(run)
