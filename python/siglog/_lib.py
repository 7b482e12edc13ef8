"""The C library through ctypes: loading, the structs of siglog.h, the
prototypes of the calls the module uses, and engine errors as exceptions.

Only this file knows the C layout; the rest of the module speaks Python.
"""
import ctypes
import ctypes.util
import os
import threading

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

PARTITION_BY_KEY = 0xFFFFFFFF
EVENT_TOMBSTONE = 1
SEEK_START, SEEK_END, SEEK_OFFSET, SEEK_TIME = 0, 1, 2, 3
CURSOR_ALLOW_GAPS = 2
# siglog_redactor_open's levels (enum siglog_sensitivity) and modes, by the
# names siglog replay --redact and --redact-mode take.
REDACT_LEVELS = {"internal": 1, "personal": 2, "secret": 3}
REDACT_MODES = {"hash": 0, "drop": 1}
ETOOBIG = -30009


class Error(Exception):
    """A failed siglog call: `name` is the engine's error name (ECORRUPT,
    ENOENT, ...), `code` its SIGLOG_E* value, `detail` what precisely went
    wrong (file, byte, what was expected)."""

    def __init__(self, code, name, detail):
        self.code = code
        self.name = name
        self.detail = detail
        super().__init__(f"{name}: {detail}")


class ClosedError(Error, ValueError):
    """Use of a store, or of anything obtained from it, after its close."""

    def __init__(self, what):
        super().__init__(None, "CLOSED", f"{what} is closed")


class Options(Structure):
    _fields_ = [("read_only", c_int), ("create", c_int), ("file_mode", c_uint32),
                ("dir_mode", c_uint32), ("journal_bytes", c_uint64),
                ("log_fn", c_void_p), ("log_ctx", c_void_p), ("internal", c_void_p),
                ("force_owner", c_uint32), ("reserved32", c_uint32),
                ("reserved", c_uint64 * 7)]


SETTING_TEXT_MAX = 255  # SIGLOG_SETTING_TEXT_MAX
SETTING_TEXT = 5  # SIGLOG_SETTING_TEXT


class StreamConfig(Structure):
    _fields_ = [("partitions", c_uint32), ("compression", c_uint32),
                ("sync_policy", c_uint32), ("sync_interval_ms", c_uint32),
                ("segment_bytes_max", c_uint64), ("segment_age_max_us", c_uint64),
                ("record_bytes_max", c_uint32), ("batch_bytes_max", c_uint32),
                ("linger_us", c_uint32), ("index_interval_bytes", c_uint32),
                ("contract", c_uint32), ("warm_level", c_uint32),
                ("warm_after", c_uint64), ("cold_after", c_uint64),
                ("delete_after", c_uint64), ("max_bytes", c_uint64),
                ("cold_max_bytes", c_uint64), ("min_free", c_uint64),
                ("max_hold", c_uint64), ("retention_interval", c_uint64),
                ("merge_below", c_uint64), ("tombstone_retention", c_uint64),
                ("compact_interval", c_uint64), ("cleanup", c_uint32),
                ("reserved32", c_uint32), ("reserved", c_uint64 * 4),
                ("cold_dir", c_char * (SETTING_TEXT_MAX + 1))]


class Setting(Structure):
    _fields_ = [("name", c_char_p), ("type", c_int), ("unit_us", c_uint32),
                ("is_mutable", c_int), ("min", c_uint64), ("max", c_uint64),
                ("default_value", c_uint64), ("choices", POINTER(c_char_p)),
                ("summary", c_char_p)]


class PartitionInfo(Structure):
    _fields_ = [("log_start_offset", c_uint64), ("next_offset", c_uint64),
                ("segment_count", c_uint64), ("bytes", c_uint64),
                ("index_bytes", c_uint64), ("first_timestamp_us", c_int64),
                ("max_timestamp_us", c_int64), ("failed", c_int),
                ("state", c_int), ("detail", c_char * 512),
                ("reserved", c_uint64 * 4)]


class Header(Structure):
    # c_char_p fields keep the assigned bytes alive with the struct.
    _fields_ = [("key", c_char_p), ("key_len", c_uint32),
                ("value", c_char_p), ("value_len", c_uint32)]


class Event(Structure):
    _fields_ = [("key", c_char_p), ("key_len", c_size_t),
                ("value", c_char_p), ("value_len", c_size_t),
                ("timestamp_us", c_int64), ("schema_version", c_uint32),
                ("flags", c_uint32), ("headers", POINTER(Header)),
                ("header_count", c_uint32)]


class Record(Structure):
    """siglog_record: a batch of them is read a field at a time through a
    memoryview (_replay), not record by record, since ctypes attribute
    access costs per record."""
    _fields_ = [("offset", c_uint64), ("timestamp_us", c_int64),
                ("partition", c_uint32), ("schema_version", c_uint32),
                ("flags", c_uint32), ("header_count", c_uint32),
                ("key", c_void_p), ("key_len", c_size_t),
                ("value", c_void_p), ("value_len", c_size_t),
                ("headers", c_void_p)]


class SortOptions(Structure):
    _fields_ = [("memory_bytes", c_uint64), ("spill_dir", c_char_p), ("keep", c_void_p),
                ("keep_ctx", c_void_p), ("reserved", c_uint64 * 4)]


KEEP_FN = CFUNCTYPE(c_int, c_void_p, POINTER(Record))


class ReorderOptions(Structure):
    _fields_ = [("max_lateness_us", c_int64), ("memory_bytes", c_uint64), ("keep", KEEP_FN),
                ("keep_ctx", c_void_p), ("reserved", c_uint64 * 4)]


class SchemaInfo(Structure):
    _fields_ = [("version", c_uint32), ("compat", c_uint32), ("registered_at_us", c_int64),
                ("fingerprint", c_uint64), ("name", c_char_p), ("definition", c_char_p),
                ("definition_len", c_size_t), ("reserved", c_uint64 * 4)]


# siglog_header's layout for struct.iter_unpack (native order and alignment).
HEADER_FORMAT = "PIxxxxPIxxxx"

STREAM_FN = CFUNCTYPE(c_int, c_void_p, c_void_p)

_PROTOTYPES = {
    "siglog_errname": (c_char_p, [c_int]),
    "siglog_errdetail": (c_char_p, []),
    "siglog_options_default": (None, [POINTER(Options)]),
    "siglog_open": (c_int, [POINTER(c_void_p), c_char_p, POINTER(Options)]),
    "siglog_close": (c_int, [c_void_p]),
    "siglog_sync": (c_int, [c_void_p]),
    "siglog_store_id": (c_uint64, [c_void_p]),
    "siglog_stream_config_default": (None, [POINTER(StreamConfig)]),
    "siglog_setting_count": (c_size_t, []),
    "siglog_setting_at": (POINTER(Setting), [c_size_t]),
    "siglog_setting_find": (POINTER(Setting), [c_char_p]),
    "siglog_setting_get": (c_uint64, [POINTER(StreamConfig), POINTER(Setting)]),
    "siglog_setting_set": (c_int, [POINTER(StreamConfig), POINTER(Setting), c_uint64]),
    "siglog_setting_text": (c_char_p, [POINTER(StreamConfig), POINTER(Setting)]),
    "siglog_setting_set_text": (c_int, [POINTER(StreamConfig), POINTER(Setting), c_char_p]),
    "siglog_stream_create": (c_int, [c_void_p, c_char_p, POINTER(StreamConfig)]),
    "siglog_stream_get": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "siglog_stream_foreach": (c_int, [c_void_p, STREAM_FN, c_void_p]),
    "siglog_stream_name": (c_char_p, [c_void_p]),
    "siglog_stream_config_get": (None, [c_void_p, POINTER(StreamConfig)]),
    "siglog_partition_info_get": (c_int, [c_void_p, c_uint32, POINTER(PartitionInfo)]),
    "siglog_append": (c_int, [c_void_p, c_uint32, POINTER(Event), c_size_t,
                              POINTER(c_uint32), POINTER(c_uint64)]),
    "siglog_wait_durable": (c_int, [c_void_p, c_uint32, c_uint64, c_int64]),
    "siglog_cursor_open": (c_int, [POINTER(c_void_p), c_void_p, c_uint32, c_int, c_int64, c_uint]),
    "siglog_cursor_next_batch": (c_int, [c_void_p, POINTER(Record), c_size_t, c_void_p,
                                         c_size_t, POINTER(c_size_t)]),
    "siglog_cursor_close": (None, [c_void_p]),
    "siglog_cursor_position": (c_uint64, [c_void_p]),
    "siglog_schema_get": (c_int, [c_void_p, c_uint32, POINTER(SchemaInfo)]),
    "siglog_sort_options_default": (None, [POINTER(SortOptions)]),
    "siglog_sort_open": (c_int, [POINTER(c_void_p), POINTER(c_void_p), c_size_t, POINTER(SortOptions)]),
    "siglog_sort_next_batch": (c_int, [c_void_p, POINTER(Record), POINTER(c_size_t), c_size_t, c_void_p, c_size_t,
                                       POINTER(c_size_t)]),
    "siglog_sort_close": (None, [c_void_p]),
    "siglog_reorder_options_default": (None, [POINTER(ReorderOptions)]),
    "siglog_reorder_open": (c_int, [POINTER(c_void_p), POINTER(c_void_p), c_size_t, POINTER(ReorderOptions)]),
    "siglog_reorder_next_batch": (c_int, [c_void_p, POINTER(Record), POINTER(c_size_t), POINTER(c_int), c_size_t,
                                          c_void_p, c_size_t, POINTER(c_size_t)]),
    "siglog_reorder_finish": (None, [c_void_p]),
    "siglog_reorder_close": (None, [c_void_p]),
    "siglog_redactor_open": (c_int, [POINTER(c_void_p), c_void_p, c_int, c_int]),
    "siglog_redact": (c_int, [c_void_p, POINTER(Record), POINTER(c_void_p), POINTER(c_size_t)]),
    "siglog_redactor_close": (None, [c_void_p]),
}


SONAME = "libsiglog.so.0"


def _candidates():
    """$SIGLOG_LIBRARY (a path to libsiglog.so: the tests point it into the
    build tree), the library installed with this module, then whatever
    the dynamic linker finds by the soname."""
    if os.environ.get("SIGLOG_LIBRARY"):
        yield os.environ["SIGLOG_LIBRARY"]
        return
    try:
        from ._installed import LIBDIR
        yield os.path.join(LIBDIR, SONAME)
    except ImportError:
        pass  # not installed: running from a source tree
    yield SONAME
    found = ctypes.util.find_library("siglog")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(str(e))
    raise ImportError("siglog: cannot load libsiglog (" + "; ".join(tried) +
                      "): install siglog or set SIGLOG_LIBRARY to the library's path")


lib = _load()
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def error(code):
    """The exception for a negative code, with the calling thread's detail
    (read at once: the next call on this thread replaces it)."""
    detail = lib.siglog_errdetail().decode("utf-8", "replace")
    return Error(code, lib.siglog_errname(code).decode(), detail)


def check(code):
    """code when it is not an error, else raise it."""
    if code < 0:
        raise error(code)
    return code


class Guard:
    """Keeps a C handle alive while calls run on it from any thread, and
    makes use after close an exception instead of a crash: close waits for
    running calls to end, then refuses new ones. ctypes drops the GIL
    during a call, so without this a close on one thread could free what
    another is reading."""

    def __init__(self, what):
        self._what = what
        self._cv = threading.Condition()
        self._active = 0
        self.closed = False

    def __enter__(self):
        with self._cv:
            if self.closed:
                raise ClosedError(self._what)
            self._active += 1
        return self

    def __exit__(self, *exc):
        with self._cv:
            self._active -= 1
            if not self._active:
                self._cv.notify_all()

    def close(self):
        """True for the first close (the caller frees the handle), once
        every running call has ended."""
        with self._cv:
            if self.closed:
                return False
            self.closed = True
            while self._active:
                self._cv.wait()
            return True
