"""Value rules every write path, the ingester's lookups and both read-time joins share.

Stores bind integers as int64 and text as UTF-8; a value outside those
domains would fail deep inside a driver (and for a read-time join, fail every
read of the member), so it is refused, or has no key, at the edge. Times are
epoch milliseconds in a plausible range (:func:`epoch_ms_problem`): a time in
another unit would otherwise be read as a valid but absurd instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = [
    "EPOCH_MS_MAX",
    "EPOCH_MS_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "epoch_ms_problem",
    "is_int64",
    "is_utf8",
    "object_key",
    "parse_int_key",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
EPOCH_MS_MIN = 978_307_200_000  # 2001-01-01T00:00:00Z
EPOCH_MS_MAX = 4_102_444_800_000  # 2100-01-01T00:00:00Z, excluded
# What a value outside the range may be: a unit, and how to turn it into milliseconds (* mul // div).
_OTHER_UNITS = (("seconds", 1000, 1), ("microseconds", 1, 1000), ("nanoseconds", 1, 1_000_000))
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_ms_problem(ms: int) -> str | None:
    """Why ``ms`` cannot be the epoch milliseconds of an action or a request; None when it can.

    The one rule for request times and action timestamps, online and offline:
    from 2001-01-01 (included) to 2100-01-01 (excluded). Outside it the value
    is a unit mistake, not a time: seconds read as milliseconds fall in January
    1970 and give empty windows, microseconds fall thousands of years ahead.
    The reason shows the value as a date and names the unit it looks like.
    """
    if EPOCH_MS_MIN <= ms < EPOCH_MS_MAX:
        return None
    guesses = [f"{unit}? as {unit} it is {_date(ms * mul // div)}" for unit, mul, div in _OTHER_UNITS
               if EPOCH_MS_MIN <= ms * mul // div < EPOCH_MS_MAX]
    return (f"must be epoch milliseconds from 2001-01-01 to 2100-01-01, got {ms} "
            f"({'; '.join([f'as milliseconds it is {_date(ms)}', *guesses])})")


def _date(ms: int) -> str:
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except OverflowError:
        return "after the year 9999" if ms > 0 else "before the year 1"


def is_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def is_utf8(text: str) -> bool:
    """False for text UTF-8 cannot encode (lone surrogates such as ``"\\ud800"``)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_int_key(text: str) -> int | None:
    """The integer join key an object id names: ASCII digits within int64, else None.

    ``int()`` would also accept ``" 7"``, ``"+7"``, ``"7_0"`` and non-ASCII digits
    (``"٧"``), which SQL casts refuse; online and offline joins call this one
    function so both read the same key.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 19:  # int() refuses 4,300+ digits: never ask
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def object_key(text: str, prefix: str, key_is_int: bool) -> int | str | None:
    """The join key ``text`` names: ``text`` less ``prefix``, as int64 when ``key_is_int``; None if none.

    The ingest-time lookups and the read-time attribute joins (online and
    offline) all key through this, so an object joins in every one or in none.
    """
    if not text.startswith(prefix):
        return None
    raw = text[len(prefix):]
    return parse_int_key(raw) if key_is_int else raw
