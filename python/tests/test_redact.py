"""replay(redact=...): the values siglog replay --redact delivers, byte
for byte (the tool is the reference: its pseudonyms are checked against
FORMAT.md section 25 by tests/cli), in both modes, over one stream and
several, and in event-time order; no personal value is handed out; a
tombstone's value is not redacted; an event that cannot be redacted
raises rather than coming out as stored; a manifest records the
redaction and its digest is the tool's, and replay_manifest redacts the
same way again."""
import json
import os
import subprocess
import tempfile

import pytest

import siglog

SIGLOG = os.environ.get("SIGLOG_BIN")
pytestmark = pytest.mark.skipif(not SIGLOG, reason="SIGLOG_BIN names no siglog binary")

DEFINITION = {"type": "object", "properties": {
    "n": {"type": "integer"},
    "user": {"type": "string", "x-sensitivity": "personal"},
    "email": {"type": "string", "x-sensitivity": "secret"},
    "note": {"type": "string", "x-sensitivity": "internal"},
    "device": {"type": "object", "properties": {"id": {"x-sensitivity": "personal"}}}}}
PERSONAL = [b"ursula-4411", b"ursula@mail.test", b"dev-77ab", b"viktor-9902"]


def run(*args):
    r = subprocess.run([SIGLOG, *args], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


@pytest.fixture(scope="module")
def store_path():
    """Streams "clicks" (2 partitions) and "views" of version 1, whose
    schema marks user and device.id personal, email secret, note
    internal; times out of order; one tombstone."""
    root = os.environ.get("SIGLOG_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    d = tempfile.mkdtemp(prefix="py-redact-", dir=root)
    store = os.path.join(d, "store")
    definition = os.path.join(d, "def.json")
    with open(definition, "w") as f:
        json.dump(DEFINITION, f)
    run("init", store)
    for name, parts in (("clicks", "2"), ("views", "1")):
        run("stream", "create", store, name, "--partitions", parts)
        run("schema", "add", store, name, "--version", "1", "--file", definition)
    users = ["ursula-4411", "viktor-9902"]
    with siglog.open(store, read_only=False) as s:
        s.stream("clicks").append(
            [{"key": f"k{i % 5}", "ts": 1_000_000 * (50 - i), "schema_version": 1,
              "value": {"n": i, "user": users[i % 2], "email": "ursula@mail.test", "note": f"note-{i}",
                        "device": {"id": "dev-77ab", "model": "m1"}}} for i in range(40)]
            + [{"key": "k1", "ts": 7, "schema_version": 1, "value": b"", "tombstone": True}])
        s.stream("views").append([{"key": f"k{i % 5}", "ts": 1_000_000 * i + 3, "schema_version": 1,
                                   "value": {"n": i, "user": users[i % 2], "page": "/home"}} for i in range(10)])
    return store


def cli_values(store, streams, *args):
    return run("replay", store, streams, "--format", "value", *args).splitlines()


@pytest.mark.parametrize("level,mode", [("personal", "hash"), ("personal", "drop"), ("internal", "hash"),
                                        ("secret", "drop")])
def test_values_are_the_tools(store_path, level, mode):
    extra = ["--redact", level, "--redact-mode", mode]
    with siglog.open(store_path) as s:
        got = [e.value for e in s.stream("clicks").replay(redact=level, redact_mode=mode)]
        assert got == cli_values(store_path, "clicks", *extra)
        merged = [e.value for e in s.replay(["clicks", "views"], order="event-time", redact=level, redact_mode=mode)]
        assert merged == cli_values(store_path, "clicks,views", "--order", "event-time", *extra)
    if level == "personal":
        for value in got + merged:
            assert not any(p in value for p in PERSONAL), value
        assert any(b"note-" in v for v in got) and any(b"/home" in v for v in merged)


def test_unredacted_replay_and_tombstones_are_as_stored(store_path):
    with siglog.open(store_path) as s:
        plain = list(s.stream("clicks").replay())
        redacted = list(s.stream("clicks").replay(redact="personal"))
    assert any(b"ursula-4411" in e.value for e in plain)
    assert [e.tombstone for e in redacted] == [e.tombstone for e in plain]
    assert [e.value for e in redacted if e.tombstone] == [b""]
    assert [e[:6] for e in redacted] == [e[:6] for e in plain]  # only values change


def test_an_event_that_cannot_be_redacted_raises(tmp_path, store_path):
    with siglog.open(store_path) as s:
        with pytest.raises(ValueError, match="redact"):
            s.stream("clicks").replay(redact="public")
        with pytest.raises(ValueError, match="redact_mode"):
            s.stream("clicks").replay(redact="personal", redact_mode="blur")
    store = str(tmp_path / "bad")
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps(DEFINITION))
    run("init", store)
    run("stream", "create", store, "ev", "--partitions", "1")
    run("schema", "add", store, "ev", "--version", "1", "--file", str(definition))
    with siglog.open(store, read_only=False) as s:
        s.stream("ev").append([{"schema_version": 1, "value": {"n": 1, "user": "ursula-4411"}},
                               {"schema_version": 1, "value": b"[\"ursula-4411\"]"}])
    with siglog.open(store) as s:
        seen = []
        with pytest.raises(siglog.Error) as e:
            for ev in s.stream("ev").replay(redact="personal"):
                seen.append(ev.value)
        assert e.value.name == "ESCHEMA" and "offset 1" in e.value.detail
        assert not any(b"ursula-4411" in v for v in seen)
        # Filtered out, it is not redacted: the tool's order.
        assert len(list(s.stream("ev").replay(to_offset=1, redact="personal"))) == 1


def test_a_manifest_records_the_redaction_and_replays_it(tmp_path, store_path):
    mine, theirs = tmp_path / "py.json", tmp_path / "cli.json"
    with siglog.open(store_path) as s:
        st = s.stream("clicks")
        got = [e.value for e in st.replay(order="event-time", redact="personal", redact_mode="drop", manifest=mine)]
        again = [e.value for e in st.replay_manifest(mine)]
    cli_values(store_path, "clicks", "--order", "event-time", "--redact", "personal", "--redact-mode", "drop",
               "--manifest", str(theirs))
    m, t = json.loads(mine.read_text()), json.loads(theirs.read_text())
    assert m["options"]["redact"] == t["options"]["redact"] == {"level": "personal", "mode": "drop"}
    assert (m["digest"], m["events"]) == (t["digest"], t["events"])
    assert again == got
    assert run("replay", "--from-manifest", str(mine), "--format", "value").splitlines() == got


def test_to_pandas_takes_the_redacted_values(store_path):
    pytest.importorskip("pandas")
    with siglog.open(store_path) as s:
        df = s.stream("clicks").replay(redact="personal").to_pandas(fields=["user", "n"])
    assert df["value"].tolist() == cli_values(store_path, "clicks", "--redact", "personal")
    assert not df["user"].isin(["ursula-4411", "viktor-9902"]).any() and df["n"].notna().sum() == 40
