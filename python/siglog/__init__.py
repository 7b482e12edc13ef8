"""siglog — read and write siglog stores from Python, over libsiglog.

    import siglog
    with siglog.open("./store") as store:              # read-only by default
        for e in store.stream("clicks").replay(order="merge"):
            print(e.partition, e.offset, e.ts, e.key, e.json())

Every failure of the engine is a siglog.Error carrying its name (ECORRUPT,
ENOENT, ...) and detail. A closed store, and every stream and replay
obtained from it, raise siglog.ClosedError (a ValueError) when used.
"""
import ctypes
import os

from ._event import Event
from ._lib import ClosedError, Error
from ._manifest import ManifestMismatch
from ._replay import Replay
from ._stream import Stream, replay_streams
from . import _lib

__all__ = ["open", "Store", "Stream", "Replay", "Event", "Error", "ClosedError", "ManifestMismatch"]


class Store:
    """An open store. Use as a context manager, or call close()."""

    def __init__(self, path, read_only=True, create=False):
        o = _lib.Options()
        _lib.lib.siglog_options_default(ctypes.byref(o))
        o.read_only = 1 if read_only else 0
        o.create = 1 if create else 0
        handle = ctypes.c_void_p()
        _lib.check(_lib.lib.siglog_open(ctypes.byref(handle), os.fsencode(path), ctypes.byref(o)))
        self._handle = handle
        self._guard = _lib.Guard("store")
        self._replays = set()
        self.path = path
        self.read_only = bool(read_only)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_guard", None) is not None:
            self.close()

    @property
    def closed(self):
        return self._guard.closed

    def close(self):
        """Close every replay still open on the store, write out and sync
        what was appended, free the store. Waits for calls running in
        other threads; later calls raise ClosedError. Again: a no-op."""
        if not self._guard.close():
            return
        for r in list(self._replays):
            r._close_cursors()
        _lib.check(_lib.lib.siglog_close(self._handle))

    def streams(self):
        """The names of the store's streams, in name order (failed streams
        included: store.stream(name) raises their failure)."""
        names = []

        def one(_ctx, st):
            names.append(_lib.lib.siglog_stream_name(st).decode())
            return 0

        with self._guard:
            _lib.check(_lib.lib.siglog_stream_foreach(self._handle, _lib.STREAM_FN(one), None))
        return names

    def stream(self, name):
        """The stream called name (siglog.Error ENOENT when there is none)."""
        h = ctypes.c_void_p()
        with self._guard:
            _lib.check(_lib.lib.siglog_stream_get(self._handle, name.encode(), ctypes.byref(h)))
        return Stream(self, name, h)

    def replay(self, streams, **kwargs):
        """Several streams read as one, as `siglog replay STORE S1,S2` reads
        them: streams is a list of names (or "S1,S2"); kwargs as for
        Stream.replay (order "partition" reads the streams in turn, "merge"
        and "event-time" interleave them by (ts, stream name, partition,
        offset); every filter applies to each stream, key=K following one
        correlation key across them). Each Event's stream names its source.
        A manifest of several streams is siglog replay's (ValueError)."""
        names = streams.split(",") if isinstance(streams, str) else list(streams)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"streams must name each stream once, not {names!r}")
        return replay_streams([self.stream(n) for n in names], **kwargs)

    def create_stream(self, name, partitions=1, **settings):
        """Create a stream (writer stores only). settings are stream
        settings by name, as `siglog stream create --set NAME=VALUE` takes
        them, in their base units (bytes, microseconds or milliseconds as
        the setting says; an enum by its number; a text setting such as
        cold_dir as a str)."""
        c = _lib.StreamConfig()
        _lib.lib.siglog_stream_config_default(ctypes.byref(c))
        settings = dict(settings, partitions=partitions)
        for key, value in settings.items():
            row = _lib.lib.siglog_setting_find(key.encode())
            if not row:
                raise ValueError(f"no stream setting called {key!r}")
            if row.contents.type == _lib.SETTING_TEXT:
                _lib.check(_lib.lib.siglog_setting_set_text(ctypes.byref(c), row, os.fsencode(value)))
            else:
                _lib.check(_lib.lib.siglog_setting_set(ctypes.byref(c), row, int(value)))
        with self._guard:
            _lib.check(_lib.lib.siglog_stream_create(self._handle, name.encode(), ctypes.byref(c)))
        return self.stream(name)

    def store_id(self):
        """The store's id (siglog.store, FORMAT.md section 3): an int,
        the same from every handle; manifests record it in hex."""
        with self._guard:
            return _lib.lib.siglog_store_id(self._handle)

    def sync(self):
        """Make everything appended so far durable."""
        with self._guard:
            _lib.check(_lib.lib.siglog_sync(self._handle))


def open(path, read_only=True, create=False):  # noqa: A001 (the module's verb)
    """Open the store at path: read-only unless read_only=False (one writer
    process at a time; create=True creates a missing store)."""
    return Store(path, read_only=read_only, create=create)

