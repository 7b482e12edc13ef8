"""siglog replay --max-lateness: event-time order as events arrive.

Without --follow the events arrive in the order replay --merge gives, so
the output is compared with a model applied to that order: each event is
held until the watermark (greatest time read minus the lateness) passes
it, one read behind the watermark is written at once with "late":true,
the rest come sorted at the end; standard error counts both. With
--follow, events appended while it runs and a SIGTERM: every event once,
those not late in order. A --follow replay stopped by a signal records
in its manifest no reading end past an event it did not deliver."""
import json
import os
import random
import signal
import subprocess
import tempfile
import time

import pytest

import siglog

SIGLOG = os.environ.get("SIGLOG_BIN")
pytestmark = pytest.mark.skipif(not SIGLOG, reason="SIGLOG_BIN names no siglog binary")
BASE = 1_700_000_000_000_000


def jittered(first, n, jitter, rng):
    """Times growing by 1 ms an event, each up to `jitter` us either way."""
    return [{"key": f"user{i % 17}", "ts": BASE + i * 1000 + rng.randrange(-jitter, jitter + 1), "value": {"i": i}}
            for i in range(first, first + n)]


@pytest.fixture()
def store_path():
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-lateness-", dir=root)
    with siglog.open(d, read_only=False, create=True) as s:
        s.create_stream("ev", partitions=3).append(jittered(0, 1500, 20_000, random.Random(14)))
    return d


def replay(*args):
    r = subprocess.run([SIGLOG, "replay", *args], capture_output=True)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()], r.stderr.decode()


def ident(e):
    return (e["ts"], e["partition"], e["offset"])


def model(arrivals, lateness):
    out, held, max_seen, watermark = [], [], None, None
    for e in arrivals:
        if watermark is not None and e["ts"] < watermark:
            out.append((ident(e), True))
            continue
        max_seen = e["ts"] if max_seen is None else max(max_seen, e["ts"])
        watermark = max_seen - lateness if watermark is None else max(watermark, max_seen - lateness)
        held.append(ident(e))
        held.sort()
        out += [(h, False) for h in held if h[0] < watermark]
        held = [h for h in held if h[0] >= watermark]
    return out + [(h, False) for h in held]


@pytest.mark.parametrize("lateness,us", [("0", 0), ("5ms", 5000), ("30ms", 30_000), ("40ms", 40_000)])
def test_the_order_and_late_marks_are_the_models(store_path, lateness, us):
    arrivals, _ = replay(store_path, "ev", "--merge")
    got, err = replay(store_path, "ev", "--max-lateness", lateness)
    want = model(arrivals, us)
    assert [(ident(e), e.get("late", False)) for e in got] == want
    late = sum(1 for _, is_late in want if is_late)
    assert f"{len(want)} events, {late} late" in err
    # A jitter of 20 ms either way: 40 ms of lateness leave none late.
    assert (late == 0) == (us >= 40_000)


def test_filters_apply_before_ordering(store_path):
    arrivals, _ = replay(store_path, "ev", "--merge", "--key", "user3", "--to-offset", "300")
    got, _ = replay(store_path, "ev", "--max-lateness", "5ms", "--key", "user3", "--to-offset", "300")
    assert [(ident(e), e.get("late", False)) for e in got] == model(arrivals, 5000)


@pytest.mark.parametrize("options", [["--merge"], ["--manifest", "m.json"], ["--spill-dir", "/tmp"],
                                     ["--max-lateness", "soon"]])
def test_refused_combinations(store_path, options):
    r = subprocess.run([SIGLOG, "replay", store_path, "ev", "--max-lateness", "1s", *options], capture_output=True)
    assert r.returncode == 2 and r.stderr.count(b"\n") >= 1 and not r.stdout


def follow(store_path, out, *options):
    """A following replay writing to the file out (a pipe nobody reads
    while events are appended would fill and stop it)."""
    return subprocess.Popen([SIGLOG, "replay", store_path, "ev", "--follow", *options], stdout=out,
                            stderr=subprocess.PIPE)


def stopped(p, out):
    """SIGTERM p; its status, the events it wrote and its standard error."""
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    out.seek(0)
    return p.returncode, [json.loads(line) for line in out.read().splitlines()], err.decode()


def append_while_running(store_path, first, rounds, rng):
    with siglog.open(store_path, read_only=False) as s:
        st = s.stream("ev")
        for k in range(rounds):
            st.append(jittered(first + 100 * k, 100, 20_000, rng), durable=True)
            time.sleep(0.05)


def test_following_writes_every_event_once_and_the_rest_on_sigterm(store_path, tmp_path):
    everything = 2500
    with open(tmp_path / "out", "w+b") as out:
        p = follow(store_path, out, "--max-lateness", "10ms")
        append_while_running(store_path, 1500, 10, random.Random(5))
        # Until it has caught up (it holds back the few events the
        # watermark has not passed): output that stopped growing.
        deadline, before = time.monotonic() + 30, -1
        while time.monotonic() < deadline:
            time.sleep(1)
            now = os.path.getsize(tmp_path / "out")
            if now == before:
                break
            before = now
        status, got, err = stopped(p, out)
    assert status == 0, err
    assert sorted(ident(e) for e in got) == sorted(ident(e) for e in replay(store_path, "ev")[0])
    assert len(got) == everything
    in_order = [ident(e) for e in got if not e.get("late")]
    assert in_order == sorted(in_order)
    assert f"{len(got)} events, {sum(1 for e in got if e.get('late'))} late" in err


def test_a_stopped_follow_records_no_end_past_what_it_delivered(store_path, tmp_path):
    """Each partition's recorded end is one past the last event delivered
    there: events the merge read ahead of delivery are not counted read."""
    for attempt in range(3):
        manifest = tmp_path / f"m{attempt}.json"
        rng = random.Random(attempt)
        with open(tmp_path / f"out{attempt}", "w+b") as out:
            p = follow(store_path, out, "--merge", "--manifest", str(manifest))
            with siglog.open(store_path, read_only=False) as s:
                st = s.stream("ev")
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    st.append(jittered(10_000, 50, 20_000, rng))
                status, got, err = stopped(p, out)
        assert status == 0, err
        last = {}
        for e in got:
            last[e["partition"]] = max(last.get(e["partition"], -1), e["offset"])
        ends = {r["partition"]: r["end_offset"] for r in json.loads(manifest.read_text())["read"]}
        assert ends == {q: last.get(q, -1) + 1 for q in ends}, (attempt, ends, last)


@pytest.mark.parametrize("lateness,us", [("0", 0), ("5ms", 5000), ("30ms", 30_000), ("40ms", 40_000)])
@pytest.mark.parametrize("kwargs,options", [
    ({}, []),
    ({"key": "user3", "to_offset": 300}, ["--key", "user3", "--to-offset", "300"]),
    ({"from_time": BASE + 400_000, "to_time": BASE + 900_000, "partitions": [2, 0]},
     ["--from-time", str(BASE + 400_000), "--to-time", str(BASE + 900_000), "--time-unit", "us",
      "--partition", "2", "--partition", "0"]),
    ({"schema_version": 0, "memory": 1 << 20}, ["--schema-version", "0", "--memory", "1MiB"]),
])
def test_the_module_hands_out_what_the_tool_writes(store_path, lateness, us, kwargs, options):
    """stream.replay(max_lateness=...): the events, their order and late
    marks of `siglog replay --max-lateness` with the same filters."""
    want, _ = replay(store_path, "ev", "--max-lateness", lateness, *options)
    with siglog.open(store_path) as s:
        got = list(s.stream("ev").replay(order="event-time", max_lateness=us, **kwargs))
        frame = s.stream("ev").replay(order="event-time", max_lateness=us, **kwargs).to_pandas()
    assert [(e.ts_us, e.partition, e.offset, e.key.decode(), e.json(), e.late) for e in got] == \
        [(*ident(e), e["key"], e["value"], e.get("late", False)) for e in want]
    assert frame["late"].tolist() == [e.late for e in got]
    assert any(e.late for e in got) == any(e.get("late") for e in want)


def test_a_timedelta_is_a_lateness(store_path):
    import datetime
    with siglog.open(store_path) as s:
        st = s.stream("ev")
        assert list(st.replay(order="event-time", max_lateness=datetime.timedelta(milliseconds=5))) == \
            list(st.replay(order="event-time", max_lateness=5000))


@pytest.mark.parametrize("kwargs", [{"order": "merge"}, {}, {"order": "event-time", "spill_dir": "/tmp"},
                                    {"order": "event-time", "manifest": "m.json"}])
def test_the_module_refuses_what_the_tool_refuses(store_path, kwargs):
    with siglog.open(store_path) as s:
        with pytest.raises(ValueError):
            s.stream("ev").replay(max_lateness=1000, **kwargs)
        with pytest.raises(siglog.Error) as e:
            s.stream("ev").replay(order="event-time", max_lateness=-1)
    assert e.value.name == "EINVAL"
