#!/usr/bin/python3
"""siglog_ref -- an independent reference decoder for siglog stores.

Written from format-spec/FORMAT.md alone. It reads a store directory
without modifying anything, validates every structure and checksum the
format defines, and prints every event as one JSON object per line in the
envelope of `siglog replay --format jsonl` (FORMAT.md, "Appendix: the replay envelope"):
streams by name, partitions ascending, offsets ascending.

    siglog_ref.py [--strict] [--no-journal] [--headers] [--cold-dir DIR] STORE

Exit status 0 on success; 1 when the store is invalid (one line on stderr
naming the file, byte position and rule); 2 on usage errors. With
--strict, index, summary and key filter sidecars must also be exactly what
the writer produces (they are derivable, so a lenient reader only warns
about them; a key filter that excludes a key its segment holds is an error
either way). A partition's cold entries (section 4, "Cold tier") are read
from their archives in the stream's cold_dir, or in DIR with --cold-dir
(a store whose cold tier now lies elsewhere: the catalog records names,
not the directory).

Needs Debian's python3-lz4 and python3-xxhash.
"""

import argparse
import base64
import json
import os
import re
import struct
import sys

try:
    import lz4.block
    import xxhash
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write("siglog_ref: %s: install python3-lz4 python3-xxhash\n" % e)
    sys.exit(1)

INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1

# Limits (FORMAT.md, "Limits").
NAME_MAX = 128
PARTITIONS_MAX = 4096
HEADERS_MAX = 64
BATCH_BODY_MAX = 32 << 20
BATCH_RECORDS_MAX = 1 << 24
RECORD_BYTES_MIN = 8
INDEX_CAPACITY_MAX = 1 << 22
JSON_DEPTH_MAX = 2048  # nested arrays and objects in a value (Appendix)

STORE_MAGIC = b"SGLS"
STREAM_MAGIC = b"SGST"
CHECKPOINT_MAGIC = b"SGCK"
BATCH_MAGIC = b"SGB1"
INDEX_MAGIC = b"SGIX"
SUMMARY_MAGIC = b"SGSM"
JOURNAL_HEADER_MAGIC = b"SGJH"
JOURNAL_ENTRY_MAGIC = b"SGJE"

BATCH_HEADER = 64
JOURNAL_SLOT = 4096
JOURNAL_DATA_START = 2 * JOURNAL_SLOT
JOURNAL_ENTRY_HEADER = 32

NAME_RE = re.compile(r"\A[A-Za-z0-9._-]{1,128}\Z")
SEGMENT_RE = re.compile(r"\A([0-9]{20})\.seg\Z")


class FormatError(Exception):
    def __init__(self, path, pos, msg):
        where = path if pos is None else "%s: byte %d" % (path, pos)
        super().__init__("%s: %s" % (where, msg))


def xxh3(data):
    return xxhash.xxh3_64_intdigest(data)


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def i64(b, o):
    return struct.unpack_from("<q", b, o)[0]


def read_file(path, limit):
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FormatError(path, None, "longer than the %d bytes this file can have" % limit)
    return data


def warn(msg):
    sys.stderr.write("siglog_ref: warning: %s\n" % msg)


# ---------------------------------------------------------------- store file

def read_store_file(store):
    path = os.path.join(store, "siglog.store")
    b = read_file(path, 4096)
    if len(b) != 40:
        raise FormatError(path, None, "store file is %d bytes, expected 40" % len(b))
    if b[0:4] != STORE_MAGIC:
        raise FormatError(path, 0, "bad magic %r" % b[0:4])
    if u64(b, 32) != xxh3(b[0:32]):
        raise FormatError(path, 32, "checksum mismatch")
    version = u16(b, 4)
    if version not in (1, 2):
        raise FormatError(path, 4, "store format version %d, this reader knows 1 and 2" % version)
    # Version 1 records no modes (bytes 8..15 reserved too); version 2 the
    # file and directory modes new files and directories get.
    if any(b[6:16 if version == 1 else 8]):
        raise FormatError(path, 6, "reserved bytes are not zero")
    if version == 2:
        file_mode, dir_mode = u32(b, 8), u32(b, 12)
        if not file_mode or not dir_mode or (file_mode | dir_mode) & ~0o7777:
            raise FormatError(path, 8, "modes %o/%o are not permission bits" % (file_mode, dir_mode))
    return u64(b, 16)


# --------------------------------------------------------------- stream.meta

# Stream settings (section 4): v2 tag -> (name, min, max, default). Bit 15
# of a tag is the must-understand bit.
MUST_UNDERSTAND = 0x8000
DAY_US = 86400 * 1000000
RETENTION_AGE_MAX = 100 * 366 * DAY_US
SPACE_PERCENT = 1 << 63  # min_free: a percent (1..99) of the filesystem
SETTINGS = {
    0x8001: ("partitions", 1, PARTITIONS_MAX, 1),
    0x0002: ("compression", 0, 1, 1),
    0x0003: ("sync_policy", 0, 2, 1),
    0x0004: ("sync_interval_ms", 1, 60000, 100),
    0x0005: ("segment_bytes_max", 64 << 10, 1 << 30, 64 << 20),
    0x0006: ("segment_age_max_us", 0, (1 << 64) - 1, 24 * 3600 * 1000000),
    0x0007: ("record_bytes_max", 1, 16 << 20, 1 << 20),
    0x0008: ("batch_bytes_max", 1024, 16 << 20, 64 << 10),
    0x0009: ("linger_us", 0, 60000000, 5000),
    0x000A: ("index_interval_bytes", 64, 64 << 20, 4096),
    0x000B: ("contract", 0, 2, 0),
    0x0010: ("warm_level", 1, 12, 9),
    0x0011: ("warm_after", 0, RETENTION_AGE_MAX, 0),
    0x0012: ("cold_after", 0, RETENTION_AGE_MAX, 0),
    0x0013: ("delete_after", 0, RETENTION_AGE_MAX, 0),
    0x0014: ("max_bytes", 0, 1 << 60, 0),
    0x0015: ("cold_max_bytes", 0, 1 << 60, 0),
    0x0016: ("min_free", 0, 1 << 60, 0),
    0x0017: ("max_hold", 0, RETENTION_AGE_MAX, 0),
    0x0018: ("retention_interval", 0, 30 * DAY_US, 0),
    0x0020: ("cleanup", 0, 1, 0),
    0x0021: ("merge_below", 0, 1 << 30, 0),
    0x0022: ("tombstone_retention", 0, RETENTION_AGE_MAX, DAY_US),
    0x0023: ("compact_interval", 0, 30 * DAY_US, 0),
}
# Text settings: tag -> name; the value is the text's bytes (1..255, no
# NUL); no entry is "" (off).
TEXT_SETTINGS = {
    0x0019: "cold_dir",
}
TEXT_MAX = 255
TIERS = ("warm_after", "cold_after", "delete_after")


def check_cold_dir(path, pos, text):
    """cold_dir's rule: an absolute path, no control character, no '.'
    or '..' component."""
    if not text.startswith(b"/") or any(c < 0x20 or c == 0x7F for c in text) or \
            any(part in (b".", b"..") for part in text.split(b"/")):
        raise FormatError(path, pos, "cold_dir %r is not an absolute plain path" % text)
META_ENTRIES_MAX = 2048


def stream_meta_v1(path, b):
    """Version 1: the settings at fixed places. (name bytes, cfg)"""
    if len(b) < 72:
        raise FormatError(path, None, "not a stream metadata file")
    name_len = u32(b, 60)
    if name_len < 1 or name_len > NAME_MAX or len(b) != 64 + name_len + 8:
        raise FormatError(path, 60, "name length %d does not match file size %d" % (name_len, len(b)))
    end = 64 + name_len
    if u64(b, end) != xxh3(b[:end]):
        raise FormatError(path, end, "checksum mismatch")
    if u16(b, 6) != 0:
        raise FormatError(path, 6, "reserved bytes are not zero")
    cfg = {
        "id": u32(b, 8),
        "partitions": u32(b, 12),
        "compression": u32(b, 16),
        "sync_policy": u32(b, 20),
        "sync_interval_ms": u32(b, 24),
        "record_bytes_max": u32(b, 28),
        "segment_bytes_max": u64(b, 32),
        "segment_age_max_us": u64(b, 40),
        "batch_bytes_max": u32(b, 48),
        "linger_us": u32(b, 52),
        "index_interval_bytes": u32(b, 56),
    }
    for name, _, _, default in SETTINGS.values():
        cfg.setdefault(name, default)  # settings newer than version 1 take their defaults
    cfg.update({name: b"" for name in TEXT_SETTINGS.values()})
    return b[64:end], cfg


def stream_meta_v2(path, b):
    """Version 2: a header, the name, tag-length-value entries. (name
    bytes, cfg); a setting the file does not hold takes its default."""
    if len(b) < 24:
        raise FormatError(path, None, "not a stream metadata file")
    name_len, entries_len = u16(b, 6), u32(b, 12)
    if not 1 <= name_len <= NAME_MAX or entries_len > META_ENTRIES_MAX or \
            len(b) != 16 + name_len + entries_len + 8:
        raise FormatError(path, 6, "name length %d and entries length %d do not match file size %d"
                          % (name_len, entries_len, len(b)))
    end = len(b) - 8
    if u64(b, end) != xxh3(b[:end]):
        raise FormatError(path, end, "checksum mismatch")
    cfg = {name: default for name, _, _, default in SETTINGS.values()}
    cfg.update({name: b"" for name in TEXT_SETTINGS.values()})
    cfg["id"] = u32(b, 8)
    pos, prev = 16 + name_len, 0
    while pos < end:
        if end - pos < 4:
            raise FormatError(path, pos, "entry header cut")
        tag, vlen = u16(b, pos), u16(b, pos + 2)
        if tag <= prev:
            raise FormatError(path, pos, "tag 0x%04x not above the one before" % tag)
        if end - pos - 4 < vlen:
            raise FormatError(path, pos, "value of tag 0x%04x runs past the entries" % tag)
        if tag in SETTINGS:
            if vlen != 8:
                raise FormatError(path, pos, "tag 0x%04x has %d value bytes, not 8" % (tag, vlen))
            cfg[SETTINGS[tag][0]] = u64(b, pos + 4)
        elif tag in TEXT_SETTINGS:
            text = bytes(b[pos + 4:pos + 4 + vlen])
            if not 1 <= vlen <= TEXT_MAX or 0 in text:
                raise FormatError(path, pos, "tag 0x%04x has %d value bytes or a NUL, not a text" % (tag, vlen))
            check_cold_dir(path, pos, text)
            cfg[TEXT_SETTINGS[tag]] = text
        elif tag ^ MUST_UNDERSTAND in SETTINGS or tag ^ MUST_UNDERSTAND in TEXT_SETTINGS:
            raise FormatError(path, pos, "tag 0x%04x: a known setting with the wrong must-understand bit" % tag)
        elif tag & MUST_UNDERSTAND:
            raise FormatError(path, pos, "tag 0x%04x must be understood and this reader does not know it" % tag)
        prev = tag
        pos += 4 + vlen
    return b[16:16 + name_len], cfg


def read_stream_meta(path):
    b = read_file(path, 16 + NAME_MAX + META_ENTRIES_MAX + 8)
    if len(b) < 8 or b[0:4] != STREAM_MAGIC:
        raise FormatError(path, None, "not a stream metadata file")
    version = u16(b, 4)
    if version == 1:
        raw_name, cfg = stream_meta_v1(path, b)
    elif version == 2:
        raw_name, cfg = stream_meta_v2(path, b)
    else:
        raise FormatError(path, 4, "stream metadata version %d, this reader knows 1 and 2" % version)
    cfg["meta_version"] = version  # 2: its partitions' catalog.ckpt is required (section 5, check 1)
    try:
        name = raw_name.decode("ascii")
    except UnicodeDecodeError:
        name = ""
    if not NAME_RE.match(name) or name.startswith("."):
        raise FormatError(path, 64 if version == 1 else 16, "invalid stream name")
    for field, lo, hi, _ in SETTINGS.values():
        value = cfg[field]
        if field == "min_free" and value & SPACE_PERCENT:
            value, lo, hi = value & ~SPACE_PERCENT, 1, 99
        if not lo <= value <= hi:
            raise FormatError(path, None, "%s is %d, must be %d..%d" % (field, value, lo, hi))
    for i, later in enumerate(TIERS):
        for earlier in TIERS[:i]:
            if cfg[later] and cfg[earlier] > cfg[later]:
                raise FormatError(path, None, "%s is below %s" % (later, earlier))
    return name, cfg


# --------------------------------------------------------------------- batch

def read_varint(b, pos, end):
    """Minimal LEB128 of at most 64 bits from b[pos:end]: (value, new pos)."""
    value = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise ValueError("varint runs past the end")
        byte = b[pos]
        pos += 1
        if shift == 63 and byte > 1:
            raise ValueError("varint exceeds 64 bits")
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
    if pos - start != max(1, (value.bit_length() + 6) // 7):
        raise ValueError("varint is not minimal")
    return value, pos


def zigzag_decode(v):
    return (v >> 1) ^ -(v & 1)


def wrap_i64(v):
    v &= UINT64_MAX
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_batch_header(h):
    """Validate a 64-byte header; returns a dict or raises ValueError.
    A version other than 1 and 2 raises VersionError. "last_offset_delta"
    is the range's (record_count - 1 in version 1, where bytes 28..31 are
    reserved) and "end" the offset after the range."""
    if h[0:4] != BATCH_MAGIC:
        raise ValueError("bad batch magic %r" % bytes(h[0:4]))
    if u64(h, 56) != xxh3(bytes(h[0:56])):
        raise ValueError("batch header checksum mismatch")
    d = {
        "version": u16(h, 4),
        "codec": u16(h, 6),
        "base_offset": u64(h, 8),
        "record_count": u32(h, 16),
        "body_len": u32(h, 20),
        "raw_len": u32(h, 24),
        "last_offset_delta": u32(h, 28),
        "first_ts": i64(h, 32),
        "max_ts": i64(h, 40),
        "body_checksum": u64(h, 48),
    }
    if d["version"] not in (1, 2):
        raise VersionError("batch format version %d, this reader knows 1 and 2" % d["version"])
    if d["codec"] not in (0, 1):
        raise ValueError("unknown codec %d" % d["codec"])
    if d["version"] == 1 and d["last_offset_delta"] != 0:
        raise ValueError("reserved field is not zero")
    if d["body_len"] > BATCH_BODY_MAX or d["raw_len"] > BATCH_BODY_MAX:
        raise ValueError("body_len/raw_len over the limit")
    if d["codec"] == 0 and d["raw_len"] != d["body_len"]:
        raise ValueError("uncompressed batch with raw_len != body_len")
    if d["codec"] == 1 and d["body_len"] >= d["raw_len"]:
        raise ValueError("LZ4 batch that does not save bytes")
    if not 1 <= d["record_count"] <= BATCH_RECORDS_MAX:
        raise ValueError("record_count %d out of range" % d["record_count"])
    if d["record_count"] * RECORD_BYTES_MIN > d["raw_len"]:
        raise ValueError("raw_len too small for record_count")
    if d["version"] == 2 and d["last_offset_delta"] < d["record_count"]:
        raise ValueError("version 2 batch without a gap")
    if d["version"] == 1:
        d["last_offset_delta"] = d["record_count"] - 1
    d["end"] = d["base_offset"] + d["last_offset_delta"] + 1
    if d["end"] > UINT64_MAX:
        raise ValueError("offsets overflow")
    if d["max_ts"] < d["first_ts"]:
        raise ValueError("max_timestamp_us < first_timestamp_us")
    return d


class VersionError(ValueError):
    pass


def decode_records(h, body):
    """Decode a checked body into records; raises ValueError."""
    if h["codec"] == 1:
        try:
            raw = lz4.block.decompress(bytes(body), uncompressed_size=h["raw_len"])
        except Exception as e:
            raise ValueError("LZ4 body does not decompress: %s" % e)
        if len(raw) != h["raw_len"]:
            raise ValueError("LZ4 body decompresses to %d bytes, expected %d" % (len(raw), h["raw_len"]))
    else:
        raw = bytes(body)
    records = []
    pos = 0
    end = len(raw)
    max_seen = False
    least = 0  # the next offset_delta is at least this
    for index in range(h["record_count"]):
        rec_len, p = read_varint(raw, pos, end)
        if rec_len > end - p:
            raise ValueError("record %d: record_len beyond the body" % index)
        rend = p + rec_len
        if p >= rend:
            raise ValueError("record %d: no flags" % index)
        flags = raw[p]
        p += 1
        if flags & ~1:
            raise ValueError("record %d: reserved flag bits set" % index)
        delta, p = read_varint(raw, p, rend)
        # Increasing, leaving room in the range for the records after it
        # (in version 1 that is exactly delta == index).
        if not least <= delta <= h["last_offset_delta"] - (h["record_count"] - 1 - index):
            raise ValueError("record %d: offset_delta %d" % (index, delta))
        least = delta + 1
        tsz, p = read_varint(raw, p, rend)
        if index == 0 and tsz != 0:
            raise ValueError("first record's timestamp delta is not 0")
        ts = wrap_i64(h["first_ts"] + zigzag_decode(tsz))
        if ts > h["max_ts"]:
            raise ValueError("record %d: timestamp above max_timestamp_us" % index)
        schema, p = read_varint(raw, p, rend)
        if schema > 0xFFFFFFFF:
            raise ValueError("record %d: schema version over 32 bits" % index)
        key, p = read_bytes(raw, p, rend)
        nh, p = read_varint(raw, p, rend)
        if nh > HEADERS_MAX:
            raise ValueError("record %d: %d headers" % (index, nh))
        headers = []
        for _ in range(nh):
            hk, p = read_bytes(raw, p, rend)
            hv, p = read_bytes(raw, p, rend)
            headers.append((hk, hv))
        value, p = read_bytes(raw, p, rend)
        if p != rend:
            raise ValueError("record %d: bytes after the value" % index)
        if ts == h["max_ts"]:
            max_seen = True
        last = index == h["record_count"] - 1
        if last and rend != end:
            raise ValueError("bytes after the last record")
        if not last and rend == end:
            raise ValueError("body ends before record_count records")
        records.append({
            "offset": h["base_offset"] + delta,
            "ts": ts,
            "schema": schema,
            "tombstone": bool(flags & 1),
            "key": key,
            "headers": headers,
            "value": value,
        })
        pos = rend
    if not max_seen:
        raise ValueError("no record carries max_timestamp_us")
    return records


def read_bytes(b, pos, end):
    n, pos = read_varint(b, pos, end)
    if n > end - pos:
        raise ValueError("length-prefixed bytes run past the record")
    return b[pos:pos + n], pos + n


def batch_at(data, pos, limit):
    """The batch starting at data[pos:]: (header, body) when valid,
    None when incomplete before limit; raises ValueError when invalid."""
    if limit - pos < BATCH_HEADER:
        return None
    h = decode_batch_header(data[pos:pos + BATCH_HEADER])
    if h["body_len"] > limit - pos - BATCH_HEADER:
        return None
    body = data[pos + BATCH_HEADER:pos + BATCH_HEADER + h["body_len"]]
    if xxh3(bytes(body)) != h["body_checksum"]:
        raise ValueError("batch body checksum mismatch")
    return h, body


# ------------------------------------------------------------------- journal

def read_journal(store, store_id):
    """{(stream_id, partition): [batch bytes...]} of the current
    generation, in journal order; {} when there is no journal."""
    path = os.path.join(store, "journal")
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < JOURNAL_DATA_START + JOURNAL_ENTRY_HEADER:
        raise FormatError(path, None, "journal shorter than its header")
    gens = []
    for i in (0, 1):
        s = data[i * JOURNAL_SLOT:i * JOURNAL_SLOT + 32]
        if s[0:4] != JOURNAL_HEADER_MAGIC or u64(s, 24) != xxh3(s[0:24]):
            continue
        if u16(s, 4) != 1 or u16(s, 6) != 0 or u64(s, 16) != store_id:
            continue
        g = u64(s, 8)
        if g % 2 == i:
            gens.append(g)
    if not gens:
        raise FormatError(path, 0, "neither journal header slot is valid for this store")
    generation = max(gens)
    out = {}
    pos = JOURNAL_DATA_START
    while len(data) - pos >= JOURNAL_ENTRY_HEADER:
        e = data[pos:pos + JOURNAL_ENTRY_HEADER]
        if e[0:4] != JOURNAL_ENTRY_MAGIC or u64(e, 24) != xxh3(e[0:24]) or u64(e, 16) != generation:
            break
        n = u32(e, 12)
        if n == 0 or n > len(data) - pos - JOURNAL_ENTRY_HEADER:
            break
        payload = data[pos + JOURNAL_ENTRY_HEADER:pos + JOURNAL_ENTRY_HEADER + n]
        batches = []
        p = 0
        try:
            while p < n:
                got = batch_at(payload, p, n)
                if got is None:
                    raise ValueError("incomplete batch")
                decode_records(*got)  # a batch no reader can decode ends the journal too
                batches.append(payload[p:p + BATCH_HEADER + got[0]["body_len"]])
                p += BATCH_HEADER + got[0]["body_len"]
        except ValueError:
            break  # an invalid entry ends the journal: never acknowledged
        out.setdefault((u32(e, 4), u32(e, 8)), []).extend(batches)
        pos += JOURNAL_ENTRY_HEADER + n
    return out


# ---------------------------------------------------------- segment sidecars

def check_index(path, kind, base, batches, interval, strict):
    """Validate an index file against the segment's batches
    [(pos, base_offset, prefix_max_ts, body_checksum)]. Problems are warnings unless
    strict (indexes are derivable)."""
    def problem(msg):
        if strict:
            raise FormatError(path, None, msg)
        warn("%s: %s (a writer would rebuild it)" % (path, msg))

    if not os.path.exists(path):
        problem("missing")
        return
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 64:
        return problem("shorter than an index header")
    entry_bytes = 8 if kind == 1 else 16
    if data[0:4] != INDEX_MAGIC or u64(data, 56) != xxh3(data[0:56]):
        return problem("bad magic or header checksum")
    if u16(data, 4) != 2:
        return problem("index version %d" % u16(data, 4))
    if u16(data, 6) != kind or u32(data, 8) != entry_bytes or u64(data, 16) != base or any(data[24:56]):
        return problem("header fields disagree (kind, entry size, base offset or reserved)")
    capacity = u32(data, 12)
    if capacity > INDEX_CAPACITY_MAX or len(data) < 64 + capacity * entry_bytes:
        return problem("capacity %d does not fit the file" % capacity)
    rel_at = 0 if kind == 1 else 8
    entries = []
    for i in range(capacity):
        e = data[64 + i * entry_bytes:64 + (i + 1) * entry_bytes]
        rel = u32(e, rel_at)
        if rel == 0:
            if any(data[64 + (i + 1) * entry_bytes:64 + capacity * entry_bytes]) and strict:
                problem("nonzero slots after the last entry")
            break
        entries.append((rel, u32(e, 4)) if kind == 1 else (rel, i64(e, 0), u32(e, 12)))
    # The entries a writer derives: a batch is indexed when at least
    # `interval` bytes separate its start from the last indexed batch (or
    # the start of the file); the first batch never is; a full index stops.
    want = []
    last = 0
    for pos, boff, prefix, body_checksum in batches:
        if pos == 0 or pos - last < interval or len(want) == capacity:
            continue
        check = xxh3(struct.pack("<qIQ", prefix, boff - base, body_checksum)) & 0xFFFFFFFF
        want.append((boff - base, pos) if kind == 1 else (boff - base, prefix, check))
        last = pos
    if entries != want:
        problem("entries %r, expected %r" % (entries[:4], want[:4]))


def check_summary(path, base, walk, file_bytes, strict):
    def problem(msg):
        if strict:
            raise FormatError(path, None, msg)
        warn("%s: %s" % (path, msg))

    b = read_file(path, 64)
    if len(b) != 64 or b[0:4] != SUMMARY_MAGIC or u64(b, 56) != xxh3(b[0:56]):
        return problem("bad size, magic or checksum")
    if u16(b, 4) != 1 or u16(b, 6) != 0 or u64(b, 8) != base:
        return problem("bad version, reserved bytes or base offset")
    got = (u64(b, 16), u64(b, 24), u64(b, 32), i64(b, 40))
    want = (walk["next_offset"], walk["count"], file_bytes, walk["max_ts"])
    if got != want:
        problem("summary (next_offset, record_count, bytes, max_ts) = %r, segment has %r" % (got, want))


# ------------------------------------------------------------ key filter

KEYFILTER_MAGIC = b"SGKF"
KEYFILTER_HEADER = 48
KEYFILTER_BLOCK = 32
KEYFILTER_BLOCKS_MAX = 1 << 20
KEYFILTER_SALT = (0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d,
                  0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31)


def key_filter_blocks_for(n):
    """Blocks for n distinct keys: 10 bits each, within [1, BLOCKS_MAX]."""
    return max(1, min(KEYFILTER_BLOCKS_MAX, (n * 10 + 255) // 256))


def key_filter_read(path):
    """Decode a .kf file: a dict with the binding and the words, or
    FormatError."""
    return key_filter_decode(path, read_file(path, KEYFILTER_HEADER + KEYFILTER_BLOCKS_MAX * KEYFILTER_BLOCK + 8), 0)


def key_filter_decode(path, b, at):
    """Decode a key filter's bytes b, found at byte `at` of file path (a
    .kf: 0; an archive's filter: where it lies), as key_filter_read."""
    if len(b) < KEYFILTER_HEADER + KEYFILTER_BLOCK + 8 or b[0:4] != KEYFILTER_MAGIC:
        raise FormatError(path, at if at else None, "not a key filter (size or magic)")
    if u16(b, 4) != 1:
        raise FormatError(path, at + 4, "key filter version %d" % u16(b, 4))
    blocks = u32(b, 8)
    if blocks == 0 or blocks > KEYFILTER_BLOCKS_MAX or len(b) != KEYFILTER_HEADER + blocks * KEYFILTER_BLOCK + 8:
        raise FormatError(path, at + 8, "%d blocks in a file of %d bytes" % (blocks, len(b)))
    if u64(b, len(b) - 8) != xxh3(bytes(b[:-8])):
        raise FormatError(path, at + len(b) - 8, "key filter checksum mismatch")
    if u16(b, 6) != 0 or u32(b, 12) != 0:
        raise FormatError(path, at + 6, "reserved fields are not zero")
    words = struct.unpack_from("<%dI" % (blocks * 8), b, KEYFILTER_HEADER)
    return {"blocks": blocks, "key_count": u64(b, 16), "base": u64(b, 24), "end": u64(b, 32),
            "summary_checksum": u64(b, 40), "words": words}


def key_filter_bits(blocks, key):
    """(block, bit in each of the 8 words) of a key: FORMAT.md section 23."""
    h = xxh3(key)
    block = ((h >> 32) * blocks) >> 32
    lo = h & 0xffffffff
    return block, [((lo * s) & 0xffffffff) >> 27 for s in KEYFILTER_SALT]


def key_filter_may_contain(kf, key):
    """False: no record of the segment has this key (None: no key)."""
    block, bits = key_filter_bits(kf["blocks"], key or b"")
    return all(kf["words"][block * 8 + i] >> bit & 1 for i, bit in enumerate(bits))


def check_key_filter(path, base, walk, sum_path, strict):
    """A sealed segment's .kf: never a false negative for a key the
    segment holds; with --strict, exactly the filter a writer builds."""
    def problem(msg):
        if strict:
            raise FormatError(path, None, msg)
        warn("%s: %s" % (path, msg))

    if not os.path.exists(path):
        return None  # optional: without it a reader reads the segment
    try:
        kf = key_filter_read(path)
    except FormatError as e:
        return problem("damaged key filter, not used (%s)" % e)
    sum_checksum = xxh3(read_file(sum_path, 64)) if os.path.exists(sum_path) else None
    if (kf["base"], kf["end"], kf["summary_checksum"]) != (base, walk["next_offset"], sum_checksum):
        return problem("key filter of another segment (stale), not used")
    key_filter_holds(path, kf, walk["records"], problem)
    return kf


def key_filter_holds(path, kf, records, problem):
    """A filter never excludes a key of its records (FormatError), and is
    the one those keys give (else problem(message))."""
    keys = {r["key"] or b"" for r in records}
    for k in keys:
        if not key_filter_may_contain(kf, k):
            raise FormatError(path, None, "excludes key %r, which its segment holds" % k)
    hashes = {xxh3(k) for k in keys}
    blocks = key_filter_blocks_for(len(hashes))
    words = [0] * (blocks * 8)
    for k in keys:
        block, bits = key_filter_bits(blocks, k)
        for i, bit in enumerate(bits):
            words[block * 8 + i] |= 1 << bit
    if (kf["blocks"], kf["key_count"], list(kf["words"])) != (blocks, len(hashes), words):
        problem("key filter differs from the one its segment's keys give")


def summary_vouched_bytes(path, base):
    """The bytes a valid summary sidecar vouches for (0 without one)."""
    try:
        b = read_file(path, 64)
    except (OSError, FormatError):
        return 0
    if len(b) != 64 or b[0:4] != SUMMARY_MAGIC or u64(b, 56) != xxh3(b[0:56]):
        return 0
    if u16(b, 4) != 1 or u16(b, 6) != 0 or u64(b, 8) != base:
        return 0
    return u64(b, 32)


# ----------------------------------------------------------------- partition

def walk_segment(path, base, data, sealed):
    """Decode the valid batches of one segment. Returns a dict with the
    records, the batch list for index checks, next offset, the end of the
    valid prefix and whether damage (an invalid batch followed by a valid
    header) was seen."""
    pos = 0
    next_offset = base
    max_ts = INT64_MIN
    records = []
    batches = []
    count = 0
    stop = None
    while pos < len(data):
        try:
            got = batch_at(data, pos, len(data))
            if got is None:
                stop = "incomplete batch"
                break
            h, body = got
            if h["base_offset"] != next_offset:
                stop = "batch base offset %d, expected %d" % (h["base_offset"], next_offset)
                break
            recs = decode_records(h, body)
        except VersionError as e:
            raise FormatError(path, pos, str(e))
        except ValueError as e:
            if sealed:
                raise FormatError(path, pos, "%s (in a sealed segment: corruption)" % e)
            stop = str(e)
            break
        batches.append((pos, h["base_offset"], max_ts, h["body_checksum"]))
        records.extend(recs)
        count += h["record_count"]
        next_offset = h["end"]
        max_ts = max(max_ts, h["max_ts"])
        pos += BATCH_HEADER + h["body_len"]
    if stop is not None and sealed:
        raise FormatError(path, pos, "%s (in a sealed segment: corruption)" % stop)
    damaged_at = None
    if stop is not None:
        # Torn tail or damage: does a valid batch header that continues the
        # log (base offset >= next_offset) start at any later byte?
        p = data.find(BATCH_MAGIC, pos + 1)
        while p >= 0 and len(data) - p >= BATCH_HEADER:
            try:
                h = decode_batch_header(data[p:p + BATCH_HEADER])
                if h["base_offset"] >= next_offset:
                    damaged_at = p
                    break
            except ValueError:
                pass
            p = data.find(BATCH_MAGIC, p + 1)
    return {
        "records": records, "batches": batches, "next_offset": next_offset, "max_ts": max_ts,
        "count": count, "valid_bytes": pos, "stop": stop, "damaged_at": damaged_at,
    }


# ------------------------------------------------------- catalog.ckpt

LOCATION_RE = re.compile(r"\A[0-9]{20}(\.[a-z0-9]+)?\Z")


def read_checkpoint_v2(path, b):
    """Version 2: (log_start, active_base, floor, entries); each entry a
    dict with base, end, records and location."""
    if len(b) < 48:
        raise FormatError(path, None, "partition checkpoint of %d bytes" % len(b))
    if u64(b, len(b) - 8) != xxh3(b[:-8]):
        raise FormatError(path, len(b) - 8, "checksum mismatch")
    if u16(b, 4) != 2:
        raise FormatError(path, 4, "partition checkpoint version %d, this reader knows 1 and 2" % u16(b, 4))
    if u16(b, 6) != 0 or u32(b, 36) != 0:
        raise FormatError(path, 6, "reserved bytes are not zero")
    start, floor, count = u64(b, 16), u64(b, 24), u32(b, 32)
    end = len(b) - 8
    if count > 1 << 20 or count > (end - 40) // 64:
        raise FormatError(path, 32, "%d segments cannot fit" % count)
    pos, entries = 40, []
    for i in range(count):
        if end - pos < 64:
            raise FormatError(path, pos, "entry %d is cut short" % i)
        e = {"base": u64(b, pos), "end": u64(b, pos + 8), "records": u64(b, pos + 16),
             "tier": b[pos + 56], "state": b[pos + 57], "schemas": u16(b, pos + 58)}
        loc_len = b[pos + 60]
        if b[pos + 61:pos + 64] != b"\0\0\0":
            raise FormatError(path, pos + 61, "entry %d: reserved bytes are not zero" % i)
        if e["tier"] > 3 or e["state"] > 2:
            raise FormatError(path, pos + 56, "entry %d: tier or state unknown" % i)
        if e["end"] < e["base"] or e["records"] > e["end"] - e["base"]:
            raise FormatError(path, pos, "entry %d: offsets and count do not fit" % i)
        size = 64 + loc_len + 4 * e["schemas"]
        if e["schemas"] > 64 or loc_len > 63 or end - pos < size:
            raise FormatError(path, pos, "entry %d is cut short or too long" % i)
        loc = b[pos + 64:pos + 64 + loc_len].decode("ascii", "replace")
        if not LOCATION_RE.match(loc) or int(loc[:20]) != e["base"]:
            raise FormatError(path, pos + 64, "entry %d: location is not a segment name of its offset" % i)
        e["location"] = loc
        versions = [u32(b, pos + 64 + loc_len + 4 * k) for k in range(e["schemas"])]
        if any(x >= y for x, y in zip(versions, versions[1:])):
            raise FormatError(path, pos, "entry %d: schema versions out of order" % i)
        entries.append(e)
        pos += size
    if pos != end:
        raise FormatError(path, pos, "bytes after the last entry")
    if not entries:
        if floor != start:
            raise FormatError(path, 16, "no segment, but offsets %d..%d were written" % (start, floor - 1))
        return start, start, floor, entries
    if entries[0]["base"] != start:
        raise FormatError(path, 16, "the log starts at %d, its first segment at %d" % (start, entries[0]["base"]))
    for i, e in enumerate(entries):
        if (e["state"] == 0) != (i == len(entries) - 1):
            raise FormatError(path, None, "entry %d: only the last segment is active" % i)
        if i and (e["base"] <= entries[i - 1]["base"] or e["base"] < entries[i - 1]["end"]):
            raise FormatError(path, None, "entry %d overlaps the one before" % i)
    if floor < entries[-1]["base"]:
        raise FormatError(path, 24, "next offset floor below the active base")
    return start, entries[-1]["base"], floor, entries


def read_checkpoint(pdir):
    """The partition checkpoint (FORMAT.md section 5) as (log_start,
    active_base, next_offset_floor, entries), entries None for version 1;
    None when the partition has none."""
    path = os.path.join(pdir, "catalog.ckpt")
    if not os.path.exists(path):
        return None
    b = read_file(path, 64 << 20)
    if b[0:4] != CHECKPOINT_MAGIC:
        raise FormatError(path, None, "not a partition checkpoint (bad magic)")
    if len(b) >= 6 and u16(b, 4) != 1:
        return read_checkpoint_v2(path, b)
    if len(b) != 48:
        raise FormatError(path, None, "not a partition checkpoint (%d bytes)" % len(b))
    if u64(b, 40) != xxh3(b[0:40]):
        raise FormatError(path, 40, "checksum mismatch")
    if u16(b, 6) != 0 or u64(b, 32) != 0:
        raise FormatError(path, 6, "reserved bytes are not zero")
    start, active, floor = u64(b, 8), u64(b, 16), u64(b, 24)
    if not start <= active <= floor:
        raise FormatError(path, 8, "log start %d, active base %d, next offset bound %d out of order"
                          % (start, active, floor))
    return start, active, floor, None


def check_against_checkpoint(pdir, ckpt, bases):
    """Checks 2-4 of FORMAT.md section 5: no segment missing at either end."""
    start, active, floor, _ = ckpt
    if not bases and floor > start:
        raise FormatError(pdir, None, "every segment is missing: offsets %d..%d were written" % (start, floor - 1))
    if bases and bases[0] > start:
        raise FormatError(pdir, None, "segments missing at the start: offsets %d..%d" % (start, bases[0] - 1))
    if bases and bases[-1] < active:
        raise FormatError(pdir, None, "segments missing at the end: the last segment starts at %d, "
                          "the active one at %d or later" % (bases[-1], active))


def read_partition(pdir, stream_id, part, cfg, journal, strict, cold=None):
    """The partition's records. cold: (store id, stream name, cold
    directory) for its cold entries."""
    ckpt = read_checkpoint(pdir)  # before listing: see FORMAT.md section 5
    if ckpt is not None and ckpt[3] is not None:
        # Version 2 names the segments: each must be there (check 2), a
        # cold entry's in its archive (read below).
        names = [e["location"] + ".seg" for e in ckpt[3]]
        bases = [e["base"] for e in ckpt[3]]
        for i, name in enumerate(names):
            if ckpt[3][i]["tier"] != TIER_COLD and not os.path.exists(os.path.join(pdir, name)):
                upto = "on" if i == len(names) - 1 else "..%d" % (bases[i + 1] - 1)
                raise FormatError(pdir, None, "segment %s is missing: offsets from %d %s are missing"
                                  % (name, bases[i], upto))
    else:
        names = sorted(n for n in os.listdir(pdir) if SEGMENT_RE.match(n))
        bases = [int(SEGMENT_RE.match(n).group(1)) for n in names]
        if ckpt is not None:
            check_against_checkpoint(pdir, ckpt, bases)
        elif cfg["meta_version"] == 2 and bases not in ([], [0]):
            # Check 1: past its first segment, the log's start and end
            # are only known from the file.
            raise FormatError(os.path.join(pdir, "catalog.ckpt"), None,
                              "missing, but the partition holds %d segment(s), the first at offset %d"
                              % (len(bases), bases[0]))
    journal_batches = journal.get((stream_id, part), [])
    journal_from = None
    if journal_batches:
        journal_from = u64(journal_batches[0], 8)
    records = []
    next_offset = bases[0] if bases else 0
    entries = ckpt[3] if ckpt is not None else None
    for i, base in enumerate(bases):
        path = os.path.join(pdir, names[i])
        sealed = i < len(bases) - 1
        # A hole between two version 2 entries is a recorded loss (FORMAT.md
        # section 5): its offsets are gone for good; the log goes on.
        if entries is not None and i and entries[i - 1]["end"] < base and next_offset == entries[i - 1]["end"]:
            warn("%s: offsets %d..%d were lost (a recorded loss)" % (pdir, next_offset, base - 1))
            next_offset = base
        if base != next_offset:
            raise FormatError(path, None, "segment base offset %d, the previous segment ends at %d"
                              % (base, next_offset))
        if entries is not None and entries[i]["tier"] == TIER_COLD:
            if i == len(bases) - 1:
                raise FormatError(os.path.join(pdir, "catalog.ckpt"), None,
                                  "the active segment %s is a cold entry" % entries[i]["location"])
            records.extend(cold_records(pdir, part, entries[i], cold))
            next_offset = entries[i]["end"]
            continue
        with open(path, "rb") as f:
            data = f.read()
        w = walk_segment(path, base, data, sealed)
        if w["damaged_at"] is not None and (journal_from is None or journal_from > w["next_offset"]):
            raise FormatError(path, w["valid_bytes"], "invalid batch (%s) followed by a valid batch at byte %d: "
                              "damage inside the log, not a torn tail" % (w["stop"], w["damaged_at"]))
        stem = path[:-4]
        journal_restores = journal_from is not None and journal_from <= w["next_offset"]
        vouched = summary_vouched_bytes(stem + ".sum", base)
        if w["valid_bytes"] < vouched and not journal_restores:
            raise FormatError(path, w["valid_bytes"], "invalid batch (%s) inside the %d bytes its summary "
                              "vouches for: damage, not a torn tail" % (w["stop"] or "file ends", vouched))
        if w["stop"] is not None and w["valid_bytes"] < len(data):
            warn("%s: torn tail from byte %d (%s): ignored" % (path, w["valid_bytes"], w["stop"]))
        interval = cfg["index_interval_bytes"]
        check_index(stem + ".oix", 1, base, w["batches"], interval, strict)
        check_index(stem + ".tix", 2, base, w["batches"], interval, strict)
        if sealed:
            check_summary(stem + ".sum", base, w, len(data), strict)
            check_key_filter(stem + ".kf", base, w, stem + ".sum", strict)
        records.extend(w["records"])
        next_offset = w["next_offset"]
    if ckpt is not None and next_offset < ckpt[2]:
        raise FormatError(pdir, None, "the log ends at offset %d but offsets up to %d were written: "
                          "offsets %d..%d are missing" % (next_offset, ckpt[2] - 1, next_offset, ckpt[2] - 1))
    # Recovery adds what the journal holds beyond the segments.
    for batch in journal_batches:
        h = decode_batch_header(batch[:BATCH_HEADER])
        if h["end"] <= next_offset:
            continue
        if h["base_offset"] != next_offset:
            raise FormatError(pdir, None, "journal holds offsets from %d but the partition ends at %d"
                              % (h["base_offset"], next_offset))
        records.extend(decode_records(h, batch[BATCH_HEADER:]))
        next_offset = h["end"]
    return records


# ------------------------------------------------------------------- routing

def route(key, partitions):
    """The partition an event with this key goes to when the writer is not
    told one (FORMAT.md, "Stream metadata"); None for no key (an empty
    key), which is routed round robin, not hashed."""
    if len(key) == 0:
        return None
    return xxh3(bytes(key)) % partitions


# ------------------------------------------------------------------ envelope

def json_string(s):
    """A JSON string as the CLI writes it: '"', '\\' and control characters
    escaped (\\n \\r \\t short, others \\u00XX), everything else as is."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def b64(b):
    return '"' + base64.b64encode(bytes(b)).decode("ascii") + '"'


class NotJson(Exception):
    pass


def _reject_constant(name):
    raise NotJson(name)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_NEST = re.compile(r"[\[\]{}]")


def json_depth(text):
    """How deeply arrays and objects nest in a JSON text (1 for "[]"),
    brackets inside strings not counted. Only meaningful for text that
    parses; checked before parsing, so that nesting past the limit is
    refused by the rule and not by the parser's recursion."""
    depth = deepest = 0
    for m in _JSON_NEST.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check_json(v):
    """The limits the Appendix adds to RFC 8259: integers beyond 64-bit
    signed, reals that overflow a double, strings with lone surrogates."""
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 63):
            raise NotJson("integer out of range")
    elif isinstance(v, float):
        if v in (float("inf"), float("-inf")) or v != v:
            raise NotJson("real out of range")
    elif isinstance(v, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
            raise NotJson("lone surrogate")
    elif isinstance(v, list):
        for x in v:
            _check_json(x)
    else:
        for k, x in v.items():
            _check_json(k)
            _check_json(x)


def parse_json(value):
    try:
        text = bytes(value).decode("utf-8")
        if json_depth(text) > JSON_DEPTH_MAX:
            raise NotJson("nested too deeply")
        v = json.loads(text, parse_constant=_reject_constant)
        _check_json(v)
        return v
    except (UnicodeDecodeError, ValueError, NotJson):
        raise NotJson()


def value_json(value):
    try:
        v = parse_json(value)
    except NotJson:
        return b64(value) + ',"value_encoding":"base64"'
    if b"\n" not in value and b"\r" not in value:
        return bytes(value).decode("utf-8")
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def utf8_key(key):
    try:
        s = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s


def text_or_base64(b):
    """A header's key or value: a JSON string when it is UTF-8 text,
    otherwise {"base64": ...}."""
    s = utf8_key(b)
    return json_string(s) if s is not None else '{"base64":' + b64(b) + "}"


def headers_json(headers):
    return ',"headers":[' + ",".join(
        "[" + text_or_base64(k) + "," + text_or_base64(v) + "]" for k, v in headers) + "]"


def envelope(stream, part, r, with_headers=False):
    key = r["key"]
    if len(key) == 0:
        key_text = "null"
    else:
        s = utf8_key(key)
        key_text = json_string(s) if s is not None else b64(key) + ',"key_encoding":"base64"'
    return "".join([
        '{"stream":', json_string(stream),
        ',"partition":', str(part),
        ',"offset":', str(r["offset"]),
        ',"ts":', str(r["ts"]),
        ',"key":', key_text,
        ',"schema":', str(r["schema"]),
        headers_json(r["headers"]) if with_headers or r["headers"] else "",
        ',"tombstone":true' if r["tombstone"] else "",
        ',"value":', value_json(r["value"]),
        "}\n",
    ])


# ----------------------------------------------------------- schema registry

SCHEMAS_MAGIC = b"SGSR"
SCHEMA_VERSIONS_MAX = 1024
SCHEMA_NAME_MAX = 128
COMPAT_NAMES = ["none", "backward", "forward", "full", "backward_transitive", "forward_transitive",
                "full_transitive"]


def read_schemas(sdir):
    """A stream's schema registry (section 21): a list of dicts, [] when
    the file is absent. Checks every rule of the layout and that each
    fingerprint is XXH3-64 of its definition, which must be a JSON object
    (the subset and the canonical form are the engine's to enforce)."""
    path = os.path.join(sdir, "schemas")
    if not os.path.exists(path):
        return []
    b = read_file(path, 64 << 20)
    if len(b) < 24:
        raise FormatError(path, None, "%d bytes, less than a header and checksum" % len(b))
    if b[0:4] != SCHEMAS_MAGIC:
        raise FormatError(path, 0, "bad magic %r" % b[0:4])
    if u64(b, len(b) - 8) != xxh3(b[:-8]):
        raise FormatError(path, len(b) - 8, "checksum mismatch")
    if u16(b, 4) != 1:
        raise FormatError(path, 4, "schema registry format version %d, this reader knows 1" % u16(b, 4))
    if u16(b, 6) or u32(b, 12):
        raise FormatError(path, 6, "reserved bytes are not zero")
    count = u32(b, 8)
    if count > SCHEMA_VERSIONS_MAX:
        raise FormatError(path, 8, "%d versions, more than %d" % (count, SCHEMA_VERSIONS_MAX))
    pos, end, prev, out = 16, len(b) - 8, 0, []
    for _ in range(count):
        if end - pos < 32:
            raise FormatError(path, pos, "entry cut short")
        version, compat = u32(b, pos), b[pos + 4]
        registered_at, fingerprint = i64(b, pos + 8), u64(b, pos + 16)
        name_len, def_len = u16(b, pos + 24), u32(b, pos + 28)
        if any(b[pos + 5:pos + 8]) or u16(b, pos + 26):
            raise FormatError(path, pos, "reserved bytes are not zero")
        if version <= prev:
            raise FormatError(path, pos, "version %d does not follow %d" % (version, prev))
        if compat >= len(COMPAT_NAMES):
            raise FormatError(path, pos + 4, "unknown compatibility mode %d" % compat)
        if name_len > SCHEMA_NAME_MAX or pos + 32 + name_len + def_len > end:
            raise FormatError(path, pos, "name and definition run past the entries")
        name = b[pos + 32:pos + 32 + name_len]
        definition = b[pos + 32 + name_len:pos + 32 + name_len + def_len]
        if any(c < 0x20 or c == 0x7F for c in name):
            raise FormatError(path, pos + 32, "name holds a control byte")
        if xxh3(definition) != fingerprint:
            raise FormatError(path, pos + 16, "fingerprint is not XXH3-64 of the definition")
        try:
            parsed = json.loads(definition.decode())
        except ValueError as e:
            raise FormatError(path, pos + 32 + name_len, "definition is not JSON: %s" % e)
        if not isinstance(parsed, dict) or parsed.get("type") != "object":
            raise FormatError(path, pos + 32 + name_len, "definition's root is not an object definition")
        out.append({"version": version, "name": name.decode(), "compat": COMPAT_NAMES[compat],
                    "registered_at_us": registered_at, "fingerprint": "%016x" % fingerprint,
                    "definition": definition.decode()})
        pos += 32 + name_len + def_len
        prev = version
    if pos != end:
        raise FormatError(path, pos, "%d bytes after the last entry" % (end - pos))
    return out


# ---------------------------------------------------------------------- main

def schema_lines(store):
    """Yield one JSON line per schema version of every stream (streams by
    name, versions ascending), keys as expected-schemas.jsonl has them."""
    streams_dir = os.path.join(store, "streams")
    for name in sorted(os.listdir(streams_dir), key=lambda n: n.encode()):
        sdir = os.path.join(streams_dir, name)
        if not NAME_RE.match(name) or name.startswith(".") or not os.path.isdir(sdir):
            continue
        for v in read_schemas(sdir):
            yield json.dumps(dict([("stream", name)] + list(v.items())), ensure_ascii=False,
                             separators=(",", ":")) + "\n"


def decode_store(store, strict=False, use_journal=True, with_headers=False, cold_dir=None):
    """Yield envelope lines for every event of the store; cold_dir, when
    given, holds every stream's cold archives in place of its setting."""
    store_id = read_store_file(store)
    journal = read_journal(store, store_id) if use_journal else {}
    streams_dir = os.path.join(store, "streams")
    entries = sorted(os.listdir(streams_dir), key=lambda n: n.encode())
    for name in entries:
        sdir = os.path.join(streams_dir, name)
        if not NAME_RE.match(name) or name.startswith(".") or not os.path.isdir(sdir):
            continue  # temporary files and strangers are not streams
        meta = os.path.join(sdir, "stream.meta")
        if not os.path.exists(meta):
            # Creation renames a finished stream into place (section 14).
            raise FormatError(meta, None, "missing: the stream's metadata was lost")
        sname, cfg = read_stream_meta(meta)
        if sname != name:
            raise FormatError(meta, 64, "names stream %r but lives in directory %r" % (sname, name))
        read_schemas(sdir)  # checked even when only events are asked for
        for part in range(cfg["partitions"]):
            pdir = os.path.join(sdir, "%05d" % part)
            if not os.path.isdir(pdir):
                raise FormatError(pdir, None, "partition directory missing")
            cold = (store_id, name, cold_dir or os.fsdecode(cfg["cold_dir"]))
            for r in read_partition(pdir, cfg["id"], part, cfg, journal, strict, cold):
                yield envelope(name, part, r, with_headers)


# -------------------------------------------------------------- archives

ARCHIVE_MAGIC = b"SGAV"
ARCHIVE_TRAILER_MAGIC = b"SGAE"
ARCHIVE_HEADER = 128
ARCHIVE_TRAILER = 16


def read_archive(path):
    """Section 24: check an archive whole; returns (stream, partition,
    records). Raises FormatError naming the byte."""
    a = check_archive(path)
    return a["stream"], a["partition"], a["records"]


def check_archive(path):
    """Section 24: check an archive whole; returns its stream, partition,
    store_id, first and next offsets, segment count and records."""
    with open(path, "rb") as f:
        b = f.read()  # an archive is read whole, as the library reads it
    if len(b) < ARCHIVE_HEADER + ARCHIVE_TRAILER or b[0:4] != ARCHIVE_MAGIC:
        raise FormatError(path, None, "not an archive file")
    version = u16(b, 4)
    if version not in (1, 2):
        raise FormatError(path, 4, "archive version %d, this reader knows 1 and 2" % version)
    t = len(b) - ARCHIVE_TRAILER
    # Version 2: the key filters lie between the index and the trailer,
    # outside its checksum (each has its own).
    filters = u64(b, 112) if version == 2 else 0
    checked = t - filters if filters <= t - ARCHIVE_HEADER else t
    if b[t:t + 4] != ARCHIVE_TRAILER_MAGIC or u32(b, t + 4) != 0:
        raise FormatError(path, t, "no trailer")
    if u64(b, t + 8) != xxh3(bytes(b[:checked]) + bytes(b[t:t + 8])):
        raise FormatError(path, t + 8, "checksum mismatch")
    name_len, nseg, nschema = u16(b, 6), u32(b, 20), u32(b, 72)
    batches_n, data_pos, data_bytes, index_pos = u64(b, 64), u64(b, 88), u64(b, 96), u64(b, 104)
    if checked + filters != t:
        raise FormatError(path, 112, "%d bytes of filters in a %d-byte file" % (filters, len(b)))
    if not 1 <= name_len <= NAME_MAX or u32(b, 76) or any(b[120 if version == 2 else 112:128]):
        raise FormatError(path, 6, "bad name length or reserved bytes")
    if not 1 <= nseg <= 65536 or nschema > 4096 or u32(b, 16) >= PARTITIONS_MAX:
        raise FormatError(path, 16, "counts or partition out of range")
    if data_pos != ARCHIVE_HEADER + name_len + 16 * nschema + 48 * nseg or \
            index_pos != data_pos + data_bytes or index_pos + 24 * batches_n != checked:
        raise FormatError(path, 88, "the layout does not tile the file")
    try:
        name = bytes(b[ARCHIVE_HEADER:ARCHIVE_HEADER + name_len]).decode("ascii")
    except UnicodeDecodeError:
        name = ""
    if not NAME_RE.match(name) or name.startswith("."):
        raise FormatError(path, ARCHIVE_HEADER, "invalid stream name")
    pos = ARCHIVE_HEADER + name_len
    summary = []
    for i in range(nschema):
        e = pos + 16 * i
        if u32(b, e + 4) or (summary and u32(b, e) <= summary[-1][0]):
            raise FormatError(path, e, "schema entry out of order or reserved bytes set")
        summary.append((u32(b, e), u64(b, e + 8)))
    pos += 16 * nschema
    records, index, at, expect, filter_at, segment_filters = [], [], data_pos, u64(b, 24), checked, []
    for i in range(nseg):
        e = pos + 48 * i
        base, end, count, nbytes, max_ts = u64(b, e), u64(b, e + 8), u64(b, e + 16), u64(b, e + 24), i64(b, e + 32)
        fb = u64(b, e + 40)
        if version == 1 and fb or version == 2 and (fb < KEYFILTER_HEADER + KEYFILTER_BLOCK + 8 or
                                                    (fb - KEYFILTER_HEADER - 8) % KEYFILTER_BLOCK or
                                                    fb > KEYFILTER_HEADER + KEYFILTER_BLOCKS_MAX * KEYFILTER_BLOCK + 8):
            raise FormatError(path, e + 40, "segment entry %d: reserved bytes or not a key filter's size" % i)
        if base != expect or base == end or nbytes > index_pos - at:
            raise FormatError(path, e, "segment entry %d does not fit" % i)
        walk = walk_segment(path, base, b[at:at + nbytes], True)
        if walk["next_offset"] != end or walk["count"] != count or walk["max_ts"] != max_ts or \
                walk["valid_bytes"] != nbytes:
            raise FormatError(path, e, "segment entry %d differs from its batches" % i)
        index.extend((first, p + at - data_pos) for p, first, _, _ in walk["batches"])
        records.extend(walk["records"])
        at += nbytes
        expect = end
        if fb:
            segment_filters.append((filter_at, fb, base, end, walk["records"]))
        filter_at += fb
    if filter_at != t:
        raise FormatError(path, 112, "the segments' filters do not add up to the header's %d bytes" % filters)
    if at != index_pos or expect != u64(b, 32) or len(records) != u64(b, 40) or len(index) != batches_n:
        raise FormatError(path, 24, "the header's range or counts differ from the batches")
    times = [r["ts"] for r in records]
    if min(times) != i64(b, 48) or max(times) != i64(b, 56):
        raise FormatError(path, 48, "the header's times differ from the records")
    seen = {}
    for r in records:
        seen[r["schema"]] = seen.get(r["schema"], 0) + 1
    if sorted(seen.items()) != summary:
        raise FormatError(path, ARCHIVE_HEADER + name_len, "the schema summary differs from the records")
    for i, (first, p) in enumerate(index):
        e = index_pos + 24 * i
        h = decode_batch_header(b[data_pos + p:data_pos + p + BATCH_HEADER])
        if u64(b, e) != first or u64(b, e + 8) != p or i64(b, e + 16) != h["max_ts"]:
            raise FormatError(path, e, "index entry %d differs from its batch" % i)
    for at, fb, base, end, recs in segment_filters:
        check_archive_filter(path, b[at:at + fb], at, base, end, recs)
    return {"stream": name, "partition": u32(b, 16), "store_id": u64(b, 8), "first": u64(b, 24),
            "next": u64(b, 32), "segments": nseg, "records": records}


def check_archive_filter(path, b, at, base, end, records):
    """A version 2 archive's filter of segment [base, end): a damaged one
    or one of other offsets is not used (a warning naming the byte); one
    excluding a key its segment holds is an error."""
    def problem(msg):
        warn("%s: %s" % (path, msg))

    try:
        kf = key_filter_decode(path, b, at)
    except FormatError as e:
        return problem("damaged key filter, not used (%s)" % e)
    if (kf["base"], kf["end"], kf["summary_checksum"]) != (base, end, 0):
        return problem("byte %d: key filter of other offsets, not used" % at)
    key_filter_holds(path, kf, records, problem)


# A catalog entry's tier (section 5): 2 is cold, its records in an archive.
TIER_COLD = 2


COLD_LOCATION_RE = re.compile(r"\A[0-9]{20}\.cold([1-9][0-9]*)?\Z")


def cold_archive_name(store_id, stream, part, e, ckpt):
    """Section 4, "Cold tier" and "Forget over the cold tier": where cold
    entry e's archive lies in cold_dir; a location <base>.cold<G> (G
    rewrites by forget) names generation G's archive, ".g<G>" before
    ".sgar"."""
    m = COLD_LOCATION_RE.match(e["location"])
    if not m:
        raise FormatError(ckpt, None, "cold entry %s: not a cold location" % e["location"])
    gen = ".g%s" % m.group(1) if m.group(1) else ""
    return "%016x.%s.%05d.%020d-%020d%s.sgar" % (store_id, stream, part, e["base"], e["end"], gen)


def cold_records(pdir, part, e, cold):
    """The records of cold entry e: its archive, checked whole and against
    the entry (store id, stream, partition, offsets, record count, one
    segment), as the library reads it."""
    store_id, stream, cold_dir = cold
    if not cold_dir:
        raise FormatError(os.path.join(pdir, "catalog.ckpt"), None,
                          "cold entry %s, but the stream has no cold_dir" % e["location"])
    path = os.path.join(cold_dir, cold_archive_name(store_id, stream, part, e, os.path.join(pdir, "catalog.ckpt")))
    if not os.path.exists(path):
        raise FormatError(path, None, "missing: the archive of cold entry %s (offsets %d..%d)"
                          % (e["location"], e["base"], e["end"] - 1))
    a = check_archive(path)
    if (a["store_id"], a["stream"], a["partition"], a["first"], a["next"], len(a["records"]), a["segments"]) != \
            (store_id, stream, part, e["base"], e["end"], e["records"], 1):
        raise FormatError(path, 8, "holds store %016x stream %r partition %d offsets %d..%d (%d records, "
                          "%d segments), not cold entry %s" % (a["store_id"], a["stream"], a["partition"],
                                                              a["first"], a["next"], len(a["records"]),
                                                              a["segments"], e["location"]))
    return a["records"]


def archive_lines(path, with_headers=False):
    name, part, records = read_archive(path)
    for r in records:
        yield envelope(name, part, r, with_headers)


def main(argv):
    # Python's parser recurses once per nesting level (and the envelope adds
    # one): room for JSON_DEPTH_MAX, so that only the rule refuses a value.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * JSON_DEPTH_MAX))
    ap = argparse.ArgumentParser(description="Decode a siglog store (reference decoder).")
    ap.add_argument("store")
    ap.add_argument("--strict", action="store_true",
                    help="index files and summaries must be exactly what the writer derives")
    ap.add_argument("--no-journal", action="store_true", help="ignore the commit journal")
    ap.add_argument("--headers", action="store_true",
                    help='write "headers":[] for records without headers too (the envelope of siglog '
                         'replay has the member only when there are some)')
    ap.add_argument("--schemas", action="store_true",
                    help="print the schema versions of every stream (section 21) instead of events")
    ap.add_argument("--cold-dir", metavar="DIR",
                    help="read cold entries' archives from DIR instead of each stream's cold_dir")
    ap.add_argument("--archive", action="store_true",
                    help="the operand is an archive file (section 24): check it whole, then print its events")
    args = ap.parse_args(argv)
    out = sys.stdout
    try:
        if args.archive:
            lines = archive_lines(args.store, args.headers)
        else:
            lines = schema_lines(args.store) if args.schemas else \
                decode_store(args.store, args.strict, not args.no_journal, args.headers,
                             args.cold_dir)
        for line in lines:
            out.write(line)
    except FormatError as e:
        out.flush()
        sys.stderr.write("siglog_ref: %s\n" % e)
        return 1
    except OSError as e:
        out.flush()
        sys.stderr.write("siglog_ref: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
