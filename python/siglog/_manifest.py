"""Replay manifests (FORMAT.md section 22) from Python: what a replay
delivered (the content digest, each partition's delivered range, the schema
versions), the manifest written atomically when it ends cleanly, and a
manifest read back to replay the same events again.

The manifest is the one `siglog replay --manifest` writes, so either side
replays or verifies the other's (`siglog manifest verify`)."""
import ctypes
import hashlib
import json
import os
import struct

from . import _lib

VERSION = 2
_FRAME = struct.Struct("<IQqI")
_LENGTH = struct.Struct("<I")


class ManifestMismatch(_lib.Error):
    """The store no longer delivers what a manifest records (another store,
    other events): `detail` says what differs."""

    def __init__(self, detail):
        super().__init__(None, "MANIFEST", detail)


class Delivered:
    """The digest, ranges, schema versions and count of the events one
    stream's replay delivered, in delivery order."""

    def __init__(self):
        self.digest = hashlib.blake2b(digest_size=32)
        self.ranges = {}  # partition -> [first, last, events]
        self.versions = []
        self.events = 0

    def add(self, rows):
        """Account for a batch of rows (Event field order)."""
        update = self.digest.update
        for part, off, ts, key, version, _headers, value, *_ in rows:
            key = key or b""
            update(_FRAME.pack(part, off, ts, len(key)) + key + _LENGTH.pack(len(value)) + value)
            r = self.ranges.get(part)
            if r is None:
                self.ranges[part] = [off, off, 1]
            else:
                r[0], r[1], r[2] = min(r[0], off), max(r[1], off), r[2] + 1
            if version not in self.versions:
                self.versions.append(version)
        self.events += len(rows)


def _fingerprint(stream, version):
    info = _lib.SchemaInfo()
    with stream.store._guard:
        if _lib.lib.siglog_schema_get(stream._handle, version, ctypes.byref(info)) != 0:
            return None
    return f"{info.fingerprint:016x}"


def document(stream, options, reads, delivered):
    """The manifest of a finished replay of `stream`: options as the CLI
    records them, reads as [(partition, start, end)]."""
    name = stream.name
    return {
        "manifest_version": VERSION,
        "store_id": f"{stream.store.store_id():016x}",
        "store": os.path.realpath(stream.store.path),
        "streams": [name],
        "options": options,
        "read": [{"stream": name, "partition": p, "start_offset": s, "end_offset": e} for p, s, e in sorted(reads)],
        "partitions": [{"stream": name, "partition": p, "first_offset": r[0], "last_offset": r[1], "events": r[2]}
                       for p, r in sorted(delivered.ranges.items())],
        "schemas": [{"stream": name, "version": v, "fingerprint": _fingerprint(stream, v)}
                    for v in delivered.versions],
        "events": delivered.events,
        "digest_algorithm": "blake2b-256",
        "digest": delivered.digest.hexdigest(),
    }


def write(path, doc):
    """doc to path through a synced temporary file beside it, renamed over
    it, the directory synced: a reader sees the old file or the new one."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path, stream):
    """The manifest at path as replay arguments for `stream`, checked to be
    of its store and of it alone: (replay keyword arguments, events,
    digest). ManifestMismatch for another store; ValueError for what the
    Python replay cannot repeat (several streams, header filters, a
    limit)."""
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    if m.get("manifest_version") != VERSION:
        raise ValueError(f"{path}: manifest version {m.get('manifest_version')!r}, this module reads {VERSION}")
    have = f"{stream.store.store_id():016x}"
    if m["store_id"] != have:
        raise ManifestMismatch(f"the manifest {path} is of store {m['store_id']}, and {stream.store.path} is "
                               f"store {have}")
    if m["streams"] != [stream.name]:
        raise ValueError(f"{path} replays streams {m['streams']}: use siglog replay --from-manifest")
    o = m["options"]
    if o["headers"] or o["limit"] is not None:
        raise ValueError(f"{path} filters by header or has a limit: use siglog replay --from-manifest")
    key = o["key"]
    kwargs = {
        "partitions": o["partitions"], "from_offset": o["from_offset"], "to_offset": o["to_offset"],
        "from_time": o["from_time_us"], "to_time": o["to_time_us"],
        "key": None if key is None else key.encode(), "schema_version": o["schema_version"],
        "order": o["order"], "allow_gaps": o["allow_gaps"],
        "bounds": {r["partition"]: (r["start_offset"], r["end_offset"]) for r in m["read"]},
    }
    if o.get("redact"):
        kwargs.update(redact=o["redact"]["level"], redact_mode=o["redact"]["mode"])
    return kwargs, m["events"], m["digest"]


def options(partitions, from_offset, to_offset, from_time, to_time, key, schema_version, order, allow_gaps,
            redact=None, redact_mode="hash"):
    """A Python replay's options as the manifest records them."""
    return {
        "partitions": partitions, "from_offset": from_offset, "to_offset": to_offset,
        "from_time_us": from_time, "to_time_us": to_time,
        "key": None if key is None else key.decode("utf-8", "surrogateescape"),
        "schema_version": schema_version, "headers": [], "order": order, "follow": False,
        "allow_gaps": bool(allow_gaps), "limit": None, "format": "jsonl", "consumer": None,
        "redact": None if redact is None else {"level": redact, "mode": redact_mode},
    }
