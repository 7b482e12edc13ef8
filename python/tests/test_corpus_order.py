"""replay --order event-time on the shared corpus of real event data
(skipped when it is absent): each file's events, with their own times
where a line carries one, appended in a shuffled order across four
partitions, come out exactly as Python's sorted orders the plain replay's
events by (ts, partition, offset), in memory and spilling under a 1 MiB
budget; the spill directory is left empty."""
import json
import os
import random
import subprocess
import tempfile

import pytest

import siglog

SIGLOG = os.environ.get("SIGLOG_BIN")
CORPUS = os.environ.get("SIGLOG_CORPUS", "")
FILES = sorted(f for f in os.listdir(CORPUS) if f.endswith(".jsonl")) if os.path.isdir(CORPUS) else []
pytestmark = [pytest.mark.skipif(not SIGLOG, reason="SIGLOG_BIN names no siglog binary"),
              pytest.mark.skipif(not FILES, reason="the shared corpus is absent (SIGLOG_CORPUS)")]
TIME_FIELDS = ("Time", "time", "timestamp", "ts", "created_at", "date")
BASE = 1_600_000_000_000_000
LINES_PER_FILE = 20_000


def event_time(line, i):
    """The line's own time where a top-level field holds one as seconds or
    microseconds since the epoch, else one a second per three lines (ties)."""
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        for name in TIME_FIELDS:
            t = obj.get(name)
            if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0:
                return int(t * 1_000_000) if t < 1e11 else int(t)
    return BASE + (i // 3) * 1_000_000


@pytest.fixture(scope="module")
def store_path():
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-corpus-", dir=root)
    rng = random.Random(15)
    with siglog.open(d, read_only=False, create=True) as s:
        for n, name in enumerate(FILES):
            with open(os.path.join(CORPUS, name), "rb") as f:
                lines = f.read().splitlines()[:LINES_PER_FILE]
            events = [{"key": f"k{rng.randrange(1000)}", "ts": event_time(line, i), "value": line}
                      for i, line in enumerate(lines) if line]
            rng.shuffle(events)
            s.create_stream(f"c{n}", partitions=4).append(events)
    return d


def jsonl(*args):
    r = subprocess.run([SIGLOG, "replay", *args], capture_output=True)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.mark.parametrize("n", range(len(FILES)))
@pytest.mark.parametrize("memory", ["256MiB", "1MiB"])
def test_event_time_order_is_pythons_sorted(store_path, tmp_path, n, memory):
    key = lambda e: (e["ts"], e["partition"], e["offset"])  # noqa: E731
    plain = jsonl(store_path, f"c{n}")
    got = jsonl(store_path, f"c{n}", "--order", "event-time", "--memory", memory, "--spill-dir", str(tmp_path))
    assert got == sorted(plain, key=key) and len(got) == len(plain) > 0, FILES[n]
    assert got != plain  # shuffled: the order is the sort's doing
    assert os.listdir(tmp_path) == []
