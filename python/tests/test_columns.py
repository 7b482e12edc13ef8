"""The column path: Replay.to_pandas() builds its DataFrame from batches of
columns, without an Event per row. On random stores (two streams, keys
absent on some events, headers, tombstones, empty values, several
segments per partition, one segment removed so a partition has a hole
read with allow_gaps) every column of the frame must hold exactly what
iterating the same replay gives, for every order, filter and batch size,
since iteration is what the other tests check against what was appended."""
import glob
import json
import os
import random
import tempfile

import pytest

import siglog

pandas = pytest.importorskip("pandas")

BASE = 1_700_000_000_000_000
PARTITIONS = 3


def random_event(i, rng):
    value = {"i": i, "user": f"u{i % 7}", "pad": "x" * rng.randrange(200)}
    e = {"ts": BASE + rng.randrange(10**9), "schema_version": rng.randrange(3),
         "value": rng.choice([b"", b"\xff\xfe not UTF-8", value])}
    if rng.random() < 0.8:
        e["key"] = f"k{rng.randrange(20)}"
    if rng.random() < 0.2:
        e["headers"] = [("service", rng.choice(["a", "b"])), ("tenant", str(rng.randrange(3)))]
    if rng.random() < 0.05:
        e["tombstone"] = True
    return e


@pytest.fixture(scope="module", params=[14, 15])
def store_path(request):
    """Streams "a" (9000 events, a hole in partition 1) and "b" (2500)."""
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-columns-", dir=root)
    rng = random.Random(request.param)
    with siglog.open(d, read_only=False, create=True) as s:
        for name, n in (("a", 9000), ("b", 2500)):
            st = s.create_stream(name, partitions=PARTITIONS, segment_bytes_max=64 * 1024, compression=0)
            for start in range(0, n, 1000):
                st.append([random_event(i, rng) for i in range(start, start + 1000)])
    segments = sorted(glob.glob(os.path.join(d, "streams", "a", "00001", "*.seg")))
    assert len(segments) >= 3
    for f in glob.glob(segments[1][:-len(".seg")] + ".*"):
        os.unlink(f)  # a missing segment: a hole in partition 1's offsets
    return d


def frame_rows(df):
    """The frame's rows as Event-ordered tuples of plain Python values."""
    cols = [df[c].tolist() for c in siglog.Event._fields]
    return [tuple(row) for row in zip(*cols)]


CASES = [
    {},
    {"order": "merge"},
    {"order": "event-time"},
    {"key": "k3"},
    {"from_time": BASE + 200_000_000, "to_time": BASE + 700_000_000},
    {"schema_version": 1, "partitions": [2, 0]},
    {"from_offset": 500, "to_offset": 1700, "batch_bytes": 4096},
    {"to_offset": 1, "order": "merge"},
    {"key": b"k5", "order": "event-time", "batch_bytes": 2048},
    {"batch_bytes": 1024},
]


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("streams", [["a"], ["a", "b"]])
def test_to_pandas_holds_what_iteration_gives(store_path, streams, kwargs):
    with siglog.open(store_path) as s:
        events = list(s.replay(streams, allow_gaps=True, **kwargs))
        df = s.replay(streams, allow_gaps=True, **kwargs).to_pandas()
    assert len(events) > 0 or kwargs.get("to_offset") == 1
    assert frame_rows(df) == [tuple(e) for e in events]
    assert df["ts"].tolist() == [pandas.Timestamp(e.ts) for e in events]
    assert [str(df[c].dtype) for c in ("partition", "offset", "ts_us", "schema_version", "tombstone")] == \
        ["int32", "int64", "int64", "uint32", "bool"]


def test_the_hole_is_an_error_without_allow_gaps(store_path):
    with siglog.open(store_path) as s:
        with pytest.raises(siglog.Error) as e:
            s.stream("a").replay(partitions=[1]).to_pandas()
    assert e.value.name == "ECORRUPT"


def test_values_as_str_and_json_fields_only_on_request(store_path):
    with siglog.open(store_path) as s:
        events = list(s.stream("b").replay())
        df = s.stream("b").replay().to_pandas(values="str", fields=["user", "missing"])
        with pytest.raises(ValueError):
            s.stream("b").replay().to_pandas(values="json")
    assert df["value"].tolist() == [e.value.decode("utf-8", "surrogateescape") for e in events]

    def field(v, name):
        try:
            obj = json.loads(v)
        except ValueError:
            return None
        return obj.get(name) if isinstance(obj, dict) else None
    assert df["user"].tolist() == [field(e.value, "user") for e in events]
    assert df["missing"].tolist() == [None] * len(events)


def test_an_empty_replay_is_an_empty_frame(store_path):
    with siglog.open(store_path) as s:
        df = s.stream("b").replay(from_time=BASE + 10**10).to_pandas()
    assert len(df) == 0 and list(df.columns) == ["ts", *siglog.Event._fields]


def test_to_pandas_writes_the_manifest_iteration_writes(store_path, tmp_path):
    with siglog.open(store_path) as s:
        list(s.stream("b").replay(key="k1", manifest=tmp_path / "events.json"))
        s.stream("b").replay(key="k1", manifest=tmp_path / "frame.json").to_pandas()
    with open(tmp_path / "events.json") as a, open(tmp_path / "frame.json") as b:
        assert json.load(a) == json.load(b)
