"""Stream: one stream of an open store — what it holds, reading it back,
and appending to it with the engine's durability semantics."""
import collections
import ctypes
import datetime
import json
import os

from . import _lib, _manifest
from ._event import to_us
from ._replay import Replay

PartitionInfo = collections.namedtuple(
    "PartitionInfo",
    "partition log_start_offset next_offset segment_count bytes index_bytes "
    "first_ts_us max_ts_us failed")

# One wait_durable call never outlasts this, so a store close waits at most
# this long for a thread waiting without a limit.
_WAIT_SLICE_US = 100_000


class Stream:
    """A stream of an open store (from store.stream(name)). Valid until the
    store's close; ClosedError after."""

    def __init__(self, store, name, handle):
        self.store = store
        self.name = name
        self._handle = handle

    def __repr__(self):
        return f"<siglog.Stream {self.name!r}>"

    def config(self):
        """The stream's settings by name (siglog_setting_* names)."""
        c = _lib.StreamConfig()
        with self.store._guard:
            _lib.lib.siglog_stream_config_get(self._handle, ctypes.byref(c))
        out = {}
        for i in range(_lib.lib.siglog_setting_count()):
            row = _lib.lib.siglog_setting_at(i)
            if row.contents.type == _lib.SETTING_TEXT:
                value = os.fsdecode(_lib.lib.siglog_setting_text(ctypes.byref(c), row))
            else:
                value = _lib.lib.siglog_setting_get(ctypes.byref(c), row)
            out[row.contents.name.decode()] = value
        return out

    def partitions(self):
        """A PartitionInfo per partition, in partition order."""
        count = self.config()["partitions"]
        infos = []
        info = _lib.PartitionInfo()
        with self.store._guard:
            for p in range(count):
                _lib.check(_lib.lib.siglog_partition_info_get(self._handle, p, ctypes.byref(info)))
                infos.append(PartitionInfo(p, info.log_start_offset, info.next_offset, info.segment_count,
                                           info.bytes, info.index_bytes, info.first_timestamp_us,
                                           info.max_timestamp_us, bool(info.failed)))
        return infos

    def stat(self):
        """The stream in figures, as a dict: name, partitions, events (the
        offsets still in the log), bytes on disk, the earliest first and
        latest largest event times (None when empty), settings."""
        parts = self.partitions()
        filled = [p for p in parts if p.next_offset > p.log_start_offset]
        return {
            "name": self.name,
            "partitions": len(parts),
            "events": sum(p.next_offset - p.log_start_offset for p in parts),
            "bytes": sum(p.bytes + p.index_bytes for p in parts),
            "first_ts_us": min((p.first_ts_us for p in filled), default=None),
            "max_ts_us": max((p.max_ts_us for p in filled), default=None),
            "config": self.config(),
        }

    def replay(self, partitions=None, from_offset=None, to_offset=None, from_time=None, to_time=None,
               key=None, schema_version=None, order="partition", allow_gaps=False, batch_bytes=1 << 20,
               memory=None, spill_dir=None, manifest=None, bounds=None, max_lateness=None, redact=None,
               redact_mode="hash", _expect=None):
        """An iterator of Events (see siglog.Replay): partitions in turn
        (order="partition") or interleaved in (ts, partition, offset)
        order (order="merge"; sorted when each partition's times are), or
        in exact (ts, partition, offset) order whatever the arrival order
        (order="event-time": an external sort that reads the selection
        when the replay is made, holding `memory` bytes (default 256 MiB)
        and spilling sorted runs to nameless files in spill_dir (default
        $TMPDIR or /tmp)).
        max_lateness (microseconds or a timedelta; order="event-time")
        is event-time order as events arrive, `siglog replay
        --max-lateness`'s: each event is held until the watermark (the
        greatest time read minus max_lateness) passes it, then handed out
        in order; one read when the watermark has already passed it comes
        at once with late=True, never dropped; at the end the rest come in
        order. Filters apply before the ordering; `memory` bounds what is
        held (past it the earliest goes out early). No spill_dir, no
        manifest (its order depends on arrival).
        Offsets and times are half-open ranges [from, to); times are
        microseconds or aware datetimes; key is bytes or str. It ends at
        the high-water marks seen when it starts.
        manifest=PATH writes, when the replay has been read to its end, the
        manifest `siglog replay --manifest` writes (FORMAT.md section 22):
        the store, the options, where each partition's reading started and
        ended, the delivered ranges and a BLAKE2b-256 digest of the events.
        bounds={partition: (start, end)} reads each partition from start
        and below end only (what stream.replay_manifest uses).
        redact="internal"|"personal"|"secret" hides every value of a field
        the event's schema version marks at that sensitivity or above, as
        `siglog replay --redact` does (siglog_redact, FORMAT.md section 25):
        redact_mode="hash" puts its pseudonym instead (this needs the
        store's secret, readable by the store's owner only), "drop" removes
        the field. An event that cannot be redacted raises siglog.Error
        ESCHEMA naming it, never comes out as stored."""
        return replay_streams([self], partitions, from_offset, to_offset, from_time, to_time, key, schema_version,
                              order, allow_gaps, batch_bytes, memory, spill_dir, manifest, bounds, max_lateness,
                              redact, redact_mode, _expect)

    def replay_manifest(self, path, **kwargs):
        """The replay a manifest (written by replay(manifest=...) or
        `siglog replay --manifest`) records, from this stream: the same
        events in the same order, each partition read where the first
        replay read it. It is checked first (read once without handing
        anything out): ManifestMismatch when the store is another one or
        delivers other events now; again at its end. kwargs: batch_bytes,
        memory, spill_dir. Header filters, a limit and several streams are
        for `siglog replay --from-manifest` (ValueError). A redacting
        manifest's replay redacts the same way."""
        args, events, digest = _manifest.load(path, self)
        args.update(kwargs)
        expect = (events, digest, os.fspath(path))
        with self.replay(**args, _expect=expect) as check:
            for _ in check._batches:
                pass
        return self.replay(**args, _expect=expect)

    def append(self, events, partition=None, durable=False, timeout=None):
        """Append events (each a dict with "value" and optionally "key",
        "ts" (microseconds or an aware datetime; default: now),
        "schema_version", "headers" (a dict or (name, value) pairs, str
        or bytes), "tombstone";
        or just a value). A value that is not bytes or str is stored as
        its JSON. partition: None routes by key. Returns a list of
        (partition, offset), acknowledged under the stream's sync policy;
        durable=True also waits until they are durable (wait_durable)."""
        items = [_event_fields(e) for e in events]
        if not items:
            return []
        arr = (_lib.Event * len(items))()
        keep = []
        for slot, (k, v, ts, schema, headers, flags) in zip(arr, items):
            slot.key, slot.key_len = k, len(k or b"")
            slot.value, slot.value_len = v, len(v)
            slot.timestamp_us, slot.schema_version, slot.flags = ts, schema, flags
            if headers:
                harr = (_lib.Header * len(headers))()
                for h, (hk, hv) in zip(harr, headers):
                    h.key, h.key_len, h.value, h.value_len = hk, len(hk), hv, len(hv)
                slot.headers, slot.header_count = harr, len(headers)
                keep.append(harr)
        parts = (ctypes.c_uint32 * len(items))()
        offsets = (ctypes.c_uint64 * len(items))()
        target = _lib.PARTITION_BY_KEY if partition is None else partition
        with self.store._guard:
            _lib.check(_lib.lib.siglog_append(self._handle, target, arr, len(items), parts, offsets))
        positions = list(zip(parts, offsets))
        if durable and not self.wait_durable(positions, timeout):
            raise TimeoutError(f"the events appended to {self.name!r} were not durable within {timeout} s")
        return positions

    def wait_durable(self, positions, timeout=None):
        """Wait until every (partition, offset) of positions is durable:
        True, or False when timeout seconds (None: no limit) passed first.
        A partition that failed raises siglog.Error EFAILED."""
        last = {}
        for p, o in positions:
            last[p] = max(o, last.get(p, 0))
        budget = None if timeout is None else int(timeout * 1e6)
        for p, o in sorted(last.items()):
            while True:
                step = _WAIT_SLICE_US if budget is None else min(_WAIT_SLICE_US, budget)
                with self.store._guard:
                    rc = _lib.check(_lib.lib.siglog_wait_durable(self._handle, p, o, step))
                if rc == 0:
                    break
                if budget is not None:
                    budget -= step
                    if budget <= 0:
                        return False
        return True


def _as_bytes(x, what):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    raise TypeError(f"{what} must be bytes or str, not {type(x).__name__}")


def _event_fields(e):
    """(key, value, ts_us, schema_version, headers, flags) of one event."""
    if not isinstance(e, dict):
        e = {"value": e}
    v = e.get("value", b"")
    if not isinstance(v, (bytes, str)):
        v = json.dumps(v, separators=(",", ":"))
    k = e.get("key")
    headers = e.get("headers") or ()
    if isinstance(headers, dict):
        headers = headers.items()
    headers = [(_as_bytes(hk, "a header name"), _as_bytes(hv, "a header value")) for hk, hv in headers]
    return (None if k is None else _as_bytes(k, "key"), _as_bytes(v, "value"), to_us(e.get("ts")) or 0,
            int(e.get("schema_version", 0)), headers, _lib.EVENT_TOMBSTONE if e.get("tombstone") else 0)


def replay_streams(streams, partitions=None, from_offset=None, to_offset=None, from_time=None, to_time=None,
                   key=None, schema_version=None, order="partition", allow_gaps=False, batch_bytes=1 << 20,
                   memory=None, spill_dir=None, manifest=None, bounds=None, max_lateness=None, redact=None,
                   redact_mode="hash", _expect=None):
    """The replay of Stream.replay over the streams (Stream objects of one
    store) read as one, as `siglog replay STORE S1,S2` reads them: in turn
    (each stream's partitions in turn), merged or in exact event-time
    order by (ts, stream name, partition, offset); every filter applies
    to each stream and partitions are each stream's. A manifest is of one
    stream (ValueError for several)."""
    if order not in ("partition", "merge", "event-time"):
        raise ValueError(f"order must be 'partition', 'merge' or 'event-time', not {order!r}")
    if max_lateness is not None:
        if order != "event-time":
            raise ValueError(f"max_lateness orders by event time: give order='event-time', not {order!r}")
        if spill_dir is not None or manifest is not None or bounds is not None:
            raise ValueError("max_lateness holds events in memory and its order depends on arrival: "
                             "no spill_dir, manifest or replay from a manifest")
        if isinstance(max_lateness, datetime.timedelta):
            max_lateness //= datetime.timedelta(microseconds=1)
    if redact is not None and redact not in _lib.REDACT_LEVELS:
        raise ValueError(f"redact must be one of {', '.join(_lib.REDACT_LEVELS)}, not {redact!r}")
    if redact_mode not in _lib.REDACT_MODES:
        raise ValueError(f"redact_mode must be one of {', '.join(_lib.REDACT_MODES)}, not {redact_mode!r}")
    requested = None if partitions is None else list(partitions)
    sources = [(st, sorted(bounds) if bounds else range(st.config()["partitions"]) if partitions is None
                else requested) for st in streams]
    if isinstance(key, str):
        key = key.encode()
    from_time, to_time = to_us(from_time), to_us(to_time)
    if manifest is not None and len(streams) > 1:
        raise ValueError("a manifest of several streams is written by siglog replay --manifest")
    if manifest is not None:
        manifest = (manifest, _manifest.options(requested, from_offset, to_offset, from_time, to_time, key,
                                                schema_version, order, allow_gaps, redact, redact_mode))
    return Replay([(st, list(p)) for st, p in sources], from_offset, to_offset, from_time, to_time,
                  key, schema_version, order, allow_gaps, batch_bytes, memory, spill_dir, manifest, bounds,
                  _expect, max_lateness,
                  None if redact is None else (_lib.REDACT_LEVELS[redact], _lib.REDACT_MODES[redact_mode]))

