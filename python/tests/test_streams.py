"""store.replay(streams=[...]): several streams read as one give what
`siglog replay STORE S1,S2,S3` gives (the same events in the same order,
each naming its stream) in every order and with filters; key=K follows one
correlation key across the streams, compared with a join of the streams'
own replays; event-time order is Python's sorted over all of them."""
import json
import os
import random
import subprocess
import tempfile

import pytest

import siglog

SIGLOG = os.environ.get("SIGLOG_BIN")
BASE = 1_700_000_000_000_000
NAMES = ["outcomes", "clicks", "decisions"]  # not in name order: the order given is the reading order


@pytest.fixture(scope="module")
def store_path():
    """Three streams of an interaction each, joined by key "sN", their
    times out of order (many ties) and with headers on some."""
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-streams-", dir=root)
    rng = random.Random(3)
    with siglog.open(d, read_only=False, create=True) as s:
        for n, name in enumerate(NAMES):
            s.create_stream(name, partitions=n + 2).append(
                {"key": f"s{rng.randrange(40)}", "ts": BASE + rng.randrange(5000) * 10,
                 "value": {"stream": name, "i": i}, "headers": [("step", name)] if i % 3 else []}
                for i in range(700))
    return d


def ident(stream, partition, offset):
    return (stream, partition, offset)


def cli(store_path, *options):
    r = subprocess.run([SIGLOG, "replay", store_path, ",".join(NAMES), *options], capture_output=True)
    assert r.returncode == 0, r.stderr
    return [ident(e["stream"], e["partition"], e["offset"]) for e in map(json.loads, r.stdout.splitlines())]


@pytest.mark.skipif(not SIGLOG, reason="SIGLOG_BIN names no siglog binary")
@pytest.mark.parametrize("kwargs,options", [
    ({}, []),
    ({"order": "merge"}, ["--merge"]),
    ({"order": "event-time"}, ["--order", "event-time"]),
    ({"order": "event-time", "memory": 1 << 20}, ["--order", "event-time", "--memory", "1MiB"]),
    ({"order": "merge", "key": "s7"}, ["--merge", "--key", "s7"]),
    ({"partitions": [1, 0], "from_offset": 30, "to_offset": 200, "from_time": BASE + 10_000},
     ["--partition", "1", "--partition", "0", "--from-offset", "30", "--to-offset", "200",
      "--from-time", str(BASE + 10_000), "--time-unit", "us"]),
])
def test_the_streams_read_as_one_are_what_the_tool_gives(store_path, kwargs, options):
    with siglog.open(store_path) as s:
        got = [ident(e.stream, e.partition, e.offset) for e in s.replay(NAMES, **kwargs)]
    assert got == cli(store_path, *options) and got


def test_a_key_across_streams_is_the_join_of_each_streams_events(store_path):
    with siglog.open(store_path) as s:
        joined = sorted((e.ts_us, e.stream, e.partition, e.offset, e.value)
                        for name in NAMES for e in s.stream(name).replay() if e.key == b"s7")
        got = [(e.ts_us, e.stream, e.partition, e.offset, e.value)
               for e in s.replay(",".join(NAMES), key="s7", order="event-time")]
        assert got == joined and {g[1] for g in got} == set(NAMES)


def test_event_time_order_is_pythons_sorted_over_all_streams(store_path):
    with siglog.open(store_path) as s:
        everything = [(e.ts_us, e.stream, e.partition, e.offset) for name in NAMES for e in s.stream(name).replay()]
        got = [(e.ts_us, e.stream, e.partition, e.offset) for e in s.replay(NAMES, order="event-time")]
    assert got == sorted(everything) and len(got) == 3 * 700


def test_misuse_is_refused(store_path, tmp_path):
    with siglog.open(store_path) as s:
        with pytest.raises(ValueError):
            s.replay(["clicks", "clicks"])
        with pytest.raises(ValueError):
            s.replay(NAMES, manifest=tmp_path / "m.json")
        with pytest.raises(siglog.Error) as e:
            s.replay(["clicks", "nosuch"])
        assert e.value.name == "ENOENT"
