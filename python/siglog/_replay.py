"""Replay: reading a stream back in batches of records (one foreign call
per batch: siglog_cursor_next_batch), as Events or as a pandas DataFrame.

A batch travels as columns (a tuple of equal-length lists in Event's
field order) until the last moment: each column comes out of the record
array in one C-level pass (a strided memoryview), keys and values are
cut out of the batch's bytes by map() without a Python loop per
record, and Events are made only when iterated, so to_pandas() builds
its columns without an Event per record.
"""
import ctypes
import functools
import heapq
import io
import json
import os
import struct
import sys
import threading
from array import array
from itertools import chain, compress, repeat
from operator import add, getitem, sub

from . import _lib, _manifest
from ._event import Event

_HEADER = struct.Struct(_lib.HEADER_FORMAT)
_RECORDS_PER_CALL = 4096

COLUMNS = Event._fields

# siglog_record seen as 64-bit words (and its 32-bit fields as halves of
# them): where each field sits, for strided reads of one field of every
# record of a batch.
_WORDS = ctypes.sizeof(_lib.Record) // 8
_OFFSET, _TS, _KEY, _VALUE, _HEADERS = (
    getattr(_lib.Record, f).offset // 8 for f in ("offset", "timestamp_us", "key", "value", "headers"))
_PARTITION, _SCHEMA, _FLAGS, _HEADER_COUNT = (
    getattr(_lib.Record, f).offset // 4 for f in ("partition", "schema_version", "flags", "header_count"))
# The lengths (size_t) as their low 32-bit halves, which hold all of a
# length (a record is at most a uint32 of bytes): a 32-bit column makes
# its ints in half the time of a 64-bit one. Which half is low depends
# on the byte order.
_KEY_LEN, _VALUE_LEN = (getattr(_lib.Record, f).offset // 4 + (sys.byteorder == "big")
                        for f in ("key_len", "value_len"))


class _Batches:
    """The record array and buffer a batch call (siglog_cursor_next_batch,
    siglog_sort_next_batch) fills, and its records read out as columns."""

    def __init__(self, batch_bytes):
        self.recs = (_lib.Record * _RECORDS_PER_CALL)()
        raw = memoryview(self.recs).cast("B")
        self.words, self.signed, self.halves = raw.cast("Q"), raw.cast("q"), raw.cast("I")
        self.buf = ctypes.create_string_buffer(batch_bytes)
        self.zeros = memoryview(array("I", bytes(4 * _RECORDS_PER_CALL)))

    def read(self, fill, streams, numbers, lates=None, partition=None):
        """The next batch as columns (see the module's doc), None at the
        end: fill(recs, max, buf, buf_len, used) is the batch call; streams(n)
        the stream column of its n records, lates(n) their late column (None:
        none is late); numbers makes the numeric
        columns (partition, offset, ts_us, schema_version) out of strided
        memoryviews: memoryview.tolist for lists, numpy.array for
        to_pandas. partition: given (the one partition a cursor's batch
        is from) only when nothing but _events will read the columns, once,
        row after row and each row left to right: offset, key and value may
        then be iterators that make them as the rows are read. The caller
        holds the locks."""
        used = ctypes.c_size_t()
        while True:
            n = fill(self.recs, _RECORDS_PER_CALL, self.buf, len(self.buf), ctypes.byref(used))
            if n != _lib.ETOOBIG:
                break
            self.buf = ctypes.create_string_buffer(used.value)  # one record is this big
        if not _lib.check(n):
            return None
        base = ctypes.addressof(self.buf)
        data = ctypes.string_at(base, used.value)
        end = n * _WORDS
        words, halves = self.words, self.halves

        def column(field):
            return words[field:end:_WORDS].tolist()

        def half(field):
            return halves[field:2 * end:2 * _WORDS]

        def sliced(pointer, lengths):
            # A NULL key (length 0) slices below the buffer: b"".
            starts = list(map(sub, column(pointer), repeat(base)))
            return list(map(getitem, repeat(data), map(slice, starts, map(add, starts, lengths))))

        def same(field):
            # The value of a 32-bit field when every record of the batch
            # has it, else None. Compared in C (memoryview equality), where
            # a column of ints costs an int object per record.
            view = half(field)
            value = view[0]
            like = self.zeros[:n] if value == 0 else memoryview(array("I", (value,)) * n)
            return value if view == like else None

        headerless = same(_HEADER_COUNT) == 0
        key_lens, value_lens = half(_KEY_LEN).tolist(), half(_VALUE_LEN).tolist()
        keyless = 0 in key_lens  # a key of no bytes is no key: None
        if headerless and sum(key_lens) + sum(value_lens) == used.value:
            # Records without headers are copied back to back (key, value,
            # key, ...: record_copy.c), which these lengths filling the
            # buffer prove: read in turn, they cut it with no slice made.
            cut = io.BytesIO(data).read
            if partition is not None and not keyless:
                # Read row by row, left to right, the key column is
                # always read just before the value column: each iterator
                # takes its bytes where the other left off. No list of
                # either is made.
                keys, values = map(cut, key_lens), map(cut, value_lens)
            else:
                # The lengths are interleaved by slice assignment, a copy
                # of pointers, where zip and chain would cost a tuple each.
                lengths = [0] * (2 * n)
                lengths[0::2], lengths[1::2] = key_lens, value_lens
                parts = list(map(cut, lengths))
                keys, values = parts[0::2], parts[1::2]
        else:
            keys, values = sliced(_KEY, key_lens), sliced(_VALUE, value_lens)
        if keyless:
            keys = [k or None for k in keys]
        if headerless:
            headers = [()] * n
        else:
            headers = [_headers(data, base, at, c) if c else ()
                       for at, c in zip(column(_HEADERS), half(_HEADER_COUNT).tolist())]
        if same(_FLAGS) == 0:
            tombstones = [False] * n
        else:
            tombstones = [bool(f & _lib.EVENT_TOMBSTONE) for f in half(_FLAGS).tolist()]
        offsets, schemas = words[_OFFSET:end:_WORDS], None
        if numbers is memoryview.tolist:
            schema = same(_SCHEMA)
            schemas = [schema] * n if schema is not None else None
            if partition is not None and offsets[-1] - offsets[0] == n - 1:
                # A partition's offsets grow: n of them this far apart are
                # the n in between.
                offsets = range(offsets[0], offsets[0] + n)
        return ([partition] * n if partition is not None else numbers(half(_PARTITION)),
                offsets if type(offsets) is range else numbers(offsets),
                numbers(self.signed[_TS:end:_WORDS]),
                keys, numbers(half(_SCHEMA)) if schemas is None else schemas, headers, values, tombstones,
                streams(n), lates(n) if lates else [False] * n)


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
        self.batches = _Batches(batch_bytes)

    def close(self):
        _lib.lib.siglog_cursor_close(self.cursor)
        self.cursor = None

    def read(self, numbers=memoryview.tolist, lazy=False):
        """The next batch as columns, None at the end (_Batches.read;
        lazy: its columns are only read by _events)."""
        return self.batches.read(functools.partial(_lib.lib.siglog_cursor_next_batch, self.cursor),
                                 lambda n: [self.stream_name] * n, numbers,
                                 partition=self.partition if lazy else None)


def _headers(data, base, at, count):
    """The (name, value) pairs of count headers whose array starts at
    address `at` of the buffer that starts at address base and whose bytes
    are data."""
    at -= base
    return tuple((data[kp - base:kp - base + kl].decode("utf-8", "surrogateescape"),
                  data[vp - base:vp - base + vl].decode("utf-8", "surrogateescape"))
                 for kp, kl, vp, vl in _HEADER.iter_unpack(data[at:at + count * _HEADER.size]))


def _as_columns(rows):
    """Rows (tuples in Event's field order) as a column batch."""
    return tuple(map(list, zip(*rows)))


def _rows(columns):
    """A batch's rows (tuples in Event's field order)."""
    return zip(*columns)


def _events(columns):
    """A batch's Events, made as they are read."""
    return map(tuple.__new__, repeat(Event), _rows(columns))


class Replay:
    """An iterator of Events over one stream or several read as one (from
    stream.replay() or store.replay()). Use as a context manager, or read
    it to its end, or close() it: each holds a cursor per partition. It
    ends at the high-water marks seen when it was made. Iterated from one
    thread at a time; any number of replays may read one store from many
    threads."""

    def __init__(self, sources, from_offset, to_offset, from_time, to_time, key, schema_version,
                 order, allow_gaps, batch_bytes, memory=None, spill_dir=None, manifest=None, bounds=None,
                 expect=None, max_lateness=None, redact=None):
        """sources: [(stream, [partitions])] in reading order; manifest:
        (path, the options it records) to write at a clean end (one
        stream); bounds: {partition: (start, end)} to read each from start
        and below end only (a replay of one stream from a manifest);
        expect: (events, digest, path) that the replay must deliver, else
        ManifestMismatch at its end; max_lateness: microseconds, the
        streaming event-time order (order "event-time"); redact: (level,
        mode) of siglog_redactor_open, None for none."""
        self._store = sources[0][0].store
        self._stream = sources[0][0]
        self._lock = threading.Lock()
        self._to_offset = to_offset
        self._from_time, self._to_time = from_time, to_time
        self._key, self._schema_version = key, schema_version
        self._merge = order == "merge"
        self._numbers = memoryview.tolist  # how batches' numeric columns are made (to_pandas changes it)
        self._lazy = False  # whether partitions' batches go to _events alone (__iter__ sets it)
        self._sort = self._reorder = self._keep = None
        self._redactors = {}  # stream name -> its redactor, when redacting
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
            if max_lateness is not None:
                self._reorder_open(memory, max_lateness)
            elif order == "event-time":
                self._sort_open(memory, spill_dir)
            self._ordered = _Batches(batch_bytes) if self._sort or self._reorder else None
            if redact is not None:
                for stream, _ in sources:
                    self._redactor_open(stream, *redact)
        except BaseException:
            self._close_cursors()
            raise
        self._store._replays.add(self)
        self._batches = self._delivered_batches() if self._delivered or self._redactors else self._all_batches()

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

    def _reorder_open(self, memory, max_lateness):
        """max_lateness: siglog_reorder over the cursors, the filters
        applied before it orders (what they drop moves no watermark), as
        `siglog replay --max-lateness` does."""
        o = _lib.ReorderOptions()
        _lib.lib.siglog_reorder_options_default(ctypes.byref(o))
        o.max_lateness_us = max_lateness
        if memory is not None:
            o.memory_bytes = memory
        if self._filtering():
            self._keep = _lib.KEEP_FN(self._keeps)  # referenced while the reorder may call it
            o.keep = self._keep
        cursors = (ctypes.c_void_p * max(1, len(self._readers)))(*[r.cursor for r in self._readers])
        reorder = ctypes.c_void_p()
        with self._store._guard:
            _lib.check(_lib.lib.siglog_reorder_open(ctypes.byref(reorder), cursors, len(self._readers),
                                                    ctypes.byref(o)))
        self._reorder = reorder

    def _keeps(self, _ctx, rec):
        """The reorder's keep: whether one record passes the filters."""
        r = rec.contents
        key = ctypes.string_at(r.key, r.key_len) if r.key_len else None
        return self._kept((r.partition,), (r.offset,), (r.timestamp_us,), (key,), (r.schema_version,))[0]

    def _ordered_batches(self, call, filtered, lates=None):
        """Batches of a batch call over all the cursors (the sort's or the
        reorder's): call(recs, cursor_index, max, buf, buf_len, used);
        filtered here unless `filtered` says the call filtered them;
        lates: the int array the call marks late records in."""
        names = [r.stream_name for r in self._readers]
        indexes = (ctypes.c_size_t * _RECORDS_PER_CALL)()
        index_words = memoryview(indexes).cast("B").cast("Q")

        def streams(n):
            return list(map(names.__getitem__, index_words[:n].tolist()))

        late_ints = memoryview(lates).cast("B").cast("i") if lates is not None else None

        def late_column(n):
            return list(map(bool, late_ints[:n].tolist()))

        def fill(recs, max_records, buf, buf_len, used):
            return call(recs, indexes, max_records, buf, buf_len, used)

        while True:
            with self._store._guard, self._lock:
                if self._readers is None:
                    raise _lib.ClosedError("replay")
                columns = self._ordered.read(fill, streams, self._numbers,
                                             late_column if lates is not None else None)
            if columns is None:
                return
            yield columns if filtered else self._filtered(columns)

    def _sorted_batches(self):
        """Batches in exact (ts, stream, partition, offset) order
        (siglog_sort_next_batch), filtered here."""
        return self._ordered_batches(functools.partial(_lib.lib.siglog_sort_next_batch, self._sort), filtered=False)

    def _reordered_batches(self):
        """Batches of what the reorder hands out (siglog_reorder_next_batch,
        the filters applied in it). When it has nothing more to hand out
        now, the cursors are at their end: it then hands out all it holds."""
        lates = (ctypes.c_int * _RECORDS_PER_CALL)()
        reorder, finished = self._reorder, False

        def call(recs, indexes, max_records, buf, buf_len, used):
            nonlocal finished
            while True:
                n = _lib.lib.siglog_reorder_next_batch(reorder, recs, indexes, lates, max_records, buf, buf_len, used)
                if n or finished:
                    return n
                _lib.lib.siglog_reorder_finish(reorder)
                finished = True

        return self._ordered_batches(call, filtered=True, lates=lates)

    def _filtering(self):
        """Whether a filter drops any record."""
        return any(f is not None for f in (self._to_offset, self._ends, self._key, self._schema_version,
                                           self._from_time, self._to_time))

    def _kept(self, parts, offsets, times, keys, versions):
        """Which rows pass the filters, a bool each; None when there are no
        filters (all do)."""
        if not self._filtering():
            return None
        to_offset, ends, key, schema = self._to_offset, self._ends, self._key, self._schema_version
        from_time, to_time = self._from_time, self._to_time
        return [not ((to_offset is not None and off >= to_offset) or
                     (ends is not None and off >= ends[part]) or
                     (from_time is not None and ts < from_time) or
                     (to_time is not None and ts >= to_time) or
                     (key is not None and k != key) or
                     (schema is not None and sv != schema))
                for part, off, ts, k, sv in zip(parts, offsets, times, keys, versions)]

    def _filtered(self, columns):
        """The rows of a batch that pass the filters (all of it when there
        are none)."""
        keep = self._kept(*columns[:5])
        return columns if keep is None else tuple(list(compress(c, keep)) for c in columns)

    def _close_cursors(self):
        with self._lock:
            if self._sort is not None:
                _lib.lib.siglog_sort_close(self._sort)
                self._sort = None
            if self._reorder is not None:
                _lib.lib.siglog_reorder_close(self._reorder)
                self._reorder = None
            for r in self._readers or ():
                r.close()
            self._readers = None
            for redactor in self._redactors.values():
                _lib.lib.siglog_redactor_close(redactor)
            self._redactors = {}

    def _batch(self, reader):
        with self._store._guard, self._lock:
            if self._readers is None:
                raise _lib.ClosedError("replay")
            return reader.read(self._numbers, self._lazy)

    def _partition_batches(self, reader):
        """Batches of one partition that pass the filters."""
        bound = min((b for b in (self._to_offset, reader.end) if b is not None), default=None)
        while True:
            columns = self._batch(reader)
            if columns is None:
                return
            yield self._filtered(columns)
            if bound is not None and columns[1][-1] >= bound:
                return  # offsets grow within a partition: none below bound follows

    def _all_batches(self):
        """Every batch in delivery order."""
        if self._readers is None:
            raise _lib.ClosedError("replay")
        readers = list(self._readers)
        if self._reorder is not None:
            yield from self._reordered_batches()
        elif self._sort is not None:
            yield from self._sorted_batches()
        elif self._merge:
            gens = [chain.from_iterable(map(_rows, self._partition_batches(r))) for r in readers]
            # The library's merge order: time, stream name, partition, offset.
            merged = heapq.merge(*gens, key=lambda row: (row[2], row[8], row[0], row[1]))
            while True:
                chunk = [row for _, row in zip(range(_RECORDS_PER_CALL), merged)]
                if not chunk:
                    break
                yield _as_columns(chunk)
        else:
            for r in readers:
                yield from self._partition_batches(r)
        reads = self._reads() if self._delivered else None
        self.close()
        if self._delivered:
            self._finish_manifest(reads)

    def _delivered_batches(self):
        """_all_batches as they are delivered: redacted when asked (after
        the filters, as siglog replay --redact does), then added to what
        the manifest records (so its digest is of the redacted values)."""
        for columns in self._all_batches():
            if self._redactors:
                columns = self._redacted(columns)
            if self._delivered:
                self._delivered.add(list(_rows(columns)))
            yield columns

    def _redactor_open(self, stream, level, mode):
        redactor = ctypes.c_void_p()
        with self._store._guard:
            _lib.check(_lib.lib.siglog_redactor_open(ctypes.byref(redactor), stream._handle, level, mode))
        self._redactors[stream.name] = redactor

    def _redacted(self, columns):
        """The batch with each value redacted by its stream's redactor
        (siglog_redact; a tombstone's value is not redacted, as the tool
        does). A value that cannot be redacted raises (ESCHEMA naming
        it): nothing is handed out as stored."""
        values = []
        rec, value, length = _lib.Record(), ctypes.c_void_p(), ctypes.c_size_t()
        with self._store._guard, self._lock:
            if self._readers is None:
                raise _lib.ClosedError("replay")
            for part, off, ts, version, v, tombstone, name in zip(*(columns[COLUMNS.index(f)] for f in _REDACT_USES)):
                if tombstone:
                    values.append(v)
                    continue
                held = ctypes.c_char_p(v)  # the value's bytes, alive through the call
                rec.partition, rec.offset, rec.timestamp_us, rec.schema_version = (
                    int(part), int(off), int(ts), int(version))
                rec.value, rec.value_len = ctypes.cast(held, ctypes.c_void_p), len(v)
                _lib.check(_lib.lib.siglog_redact(self._redactors[name], ctypes.byref(rec), ctypes.byref(value),
                                                  ctypes.byref(length)))
                values.append(ctypes.string_at(value.value, length.value) if length.value else b"")
        return tuple(values if name == "value" else col for name, col in zip(COLUMNS, columns))

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
        # Nothing but _events reads the batches of a replay that neither
        # filters, merges, redacts nor records them: they may be lazy.
        self._lazy = not (self._filtering() or self._merge or self._delivered or self._redactors)
        return chain.from_iterable(map(_events, self._batches))

    def to_pandas(self, fields=None, values="bytes"):
        """The rest of the replay as a pandas DataFrame, one row per event
        with Event's fields as columns: ts (datetime64 in UTC) first, then
        partition (int32), offset and ts_us (int64), key (bytes or None),
        schema_version (uint32), headers, value (bytes; str decoded as
        UTF-8 with values="str", bytes that are not UTF-8 as surrogate
        escapes), tombstone (bool), stream and late (bool). fields=[names] adds the JSON
        value's top-level fields of those names as columns (None where a
        value lacks one or is no JSON object): values are parsed only then.
        Columns are gathered batch by batch, never an Event per row.
        Needs pandas (Debian: python3-pandas)."""
        if values not in ("bytes", "str"):
            raise ValueError(f"values must be 'bytes' or 'str', not {values!r}")
        try:
            import numpy
            import pandas
        except ImportError as e:
            raise ImportError("Replay.to_pandas() needs pandas, which is not installed "
                              "(Debian: apt-get install python3-pandas)") from e
        if not (self._merge or self._delivered):
            # Numeric columns as arrays, no int objects (a merge compares
            # rows and a manifest records numbers: both want Python ints).
            self._numbers = numpy.array
        self._lazy = False
        parts = [[] for _ in COLUMNS]
        for batch in self._batches:
            for col, part in zip(parts, batch):
                col.append(part)
        rows = sum(map(len, parts[0]))

        def objects(items):
            # An object array made here, which the frame takes as it is
            # (copy=False): from a list pandas makes one, then copies it
            # into a block, at twice the cost of the whole conversion.
            return numpy.fromiter(items, dtype=object, count=rows)

        frame = {}
        for name, col in zip(COLUMNS, parts):
            dtype = _NUMERIC_COLUMNS.get(name)
            if dtype is None:
                frame[name] = objects(chain.from_iterable(col))
            else:
                frame[name] = numpy.concatenate([numpy.asarray(c, dtype=dtype) for c in col]) if col else \
                    numpy.array([], dtype=dtype)
        raw = frame["value"]
        if values == "str":
            frame["value"] = objects(map(str, raw, repeat("utf-8"), repeat("surrogateescape")))
        data = {"ts": pandas.to_datetime(frame["ts_us"], unit="us", utc=True)}
        data.update(frame)
        if fields:
            parsed = [_json_object(v) for v in raw]
            for name in fields:
                data[name] = [o.get(name) for o in parsed]  # a list: pandas picks the column's type
        return pandas.DataFrame(data, copy=False)


# The columns a value's redaction reads, in _redacted's order.
_REDACT_USES = ("partition", "offset", "ts_us", "schema_version", "value", "tombstone", "stream")

# to_pandas's numeric columns and their types (the others stay objects).
_NUMERIC_COLUMNS = {"partition": "int32", "offset": "int64", "ts_us": "int64", "schema_version": "uint32",
                    "tombstone": "bool", "late": "bool"}


def _json_object(value):
    """The value as a JSON object, or {} when it is not one."""
    try:
        obj = json.loads(value)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
