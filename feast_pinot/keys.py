"""Value rules every write path, the ingester's lookups and both read-time joins share.

Stores bind integers as int64 and text as UTF-8; a value outside those
domains would fail deep inside a driver (and for a read-time join, fail every
read of the member), so it is refused, or has no key, at the edge.
"""

from __future__ import annotations

__all__ = ["INT64_MAX", "INT64_MIN", "is_int64", "is_utf8", "object_key", "parse_int_key"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


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
