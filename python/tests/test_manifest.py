"""siglog replay --manifest: the manifest's digest recomputed here from
the replay's own jsonl output with hashlib's BLAKE2b and the framing of
FORMAT.md section 22, its ranges and counts checked against the events,
and no manifest when the replay does not end cleanly."""
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


def recomputed(jsonl):
    """BLAKE2b-256 over partition u32, offset u64, ts i64, key length u32,
    key, value length u32, value (little-endian), in delivery order."""
    h = hashlib.blake2b(digest_size=32)
    for line in jsonl.splitlines():
        e = json.loads(line)
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
    assert m["partitions"] == [{"partition": p, "first_offset": min(o), "last_offset": max(o), "events": len(o)}
                               for p, o in sorted(ranges.items())]
    assert sorted(s["version"] for s in m["schemas"]) == sorted({e["schema"] for e in lines})
    assert m["stream"] == "ev" and m["options"]["format"] == "jsonl"


def test_the_options_are_recorded(store_path, tmp_path):
    path = tmp_path / "m.json"
    r = replay(store_path, "ev", "--manifest", str(path), "--order", "event-time", "--key", "user3",
               "--header", "consent=granted", "--from-time", "0", "--to-offset", "400", "--partition", "1")
    assert r.returncode == 0, r.stderr
    o = json.loads(path.read_text())["options"]
    assert o == {"partitions": [1], "from_offset": None, "to_offset": 400, "from_time_us": 0, "to_time_us": None,
                 "key": "user3", "schema_version": None, "headers": [["consent", "granted"]],
                 "order": "event-time", "follow": False, "allow_gaps": False, "limit": None, "format": "jsonl"}


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
