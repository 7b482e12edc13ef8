"""Event: one record as replay hands it out, and time conversions."""
import collections
import datetime
import json

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_us(t):
    """Microseconds since the epoch from an int (taken as microseconds) or
    a datetime (a naive one is refused: its zone would be a guess)."""
    if t is None or isinstance(t, int):
        return t
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            raise ValueError("a naive datetime has no time zone; give tzinfo (e.g. datetime.timezone.utc)")
        return (t - EPOCH) // datetime.timedelta(microseconds=1)
    raise TypeError(f"a time is an int of microseconds or a datetime, not {type(t).__name__}")


_Fields = collections.namedtuple(
    "_Fields", "partition offset ts_us key schema_version headers value tombstone stream late")


class Event(_Fields):
    """One event: partition, offset, ts_us (microseconds since the epoch),
    key (bytes, None when absent), schema_version, headers (a tuple of
    (name, value) pairs of str in stored order: names may repeat; bytes
    that are not UTF-8 come as surrogate escapes), value (bytes), tombstone
    (bool), stream (name), late (bool: handed out behind the watermark
    of a replay with max_lateness, so out of order; else False). `ts` is
    the time as an aware UTC datetime;
    json() parses the value; header(name) gives a header's first value."""

    __slots__ = ()

    @property
    def ts(self):
        return EPOCH + datetime.timedelta(microseconds=self.ts_us)

    def json(self):
        return json.loads(self.value)

    def header(self, name, default=None):
        for n, v in self.headers:
            if n == name:
                return v
        return default
