"""The siglog Python module against a store it writes itself: every
method, the engine's errors as exceptions, use after close, eight threads
reading at once, and the pandas conversion."""
import datetime
import heapq
import json
import os
import random
import sys
import tempfile
import threading

import pytest

import siglog

PARTITIONS = 4
N = 3000
UTC = datetime.timezone.utc


def make_event(i, rng):
    """Event i: keys k0..k9 (none for every 11th), event times out of
    order, a header on every 5th, schema versions 0..2, some empty values."""
    e = {"value": {"i": i, "score": i % 17} if i % 13 else b"",
         "ts": 1_700_000_000_000_000 + rng.randrange(10**9),
         "schema_version": i % 3}
    if i % 11:
        e["key"] = f"k{i % 10}"
    if i % 5 == 0:
        e["headers"] = [("service", "ranker"), ("consent", "granted" if i % 2 else "denied")]
        if i % 7 == 0:
            e["headers"].append(("service", "again"))  # names may repeat
    return e


def expected_row(e, part, off):
    v = e["value"]
    return {"partition": part, "offset": off, "ts_us": e["ts"], "key": e["key"].encode() if "key" in e else None,
            "schema_version": e["schema_version"], "headers": tuple(e.get("headers", ())),
            "value": v if isinstance(v, bytes) else json.dumps(v, separators=(",", ":")).encode()}


def as_row(ev):
    return {f: getattr(ev, f) for f in ("partition", "offset", "ts_us", "key", "schema_version", "headers", "value")}


@pytest.fixture(scope="module")
def store_dir():
    """A store with stream "clicks" holding N events, appended in three
    calls, and what each event should read back as, in (partition,
    offset) order."""
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-", dir=root)
    rng = random.Random(14)
    events = [make_event(i, rng) for i in range(N)]
    rows = []
    with siglog.open(d, read_only=False, create=True) as s:
        st = s.create_stream("clicks", partitions=PARTITIONS, segment_bytes_max=64 * 1024)
        for chunk in (events[:1000], events[1000:2000], events[2000:]):
            for e, (p, o) in zip(chunk, st.append(chunk)):
                rows.append(expected_row(e, p, o))
        s.create_stream("empty")
    rows.sort(key=lambda r: (r["partition"], r["offset"]))
    yield d, rows


@pytest.fixture
def store(store_dir):
    with siglog.open(store_dir[0]) as s:
        yield s


@pytest.fixture
def rows(store_dir):
    return store_dir[1]


def test_open_a_missing_store_names_it(tmp_path):
    with pytest.raises(siglog.Error) as e:
        siglog.open(tmp_path / "nothing")
    assert e.value.name == "ENOENT" and e.value.code == -30002
    assert str(tmp_path / "nothing") in e.value.detail
    assert str(e.value).startswith("ENOENT: ")


def test_streams_and_an_unknown_stream(store):
    assert store.streams() == ["clicks", "empty"]
    with pytest.raises(siglog.Error) as e:
        store.stream("nope")
    assert e.value.name == "ENOENT" and "nope" in e.value.detail


def test_partitions_and_stat(store, rows):
    st = store.stream("clicks")
    parts = st.partitions()
    assert [p.partition for p in parts] == list(range(PARTITIONS))
    for p in parts:
        mine = [r for r in rows if r["partition"] == p.partition]
        assert (p.log_start_offset, p.next_offset) == (0, len(mine))
        assert p.max_ts_us == max(r["ts_us"] for r in mine)
        assert p.segment_count >= 1 and p.bytes > 0 and not p.failed
    stat = st.stat()
    assert stat["events"] == N and stat["partitions"] == PARTITIONS
    assert stat["max_ts_us"] == max(r["ts_us"] for r in rows)
    assert stat["config"]["segment_bytes_max"] == 64 * 1024
    empty = store.stream("empty").stat()
    assert empty["events"] == 0 and empty["first_ts_us"] is None


def test_replay_in_partition_order_returns_every_event_as_appended(store, rows):
    got = [as_row(e) for e in store.stream("clicks").replay()]
    assert got == rows


def test_event_fields(store):
    e = next(iter(store.stream("clicks").replay(key="k1")))
    assert e.ts == datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(microseconds=e.ts_us)
    assert e.ts.tzinfo is not None and e.stream == "clicks" and e.tombstone is False
    assert e.json()["i"] % 10 == 1


def test_merge_interleaves_the_partitions_by_time(store, rows):
    per = [[r for r in rows if r["partition"] == p] for p in range(PARTITIONS)]
    want = list(heapq.merge(*per, key=lambda r: (r["ts_us"], r["partition"], r["offset"])))
    assert [as_row(e) for e in store.stream("clicks").replay(order="merge")] == want


@pytest.mark.parametrize("memory,batch_bytes", [(None, 1 << 20), (1 << 20, 1 << 20), (None, 16), (1 << 20, 600)])
def test_event_time_order_is_exact(store, rows, tmp_path, memory, batch_bytes):
    """In memory and spilled; batches of many records, of a few (the
    rest wait for the next call) and of none (ETOOBIG: the buffer grows)."""
    got = [as_row(e) for e in store.stream("clicks").replay(order="event-time", memory=memory, spill_dir=tmp_path,
                                                            batch_bytes=batch_bytes)]
    assert got == sorted(rows, key=lambda r: (r["ts_us"], r["partition"], r["offset"]))
    assert not os.listdir(tmp_path)
    filtered = [as_row(e) for e in store.stream("clicks").replay(order="event-time", key="k4", to_offset=500)]
    assert filtered == sorted((r for r in rows if r["key"] == b"k4" and r["offset"] < 500),
                              key=lambda r: (r["ts_us"], r["partition"], r["offset"]))


@pytest.mark.parametrize("args,keep", [
    ({"partitions": [2, 0]}, lambda r: r["partition"] in (0, 2)),
    ({"from_offset": 100, "to_offset": 300}, lambda r: 100 <= r["offset"] < 300),
    ({"from_time": 1_700_000_300_000_000, "to_time": 1_700_000_600_000_000},
     lambda r: 1_700_000_300_000_000 <= r["ts_us"] < 1_700_000_600_000_000),
    ({"from_time": datetime.datetime.fromtimestamp(1_700_000_500, UTC)},
     lambda r: r["ts_us"] >= 1_700_000_500_000_000),
    ({"key": "k3"}, lambda r: r["key"] == b"k3"),
    ({"key": b"k3", "schema_version": 2}, lambda r: r["key"] == b"k3" and r["schema_version"] == 2),
])
def test_filters(store, rows, args, keep):
    got = [as_row(e) for e in store.stream("clicks").replay(**args)]
    want = [r for r in rows if keep(r)]
    if "partitions" in args:
        want.sort(key=lambda r: (args["partitions"].index(r["partition"]), r["offset"]))
    assert want and got == want


def test_bad_arguments(store):
    st = store.stream("clicks")
    with pytest.raises(ValueError):
        st.replay(order="sideways")
    with pytest.raises(ValueError):
        st.replay(from_time=datetime.datetime(2024, 1, 1))  # naive: zone unknown
    with pytest.raises(siglog.Error) as e:
        st.replay(partitions=[PARTITIONS])
    assert e.value.name == "ENOENT"


def test_a_record_larger_than_the_buffer_is_read_whole(store, rows):
    got = [as_row(e) for e in store.stream("clicks").replay(batch_bytes=16)]
    assert got == rows


@pytest.mark.parametrize("header_every", [0, 400])
def test_batches_with_and_without_headers_read_back_as_appended(tmp_path, header_every):
    """A batch of records without headers is cut by lengths alone, one
    with headers by each record's pointers: with no headers at all, and
    with one every 400 events (batches of both kinds in one replay), keys
    absent, values empty or not UTF-8, every event reads back as appended,
    whatever the batch size."""
    rng = random.Random(header_every)
    events = []
    for i in range(3000):
        e = {"value": rng.choice([b"", b"\xff\x00 raw", b"x" * rng.randrange(300)]), "ts": i}
        if i % 3:
            e["key"] = f"user-{rng.randrange(50)}"
        if header_every and i % header_every == 0:
            e["headers"] = [("tenant", str(i))]
        events.append(e)
    with siglog.open(tmp_path, read_only=False, create=True) as s:
        st = s.create_stream("plain", partitions=1)
        st.append(events)
    want = [(i, e.get("key", "").encode() or None, e["value"], tuple(e.get("headers", ())))
            for i, e in enumerate(events)]
    with siglog.open(tmp_path) as s:
        for batch_bytes in (1 << 20, 4096, 200):
            got = [(e.offset, e.key, e.value, e.headers) for e in s.stream("plain").replay(batch_bytes=batch_bytes)]
            assert got == want, f"batch_bytes={batch_bytes}"


@pytest.mark.parametrize("odd", ["none", "schema", "tombstone", "keyless"])
def test_a_batch_alike_but_for_one_event_reads_back_as_appended(tmp_path, odd):
    """Iteration takes a field every record of a batch shares as one
    value: every event has schema version 7, a key and no tombstone but
    for one, the 2500th, that differs in one of them (or none does), and
    each reads back as appended (a batch whose offsets skip some: the
    hole of test_columns)."""
    events = [{"key": f"user-{i % 9}", "value": b"v%d" % i, "ts": i, "schema_version": 7} for i in range(3000)]
    odd_one = events[2500]
    if odd == "schema":
        odd_one["schema_version"] = 8
    elif odd == "tombstone":
        odd_one["tombstone"] = True
    elif odd == "keyless":
        del odd_one["key"]
    with siglog.open(tmp_path, read_only=False, create=True) as s:
        s.create_stream("alike", partitions=1).append(events)
    want = [(i, e.get("key", "").encode() or None, e["schema_version"], e.get("tombstone", False), e["value"])
            for i, e in enumerate(events)]
    with siglog.open(tmp_path) as s:
        got = [(e.offset, e.key, e.schema_version, e.tombstone, e.value) for e in s.stream("alike").replay()]
    assert got == want


def test_to_pandas(store, rows):
    df = store.stream("clicks").replay().to_pandas(fields=["i", "score"])
    assert len(df) == N
    assert list(df["offset"]) == [r["offset"] for r in rows]
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
    assert list(df["ts_us"]) == [r["ts_us"] for r in rows]
    assert list(df["value"]) == [r["value"] for r in rows]
    want_i = [json.loads(r["value"])["i"] if r["value"] else None for r in rows]
    assert [None if x != x or x is None else int(x) for x in df["i"]] == want_i


def test_to_pandas_without_pandas_says_what_to_install(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match="python3-pandas"):
        store.stream("clicks").replay().to_pandas()


def test_append_waits_for_durability_and_reads_back(tmp_path):
    with siglog.open(tmp_path, read_only=False, create=True) as s:
        st = s.create_stream("out", partitions=2, sync_policy=1, sync_interval_ms=50)
        pos = st.append([{"key": "a", "value": "x", "ts": 5}, {"value": b"\x00\x01", "tombstone": True},
                         "plain", {"value": {"n": 1}, "headers": {b"h": b"v"}}], durable=True)
        assert len(pos) == 4 and st.wait_durable(pos, timeout=5) is True
        assert st.append([b"p1"], partition=1)[0][0] == 1
        assert st.append([]) == []
    with siglog.open(tmp_path) as s:
        evs = {(e.partition, e.offset): e for e in s.stream("out").replay()}
        assert len(evs) == 5
        a = evs[pos[0]]
        assert (a.key, a.value, a.ts_us) == (b"a", b"x", 5)
        assert evs[pos[1]].tombstone and evs[pos[1]].value == b"\x00\x01" and evs[pos[1]].key is None
        assert evs[pos[3]].json() == {"n": 1} and evs[pos[3]].headers == (("h", "v"),)
        assert evs[pos[3]].header("h") == "v" and evs[pos[3]].header("x") is None


def test_sync_makes_what_was_appended_durable(tmp_path):
    # A commit every 60 s: none comes during the test but the one sync makes.
    with siglog.open(tmp_path, read_only=False, create=True) as s:
        st = s.create_stream("ev", partitions=2, sync_policy=1, sync_interval_ms=60000)
        pos = st.append([{"key": f"k{i}", "value": "x"} for i in range(10)])
        assert st.wait_durable(pos, timeout=0) is False
        s.sync()
        assert st.wait_durable(pos, timeout=0) is True


def test_a_text_setting_is_given_and_read_as_a_str(tmp_path):
    cold = str(tmp_path / "cold tier")
    with siglog.open(tmp_path / "store", read_only=False, create=True) as s:
        assert s.create_stream("ev", cold_dir=cold).config()["cold_dir"] == cold
        assert s.create_stream("plain").config()["cold_dir"] == ""
        with pytest.raises(siglog.Error, match="cold_dir"):
            s.create_stream("bad", cold_dir="relative/cold")
    with siglog.open(tmp_path / "store") as s:
        assert s.stream("ev").config()["cold_dir"] == cold


def test_engine_errors_carry_name_and_detail(store, tmp_path):
    with pytest.raises(siglog.Error) as e:
        store.stream("clicks").append(["x"])
    assert e.value.name == "ERDONLY"
    with siglog.open(tmp_path, read_only=False, create=True) as s:
        st = s.create_stream("small", record_bytes_max=1024)
        with pytest.raises(siglog.Error) as e:
            st.append([b"y" * 2000])
        assert e.value.name == "ETOOBIG" and "1024" in e.value.detail
        with pytest.raises(siglog.Error) as e:
            s.create_stream("small")
        assert e.value.name == "EEXIST"
        with pytest.raises(siglog.Error) as e:
            s.create_stream("bad", partitions=0)
        assert e.value.name == "EINVAL" and "partitions" in e.value.detail
        with pytest.raises(ValueError, match="no stream setting"):
            s.create_stream("bad", colour=3)
        with pytest.raises(TypeError):
            st.append([{"value": b"v", "key": 7}])


def test_use_after_close_raises_and_never_crashes(store_dir):
    s = siglog.open(store_dir[0])
    st = s.stream("clicks")
    unread = st.replay()
    half = st.replay()
    it = iter(half)
    next(it)
    s.close()
    s.close()  # again: nothing
    assert s.closed
    for call in (s.streams, lambda: s.stream("clicks"), st.partitions, st.stat, st.replay,
                 lambda: list(unread), lambda: list(it), lambda: st.append(["x"]), s.sync):
        with pytest.raises(siglog.ClosedError):
            call()
    unread.close()  # closing a replay of a closed store: nothing


def test_a_replay_closed_early_frees_its_cursors(store):
    with store.stream("clicks").replay() as r:
        next(iter(r))
    with pytest.raises(siglog.ClosedError):
        list(r)
    assert not store._replays


def test_eight_threads_read_at_once(store, rows):
    results = [None] * 8
    errors = []

    def read(i):
        try:
            order = "merge" if i % 2 else "partition"
            got = [(e.partition, e.offset, e.value) for e in store.stream("clicks").replay(order=order)]
            results[i] = sorted(got)
        except Exception as e:  # reported below, with the thread's number
            errors.append((i, e))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    want = [(r["partition"], r["offset"], r["value"]) for r in rows]
    assert all(r == want for r in results)


def test_closing_the_store_while_threads_read(store_dir):
    """Each reader ends complete or with ClosedError; none crashes."""
    s = siglog.open(store_dir[0])
    outcomes = []
    started = threading.Barrier(9)

    def read():
        started.wait()
        try:
            outcomes.append(sum(1 for _ in s.stream("clicks").replay(batch_bytes=4096)))
        except siglog.ClosedError:
            outcomes.append("closed")

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    started.wait()
    s.close()
    for t in threads:
        t.join()
    assert len(outcomes) == 8 and all(o in (N, "closed") for o in outcomes)


def test_closing_the_store_while_a_thread_waits_for_durability(tmp_path):
    """The engine forbids freeing a store under a waiter: close waits for
    the waiter's call to return, and the waiter then learns of the close."""
    s = siglog.open(tmp_path, read_only=False, create=True)
    st = s.create_stream("slow", sync_policy=1, sync_interval_ms=60000)
    pos = st.append([b"not durable for a minute"])
    outcome = []
    waiting = threading.Event()

    def wait():
        waiting.set()
        try:
            outcome.append(st.wait_durable(pos))
        except siglog.ClosedError:
            outcome.append("closed")

    t = threading.Thread(target=wait)
    t.start()
    waiting.wait()
    threading.Event().wait(0.3)  # let it block in the engine
    s.close()
    t.join()
    assert outcome in ([True], ["closed"])
