"""Replay: reading a stream back in batches of records (one foreign call
per batch: siglog_cursor_next_batch), as Events or as a pandas DataFrame.

Rows are plain tuples in Event's field order until the last moment, so
to_pandas() builds its columns without making an Event per record.
"""
import ctypes
import functools
import heapq
import json
import os
import struct
import threading

from . import _lib, _manifest
from ._event import Event

_RECORD = struct.Struct(_lib.RECORD_FORMAT)
_HEADER = struct.Struct(_lib.HEADER_FORMAT)
_RECORDS_PER_CALL = 4096

COLUMNS = Event._fields


class _PartitionReader:
    """One partition's cursor and the buffers its batches land in."""

    def __init__(self, stream, partition, seek, arg, flags, batch_bytes):
        cur = ctypes.c_void_p()
        with stream.store._guard:
            _lib.check(_lib.lib.siglog_cursor_open(ctypes.byref(cur), stream._handle, partition, seek, arg, flags))
        self.cursor = cur
        self.partition = partition
        self.start = _lib.lib.siglog_cursor_position(cur)
        self.end = None  # a manifest's bound: read only offsets below it
        self.stream_name = stream.name
        self.recs = (_lib.Record * _RECORDS_PER_CALL)()
        self.buf = ctypes.create_string_buffer(batch_bytes)

    def close(self):
        _lib.lib.siglog_cursor_close(self.cursor)
        self.cursor = None

    def read(self):
        """The next batch as (count, record tuples, bytes of the buffer,
        its address); count 0 at the end. The caller holds the locks."""
        used = ctypes.c_size_t()
        while True:
            n = _lib.lib.siglog_cursor_next_batch(self.cursor, self.recs, _RECORDS_PER_CALL, self.buf,
                                                  len(self.buf), ctypes.byref(used))
            if n != _lib.ETOOBIG:
                break
            self.buf = ctypes.create_string_buffer(used.value)  # one record is this big
        _lib.check(n)
        base = ctypes.addressof(self.buf)
        records = _RECORD.iter_unpack(ctypes.string_at(ctypes.addressof(self.recs), n * _RECORD.size))
        return n, records, ctypes.string_at(base, used.value), base


def _headers(data, base, at, count):
    """The (name, value) pairs of count headers whose array starts at
    address `at` of the buffer that starts at address base and whose bytes
    are data."""
    at -= base
    return tuple((data[kp - base:kp - base + kl].decode("utf-8", "surrogateescape"),
                  data[vp - base:vp - base + vl].decode("utf-8", "surrogateescape"))
                 for kp, kl, vp, vl in _HEADER.iter_unpack(data[at:at + count * _HEADER.size]))


class Replay:
    """An iterator of Events over one stream or several read as one (from
    stream.replay() or store.replay()). Use as a context manager, or read
    it to its end, or close() it: each holds a cursor per partition. It
    ends at the high-water marks seen when it was made. Iterated from one
    thread at a time; any number of replays may read one store from many
    threads."""

    def __init__(self, sources, from_offset, to_offset, from_time, to_time, key, schema_version,
                 order, allow_gaps, batch_bytes, memory=None, spill_dir=None, manifest=None, bounds=None,
                 expect=None):
        """sources: [(stream, [partitions])] in reading order; manifest:
        (path, the options it records) to write at a clean end (one
        stream); bounds: {partition: (start, end)} to read each from start
        and below end only (a replay of one stream from a manifest);
        expect: (events, digest, path) that the replay must deliver, else
        ManifestMismatch at its end."""
        self._store = sources[0][0].store
        self._stream = sources[0][0]
        self._lock = threading.Lock()
        self._to_offset = to_offset
        self._from_time, self._to_time = from_time, to_time
        self._key, self._schema_version = key, schema_version
        self._merge = order == "merge"
        self._sort = None
        if from_offset is not None:
            seek, arg = _lib.SEEK_OFFSET, from_offset
        elif from_time is not None:
            seek, arg = _lib.SEEK_TIME, from_time
        else:
            seek, arg = _lib.SEEK_START, 0
        flags = _lib.CURSOR_ALLOW_GAPS if allow_gaps else 0
        self._manifest, self._expect = manifest, expect
        self._delivered = _manifest.Delivered() if manifest or expect else None
        self._ends = {p: end for p, (_, end) in bounds.items()} if bounds else None
        # Every cursor opens before anything is read: the replay ends at
        # the high-water marks of this moment.
        self._readers = []
        try:
            for stream, partitions in sources:
                for p in partitions:
                    if bounds:
                        seek, arg = _lib.SEEK_OFFSET, bounds[p][0]
                    reader = _PartitionReader(stream, p, seek, arg, flags, batch_bytes)
                    reader.end = self._ends[p] if bounds else None
                    self._readers.append(reader)
            if order == "event-time":
                self._sort_open(memory, spill_dir)
        except BaseException:
            self._close_cursors()
            raise
        self._store._replays.add(self)
        self._rows = self._rows_accounted() if self._delivered else self._all_rows()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_readers", None):
            self.close()

    def close(self):
        """Free the cursors; reading on raises ClosedError."""
        self._close_cursors()
        self._store._replays.discard(self)

    def _sort_open(self, memory, spill_dir):
        """order="event-time": siglog_sort over the cursors (it reads them
        all now, spilling sorted runs past `memory` bytes)."""
        o = _lib.SortOptions()
        _lib.lib.siglog_sort_options_default(ctypes.byref(o))
        if memory is not None:
            o.memory_bytes = memory
        if spill_dir is not None:
            o.spill_dir = os.fsencode(spill_dir)
        cursors = (ctypes.c_void_p * max(1, len(self._readers)))(*[r.cursor for r in self._readers])
        sort = ctypes.c_void_p()
        with self._store._guard:
            _lib.check(_lib.lib.siglog_sort_open(ctypes.byref(sort), cursors, len(self._readers), ctypes.byref(o)))
        self._sort = sort

    def _sorted_rows(self):
        """Rows in exact (ts, stream, partition, offset) order, filtered
        here."""
        rec = ctypes.POINTER(_lib.Record)()
        index = ctypes.c_size_t()
        names = [r.stream_name for r in self._readers]
        while True:
            rows = []
            with self._store._guard, self._lock:
                if self._readers is None:
                    raise _lib.ClosedError("replay")
                for _ in range(_RECORDS_PER_CALL):
                    if not _lib.check(_lib.lib.siglog_sort_next(self._sort, ctypes.byref(rec), ctypes.byref(index))):
                        break
                    r = rec.contents
                    headers = ()
                    if r.header_count:
                        raw = ctypes.string_at(r.headers, r.header_count * _HEADER.size)
                        headers = tuple((ctypes.string_at(kp, kl).decode("utf-8", "surrogateescape"),
                                         ctypes.string_at(vp, vl).decode("utf-8", "surrogateescape"))
                                        for kp, kl, vp, vl in _HEADER.iter_unpack(raw))
                    rows.append((r.partition, r.offset, r.timestamp_us,
                                 ctypes.string_at(r.key, r.key_len) if r.key_len else None, r.schema_version,
                                 headers, ctypes.string_at(r.value, r.value_len),
                                 bool(r.flags & _lib.EVENT_TOMBSTONE), names[index.value]))
            if not rows:
                return
            yield [row for row in rows if self._selected(row)]

    def _selected(self, row):
        off, ts, k, sv = row[1], row[2], row[3], row[4]
        return not ((self._to_offset is not None and off >= self._to_offset) or
                    (self._ends is not None and off >= self._ends[row[0]]) or
                    (self._from_time is not None and ts < self._from_time) or
                    (self._to_time is not None and ts >= self._to_time) or
                    (self._key is not None and k != self._key) or
                    (self._schema_version is not None and sv != self._schema_version))

    def _close_cursors(self):
        with self._lock:
            if self._sort is not None:
                _lib.lib.siglog_sort_close(self._sort)
                self._sort = None
            for r in self._readers or ():
                r.close()
            self._readers = None

    def _batch(self, reader):
        with self._store._guard, self._lock:
            if self._readers is None:
                raise _lib.ClosedError("replay")
            return reader.read()

    def _partition_rows(self, reader):
        """Rows of one partition that pass the filters, batch by batch."""
        to_offset, from_time, to_time = self._to_offset, self._from_time, self._to_time
        if reader.end is not None:
            to_offset = reader.end if to_offset is None else min(to_offset, reader.end)
        key, schema = self._key, self._schema_version
        name = reader.stream_name
        while True:
            n, records, data, base = self._batch(reader)
            if n == 0:
                return
            if to_offset is None and from_time is None and to_time is None and key is None and schema is None:
                # No filter: the common case, built in one comprehension.
                yield [(part, off, ts, data[kp - base:kp - base + kl] if kl else None, sv,
                        _headers(data, base, hp, hc) if hc else (), data[vp - base:vp - base + vl],
                        bool(flags & _lib.EVENT_TOMBSTONE), name)
                       for off, ts, part, sv, flags, hc, kp, kl, vp, vl, hp in records]
                continue
            rows = []
            for off, ts, part, sv, flags, hc, kp, kl, vp, vl, hp in records:
                if to_offset is not None and off >= to_offset:
                    yield rows
                    return
                if (from_time is not None and ts < from_time) or (to_time is not None and ts >= to_time) or \
                        (schema is not None and sv != schema):
                    continue
                k = data[kp - base:kp - base + kl] if kl else None
                if key is not None and k != key:
                    continue
                rows.append((part, off, ts, k, sv, _headers(data, base, hp, hc) if hc else (),
                             data[vp - base:vp - base + vl], bool(flags & _lib.EVENT_TOMBSTONE), name))
            yield rows

    def _all_rows(self):
        """Every row in delivery order, in lists (one per batch read)."""
        if self._readers is None:
            raise _lib.ClosedError("replay")
        readers = list(self._readers)
        if self._sort is not None:
            yield from self._sorted_rows()
        elif self._merge:
            gens = [(row for rows in self._partition_rows(r) for row in rows) for r in readers]
            # The library's merge order: time, stream name, partition, offset.
            merged = heapq.merge(*gens, key=lambda row: (row[2], row[8], row[0], row[1]))
            while True:
                chunk = [row for _, row in zip(range(_RECORDS_PER_CALL), merged)]
                if not chunk:
                    break
                yield chunk
        else:
            for r in readers:
                yield from self._partition_rows(r)
        reads = self._reads() if self._delivered else None
        self.close()
        if self._delivered:
            self._finish_manifest(reads)

    def _rows_accounted(self):
        """_all_rows, each batch added to what the manifest records."""
        for rows in self._all_rows():
            self._delivered.add(rows)
            yield rows

    def _reads(self):
        """(partition, start, end) of each partition read: where its
        cursor started, and where its reading ended, below --to-offset and
        a manifest's bound."""
        reads = []
        with self._store._guard, self._lock:
            for r in self._readers or ():
                end = _lib.lib.siglog_cursor_position(r.cursor)
                for bound in (self._to_offset, r.end):
                    if bound is not None:
                        end = min(end, bound)
                reads.append((r.partition, r.start, max(end, r.start)))
        return reads

    def _finish_manifest(self, reads):
        """At the clean end: write the manifest, or check the expected one."""
        if self._manifest:
            path, options = self._manifest
            _manifest.write(path, _manifest.document(self._stream, options, reads, self._delivered))
        if self._expect:
            events, digest, path = self._expect
            got = self._delivered
            if got.events != events or got.digest.hexdigest() != digest:
                raise _manifest.ManifestMismatch(
                    f"store {self._store.path} no longer delivers what the manifest {path} records ({events} "
                    f"events then, {got.events} now): siglog manifest verify names what changed")

    def __iter__(self):
        make = functools.partial(tuple.__new__, Event)
        for rows in self._rows:
            yield from map(make, rows)

    def to_pandas(self, fields=None):
        """The rest of the replay as a pandas DataFrame, one row per event
        with Event's fields as columns (ts as datetime64 in UTC, ts_us
        beside it); fields=[names] adds the JSON value's top-level fields
        of those names as columns (None where a value lacks one or is no
        JSON object). Needs pandas (Debian: python3-pandas)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("Replay.to_pandas() needs pandas, which is not installed "
                              "(Debian: apt-get install python3-pandas)") from e
        columns = [[] for _ in COLUMNS]
        for rows in self._rows:
            for col, values in zip(columns, zip(*rows)):
                col.extend(values)
        frame = dict(zip(COLUMNS, columns))
        ts_us = pandas.array(frame["ts_us"], dtype="int64")
        data = {"ts": pandas.to_datetime(ts_us, unit="us", utc=True)}
        data.update(frame)
        data["ts_us"] = ts_us
        if fields:
            objects = [_json_object(v) for v in frame["value"]]
            for name in fields:
                data[name] = [o.get(name) for o in objects]
        return pandas.DataFrame(data)


def _json_object(value):
    """The value as a JSON object, or {} when it is not one."""
    try:
        obj = json.loads(value)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
