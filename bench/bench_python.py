#!/usr/bin/python3
"""bench_python - the Python module's read rates, and the event-time sort.

    SIGLOG_LIBRARY=build/engine/libsiglog.so PYTHONPATH=python \\
        python3 bench/bench_python.py --mode=iterate|pandas|sort --dir=DIR [--events=N]
        [--build=0] [--siglog=build/tools/siglog] [--bench-replay=build/bench/bench_replay]

One repetition, one key=value line (bench/run repeats and reports):
  iterate  events_per_s: Events handed to Python code (value touched);
           cursor_events_per_s: the C cursor over the same store, one
           siglog_cursor_next per record, each value's length summed
           (bench_replay --mode=all, run from here in the same repetition:
           --bench-replay names it), the baseline the target is worded
           against: ratio = events_per_s / cursor_events_per_s (target: at
           least 0.25); c_events_per_s: the batch call alone
           (siglog_cursor_next_batch, the C cursor reading and copying, one
           foreign call per 4096 records), what the module itself calls,
           and batch_ratio = events_per_s / c_events_per_s;
           floor_events_per_s: the same number of Events made with nothing
           else to do (floor_rate), the ceiling of any module that builds
           Events in Python, and floor_ratio = that / cursor_events_per_s.
  pandas   rows_per_s: Replay.to_pandas() of the whole store, pandas
           already imported (target: at least 1,000,000).
Rates are of wall time; cpu_* are the same of this process's CPU time,
the figure to trust on a machine other programs load.
  sort     events_per_s of `siglog replay --order event-time --memory
           16MiB` over a store whose times are shuffled across partitions,
           and plain_events_per_s of the same replay in partition order.
The store (4 partitions, about 120-byte JSON values, times shuffled) is
built in DIR unless --build=0 says it is there from an earlier run.
"""
import argparse
import ctypes
import os
import random
import subprocess
import time
from array import array
from itertools import repeat

import siglog
from siglog import _lib
from siglog._event import Event

# The store's one stream: the name bench_replay reads (bench_open_reader).
STREAM = "s0"


def build(path, events):
    rng = random.Random(14)
    with siglog.open(path, read_only=False, create=True) as s:
        st = s.create_stream(STREAM, partitions=4, sync_policy=0)
        for start in range(0, events, 10000):
            st.append([{"key": f"user-{i % 1000}", "ts": 1_700_000_000_000_000 + rng.randrange(10**10),
                        "value": b'{"user":%d,"item":%d,"score":0.%d,"model":"ranker-v3","outcome":"accepted"}'
                                 % (i % 1000, i, i % 97)}
                       for i in range(start, min(events, start + 10000))])


class Clock:
    """Wall and process CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, n):
        """n per wall second, n per CPU second."""
        return n / (time.perf_counter() - self.wall), n / (time.process_time() - self.cpu)


def c_rate(stream):
    """Records per wall and per CPU second of siglog_cursor_next_batch alone."""
    recs = (_lib.Record * 4096)()
    buf = ctypes.create_string_buffer(1 << 20)
    used = ctypes.c_size_t()
    n = 0
    clock = Clock()
    for p in range(4):
        cur = ctypes.c_void_p()
        _lib.check(_lib.lib.siglog_cursor_open(ctypes.byref(cur), stream._handle, p, _lib.SEEK_START, 0, 0))
        while True:
            got = _lib.check(_lib.lib.siglog_cursor_next_batch(cur, recs, 4096, buf, len(buf), ctypes.byref(used)))
            if not got:
                break
            n += got
        _lib.lib.siglog_cursor_close(cur)
    return n, clock.rates(n)


def cursor_rate(program, path, n):
    """Records per wall and per CPU second of the C cursor alone
    (siglog_cursor_next per record over every partition, in bench_replay,
    which times its reading loop only and reads stream STREAM)."""
    out = subprocess.run([program, "--mode=all", "--build=0", "--keep=1", "--dir=" + path],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    fields = dict(f.split("=", 1) for f in out.split())
    if int(fields["events"]) != n:
        raise SystemExit(f"bench_replay read {fields['events']} events, the batch call {n}")
    return float(fields["events_per_s"]), float(fields["cpu_events_per_s"])


def floor_rate(n, key_len=8, value_len=90, batch=4096):
    """Events per wall and per CPU second when making them is all there is:
    per event the objects an Event of this store holds that no cache
    provides (key and value as new bytes, offset and ts_us as new ints,
    the Event tuple), made in the module's cheapest way (C-level map and
    zip over columns of a batch) from positions computed beforehand, then
    the iterate loop's body. Locating the bytes in the batch buffer, which
    any real module must do per record, is left out: the module can only
    be slower."""
    per = key_len + value_len
    blob = bytes(range(256)) * (batch * per // 256 + 1)
    keys = [slice(i * per, i * per + key_len) for i in range(batch)]
    values = [slice(i * per + key_len, (i + 1) * per) for i in range(batch)]
    numbers = array("q", range(1 << 40, (1 << 40) + batch))  # past the small ints Python caches
    clock = Clock()
    total = done = 0
    while done < n:
        m = min(batch, n - done)
        rows = zip(repeat(0, m), numbers.tolist(), numbers.tolist(), map(blob.__getitem__, keys), repeat(1),
                   repeat(()), map(blob.__getitem__, values), repeat(False), repeat("b"), repeat(False))
        for e in map(tuple.__new__, repeat(Event), rows):
            total += len(e.value)
        done += m
    return clock.rates(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["iterate", "pandas", "sort"], required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--build", type=int, default=1)
    ap.add_argument("--siglog", default="build/tools/siglog")
    ap.add_argument("--bench-replay", default="build/bench/bench_replay")
    a = ap.parse_args()
    if a.build:
        subprocess.run(["rm", "-rf", a.dir], check=True)
        build(a.dir, a.events)
    if a.mode == "sort":
        def replay(*extra):
            t = time.perf_counter()
            out = subprocess.run([a.siglog, "replay", a.dir, STREAM, "--format", "binary", *extra],
                                 stdout=subprocess.PIPE, check=True).stdout
            return len(out), time.perf_counter() - t
        spill = a.dir + "-spill"
        os.makedirs(spill, exist_ok=True)
        _, plain = replay()
        _, sorted_secs = replay("--order", "event-time", "--memory", "16MiB", "--spill-dir", spill)
        print(f"events={a.events} events_per_s={a.events / sorted_secs:.0f} plain_events_per_s={a.events / plain:.0f}")
        return
    with siglog.open(a.dir) as s:
        st = s.stream(STREAM)
        if a.mode == "pandas":
            import pandas  # noqa: F401 (loaded before the clock starts: its import is no conversion)
            clock = Clock()
            df = st.replay().to_pandas()
            wall, cpu = clock.rates(len(df))
            print(f"events={len(df)} rows_per_s={wall:.0f} cpu_rows_per_s={cpu:.0f}")
            return
        n, (c, c_cpu) = c_rate(st)
        cur, cur_cpu = cursor_rate(a.bench_replay, a.dir, n)
        clock = Clock()
        total = 0
        for e in st.replay():
            total += len(e.value)
        py, py_cpu = clock.rates(n)
        floor, floor_cpu = floor_rate(n)
        print(f"events={n} events_per_s={py:.0f} cursor_events_per_s={cur:.0f} ratio={py / cur:.3f} "
              f"cpu_events_per_s={py_cpu:.0f} cpu_cursor_events_per_s={cur_cpu:.0f} cpu_ratio={py_cpu / cur_cpu:.3f} "
              f"c_events_per_s={c:.0f} cpu_c_events_per_s={c_cpu:.0f} "
              f"batch_ratio={py / c:.3f} cpu_batch_ratio={py_cpu / c_cpu:.3f} "
              f"floor_events_per_s={floor:.0f} cpu_floor_events_per_s={floor_cpu:.0f} "
              f"floor_ratio={floor / cur:.3f} cpu_floor_ratio={floor_cpu / cur_cpu:.3f}")

if __name__ == "__main__":
    main()
