"""siglog replay --manifest: the manifest's digest recomputed here from
the replay's own jsonl output with hashlib's BLAKE2b and the framing of
FORMAT.md section 22 (one stream and several), its ranges and counts
checked against the events, and no manifest when the replay does not end
cleanly; replay --from-manifest gives the same bytes again, also after
appends, and manifest verify says intact; after a forget both fail
naming it, as does the module's replay_manifest.

Several streams: "ev" and "ot" share keys, so --key follows one key across
both, compared here with a join of the two single-stream replays."""
import base64
import hashlib
import json
import os
import random
import struct
import subprocess
import tempfile

import pytest

import siglog

SIGLOG = os.environ.get("SIGLOG_BIN")
pytestmark = pytest.mark.skipif(not SIGLOG, reason="SIGLOG_BIN names no siglog binary")


@pytest.fixture(scope="module")
def store_path():
    """Stream "ev": 3 partitions, 600 events with times out of order, keys
    (some absent, one not UTF-8), JSON and non-JSON values, empty ones,
    schema versions 0 and 1, headers on some."""
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-manifest-", dir=root)
    rng = random.Random(22)
    events = []
    for i in range(600):
        e = {"ts": 1_700_000_000_000_000 + rng.randrange(10**8), "schema_version": i % 2,
             "value": {"i": i, "s": "x" * (i % 7)} if i % 5 else bytes([i % 256, 0, 255]) * (i % 3)}
        if i % 9:
            e["key"] = f"user{i % 13}" if i % 17 else b"\xff\xfe"
        if i % 4 == 0:
            e["headers"] = [("consent", "granted" if i % 8 else "denied")]
        events.append(e)
    with siglog.open(d, read_only=False, create=True) as s:
        s.create_stream("ev", partitions=3).append(events)
        s.create_stream("ot", partitions=2).append(
            {"key": f"user{i % 13}", "ts": 1_700_000_000_000_000 + rng.randrange(10**8), "value": {"o": i}}
            for i in range(200))
    return d


def replay(*args):
    return subprocess.run([SIGLOG, "replay", *args], capture_output=True)


def raw_value(line, event):
    """The value's bytes from one envelope line: "value" is its last member
    and embeds a JSON value as stored, else base64."""
    if event.get("value_encoding") == "base64":
        return base64.b64decode(event["value"])
    start = line.index(b',"value":', line.index(b',"schema":')) + len(b',"value":')
    return line[start:-1]


def recomputed(jsonl, streams=1):
    """BLAKE2b-256 over partition u32, offset u64, ts i64, key length u32,
    key, value length u32, value (little-endian), in delivery order, each
    frame after the stream name (length u32, name) when several streams
    were read."""
    h = hashlib.blake2b(digest_size=32)
    for line in jsonl.splitlines():
        e = json.loads(line)
        if streams > 1:
            h.update(struct.pack("<I", len(e["stream"])) + e["stream"].encode())
        key = b"" if e["key"] is None else (
            base64.b64decode(e["key"]) if e.get("key_encoding") == "base64" else e["key"].encode())
        value = raw_value(line, e)
        h.update(struct.pack("<IQqI", e["partition"], e["offset"], e["ts"], len(key)) + key)
        h.update(struct.pack("<I", len(value)) + value)
    return h.hexdigest()


@pytest.mark.parametrize("options", [
    [],
    ["--merge"],
    ["--order", "event-time"],
    ["--order", "event-time", "--key", "user3"],
    ["--partition", "2", "--partition", "0"],
    ["--header", "consent=granted", "--schema-version", "0", "--from-offset", "20", "--to-offset", "150"],
    ["--limit", "77", "--merge"],
])
def test_the_digest_is_recomputed_from_the_jsonl_output(store_path, tmp_path, options):
    path = tmp_path / "m.json"
    r = replay(store_path, "ev", "--manifest", str(path), *options)
    assert r.returncode == 0, r.stderr
    m = json.loads(path.read_text())
    assert m["digest_algorithm"] == "blake2b-256"
    assert m["digest"] == recomputed(r.stdout)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert m["events"] == len(lines) and lines
    ranges = {}
    for e in lines:
        ranges.setdefault(e["partition"], []).append(e["offset"])
    assert m["partitions"] == [{"stream": "ev", "partition": p, "first_offset": min(o), "last_offset": max(o),
                                "events": len(o)} for p, o in sorted(ranges.items())]
    assert sorted(s["version"] for s in m["schemas"]) == sorted({e["schema"] for e in lines})
    assert m["streams"] == ["ev"] and m["options"]["format"] == "jsonl"
    assert m["manifest_version"] == 2 and m["store"] == os.path.realpath(store_path)
    assert [r["partition"] for r in m["read"]] == (
        [int(p) for p in sorted(options[1::2]) if p.isdigit()] if options[:1] == ["--partition"] else [0, 1, 2])


def test_the_options_are_recorded(store_path, tmp_path):
    path = tmp_path / "m.json"
    r = replay(store_path, "ev", "--manifest", str(path), "--order", "event-time", "--key", "user3",
               "--header", "consent=granted", "--from-time", "0", "--to-offset", "400", "--partition", "1")
    assert r.returncode == 0, r.stderr
    o = json.loads(path.read_text())["options"]
    assert o == {"partitions": [1], "from_offset": None, "to_offset": 400, "from_time_us": 0, "to_time_us": None,
                 "key": "user3", "schema_version": None, "headers": [["consent", "granted"]],
                 "order": "event-time", "follow": False, "allow_gaps": False, "limit": None, "format": "jsonl",
                 "consumer": None, "redact": None}


def test_the_same_events_give_the_same_digest_in_any_format(store_path, tmp_path):
    digests = []
    for fmt in ("jsonl", "value", "binary"):
        path = tmp_path / f"{fmt}.json"
        assert replay(store_path, "ev", "--manifest", str(path), "--format", fmt).returncode == 0
        digests.append(json.loads(path.read_text())["digest"])
    assert len(set(digests)) == 1


def test_a_failed_replay_writes_no_manifest_and_keeps_an_old_one(store_path, tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old\n")
    r = replay(store_path, "ev", "--manifest", str(path), "--partition", "7")
    assert r.returncode == 1 and b"partition 7" in r.stderr
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["m.json"]  # no temporary file left


def test_a_replay_cut_short_by_its_reader_writes_no_manifest(store_path, tmp_path):
    path = tmp_path / "m.json"
    p = subprocess.Popen([SIGLOG, "replay", store_path, "ev", "--manifest", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # before anything was read: the first write fails
    err = p.stderr.read()
    assert p.wait() == 1 and b"no manifest written" in err
    assert not path.exists()


def test_the_store_id_is_the_stores(store_path, tmp_path):
    path = tmp_path / "m.json"
    assert replay(store_path, "ev", "--manifest", str(path)).returncode == 0
    with siglog.open(store_path) as s:
        assert json.loads(path.read_text())["store_id"] == f"{s.store_id():016x}"


@pytest.mark.parametrize("options", [
    [],
    ["--merge", "--format", "value"],
    ["--order", "event-time", "--key", "user3"],
    ["--header", "consent=granted", "--from-offset", "20", "--to-offset", "150", "--format", "binary"],
    ["--limit", "77", "--merge"],
    ["--limit", "150"],
])
def test_from_manifest_gives_the_same_bytes_after_more_appends(tmp_path, options):
    """A store of its own: events are appended after the manifest, and the
    replay from it stops where the first one's reading ended."""
    d = str(tmp_path / "store")
    with siglog.open(d, read_only=False, create=True) as s:
        st = s.create_stream("ev", partitions=2)
        st.append({"key": f"user{i % 5}", "ts": (i * 7919) % 1000, "value": {"i": i},
                   "headers": {"consent": "granted" if i % 3 else "denied"}} for i in range(300))
    path = tmp_path / "m.json"
    first = replay(d, "ev", "--manifest", str(path), *options)
    assert first.returncode == 0, first.stderr
    with siglog.open(d, read_only=False) as s:
        s.stream("ev").append({"key": f"user{i % 5}", "ts": i, "value": {"late": i}} for i in range(50))
    again = subprocess.run([SIGLOG, "replay", "--from-manifest", str(path)], capture_output=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    verify = subprocess.run([SIGLOG, "manifest", "verify", str(path), d, "--json"], capture_output=True)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["intact"] is True


def test_several_streams_by_key_are_the_join_of_each(store_path, tmp_path):
    path = tmp_path / "m.json"
    r = replay(store_path, "ev,ot", "--key", "user3", "--order", "event-time", "--manifest", str(path))
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    each = [json.loads(line) for s in ("ev", "ot")
            for line in replay(store_path, s, "--key", "user3").stdout.splitlines()]
    assert got == sorted(each, key=lambda e: (e["ts"], e["stream"], e["partition"], e["offset"]))
    assert {e["stream"] for e in got} == {"ev", "ot"}
    m = json.loads(path.read_text())
    assert m["streams"] == ["ev", "ot"] and m["digest"] == recomputed(r.stdout, streams=2)
    assert {p["stream"] for p in m["partitions"]} == {"ev", "ot"}
    same = replay(store_path, "--stream", "ev", "--stream", "ot", "--key", "user3", "--order", "event-time")
    assert same.stdout == r.stdout
    again = subprocess.run([SIGLOG, "replay", "--from-manifest", str(path)], capture_output=True)
    assert again.returncode == 0 and again.stdout == r.stdout, again.stderr


def test_a_changed_digest_fails_naming_no_range_and_writes_nothing(store_path, tmp_path):
    path = tmp_path / "m.json"
    assert replay(store_path, "ev", "--manifest", str(path)).returncode == 0
    m = json.loads(path.read_text())
    m["digest"] = "0" * 64
    path.write_text(json.dumps(m))
    r = subprocess.run([SIGLOG, "replay", "--from-manifest", str(path)], capture_output=True)
    assert r.returncode == 1 and r.stdout == b""
    assert b"other events or another order" in r.stderr and r.stderr.count(b"\n") == 1
    v = subprocess.run([SIGLOG, "manifest", "verify", str(path)], capture_output=True)
    assert v.returncode == 1 and v.stdout == b""


def test_a_consumers_second_run_replays_from_where_it_started(tmp_path):
    """The second run of a consumer starts at its committed offsets: the
    manifest's read starts say so, and the replay from it delivers that
    run's events only."""
    d = str(tmp_path / "store")
    with siglog.open(d, read_only=False, create=True) as s:
        s.create_stream("ev", partitions=2).append({"key": f"k{i % 3}", "value": {"i": i}} for i in range(100))
    assert replay(d, "ev", "--consumer", "eval").returncode == 0
    with siglog.open(d, read_only=False) as s:
        s.stream("ev").append({"key": f"k{i % 3}", "value": {"j": i}} for i in range(30))
    path = tmp_path / "m.json"
    second = replay(d, "ev", "--consumer", "eval", "--manifest", str(path))
    assert second.returncode == 0, second.stderr
    assert len(second.stdout.splitlines()) == 30
    m = json.loads(path.read_text())
    assert m["options"]["consumer"] == "eval" and sum(r["start_offset"] for r in m["read"]) == 100
    again = subprocess.run([SIGLOG, "replay", "--from-manifest", str(path)], capture_output=True)
    assert again.returncode == 0 and again.stdout == second.stdout, again.stderr


def _store_with_events(tmp_path, n=300):
    d = str(tmp_path / "store")
    with siglog.open(d, read_only=False, create=True) as s:
        s.create_stream("ev", partitions=2).append(
            {"key": f"user{i % 5}", "ts": (i * 7919) % 1000, "value": {"i": i}} for i in range(n))
    return d


@pytest.mark.parametrize("kwargs", [{}, {"order": "merge", "key": "user2"},
                                    {"order": "event-time", "from_offset": 10, "to_offset": 120}])
def test_the_module_writes_the_manifest_the_tool_writes(tmp_path, kwargs):
    """replay(manifest=...) gives the CLI's manifest for the same replay
    (but its options' format), which the CLI verifies and replays."""
    d = _store_with_events(tmp_path)
    path, cli_path = tmp_path / "py.json", tmp_path / "cli.json"
    with siglog.open(d) as s:
        events = list(s.stream("ev").replay(manifest=path, **kwargs))
    args = {"order": ["--order", kwargs.get("order", "partition")], "key": ["--key", kwargs.get("key")],
            "from_offset": ["--from-offset", str(kwargs.get("from_offset"))],
            "to_offset": ["--to-offset", str(kwargs.get("to_offset"))]}
    r = replay(d, "ev", "--manifest", str(cli_path), *[a for k in kwargs for a in args[k]])
    assert r.returncode == 0, r.stderr
    py, cli = json.loads(path.read_text()), json.loads(cli_path.read_text())
    assert py == cli and py["events"] == len(events)
    v = subprocess.run([SIGLOG, "manifest", "verify", str(path)], capture_output=True)
    assert v.returncode == 0, v.stderr
    assert subprocess.run([SIGLOG, "replay", "--from-manifest", str(path)], capture_output=True).stdout == r.stdout


def test_replay_manifest_gives_the_same_events_after_appends(tmp_path):
    d = _store_with_events(tmp_path)
    path = tmp_path / "m.json"
    assert replay(d, "ev", "--order", "event-time", "--manifest", str(path)).returncode == 0
    with siglog.open(d, read_only=False) as s:
        first = list(s.stream("ev").replay(order="event-time"))
        s.stream("ev").append({"key": "late", "ts": 1, "value": {"late": True}} for _ in range(20))
        again = s.stream("ev").replay_manifest(path)
        assert list(again) == first
        assert len(s.stream("ev").replay_manifest(path).to_pandas()) == len(first)


def test_replay_manifest_refuses_changed_data_and_another_store(tmp_path):
    d = _store_with_events(tmp_path)
    path = tmp_path / "m.json"
    with siglog.open(d) as s:
        list(s.stream("ev").replay(manifest=path))
    m = json.loads(path.read_text())
    m["digest"] = "f" * 64
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(m))
    other = str(tmp_path / "other")
    with siglog.open(other, read_only=False, create=True) as s:
        s.create_stream("ev", partitions=2)
    with siglog.open(d) as s:
        with pytest.raises(siglog.ManifestMismatch) as e:
            s.stream("ev").replay_manifest(changed)
        assert e.value.name == "MANIFEST" and "300 events then, 300 now" in e.value.detail
    with siglog.open(other) as s:
        with pytest.raises(siglog.ManifestMismatch, match="is of store"):
            s.stream("ev").replay_manifest(path)
    m["options"]["limit"] = 5
    limited = tmp_path / "limited.json"
    limited.write_text(json.dumps(m))
    with siglog.open(d) as s:
        with pytest.raises(ValueError, match="from-manifest"):
            s.stream("ev").replay_manifest(limited)


def test_from_manifest_in_another_format_delivers_the_same_events(store_path, tmp_path):
    path = tmp_path / "m.json"
    assert replay(store_path, "ev", "--merge", "--manifest", str(path)).returncode == 0
    value = replay(store_path, "ev", "--merge", "--format", "value").stdout
    again = subprocess.run([SIGLOG, "replay", "--from-manifest", str(path), "--format", "value"], capture_output=True)
    assert again.returncode == 0 and again.stdout == value, again.stderr


def test_after_a_forget_the_manifest_fails_naming_it(tmp_path):
    """A forget since the manifest (its events gone from sealed segments,
    recorded in the audit trail): the tool's --from-manifest and manifest
    verify exit 1 naming the forget and the partition, and the module's
    replay_manifest raises ManifestMismatch; nothing is delivered."""
    d = str(tmp_path / "store")
    path = tmp_path / "m.json"
    with siglog.open(d, read_only=False, create=True) as s:
        st = s.create_stream("ev", partitions=2, segment_bytes_max=65536)
        st.append([{"key": f"u{i % 5}", "value": {"n": i}} for i in range(20000)], durable=True)  # readable
        list(st.replay(manifest=path))
        # Later events of the other keys seal the segments the forgotten
        # key's events are in (a forget leaves the active one alone).
        st.append([{"key": f"u{(0, 1, 2, 4)[i % 4]}", "value": {"n": i}} for i in range(12000)])
    forget = subprocess.run([SIGLOG, "forget", d, "ev", "--key", "u3"], capture_output=True)
    assert forget.returncode == 0, forget.stderr
    m = json.loads(path.read_text())
    assert m["events"] == 20000
    for args in (["replay", "--from-manifest", str(path), "--format", "value"], ["manifest", "verify", str(path)]):
        r = subprocess.run([SIGLOG, *args], capture_output=True)
        assert r.returncode == 1 and r.stdout == b"", (args, r.stdout[:200], r.stderr)
        assert f"{m['events']} events then" in r.stderr.decode() and "forget by command of ev/" in r.stderr.decode()
    with siglog.open(d) as s:
        with pytest.raises(siglog.ManifestMismatch, match="20000 events then"):
            s.stream("ev").replay_manifest(path)
