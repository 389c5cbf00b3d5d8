"""Raw application events that can never become actions, one of each kind that once
stopped the ingester (issue 11), plus the usual bad input. Each must end up as a dead
letter, whichever part (parse, validation, the store) refuses it."""

from __future__ import annotations

import json

from tests.ingest.support import application

__all__ = ["OVERSIZED", "poison_events"]

OVERSIZED = 900_000  # bytes: its dead letter would pass the producer's 1 MB limit if not truncated


def _app(**fields: object) -> bytes:
    body = {"event": "job_application", "application_id": "p", "member_id": 1, "job_id": 3,
            "applied_at": 0, "client": {"device": "ios"}}
    return json.dumps({**body, **fields}).encode()


def poison_events(now: int) -> dict[str, bytes | None]:
    """label -> raw value (None: a message without a value)."""
    return {
        "json nested 10,000 deep (array)": b'{"event": "job_application", "client": ' + b"[" * 10_000
        + b"]" * 10_000 + b"}",
        "json nested 10,000 deep (object)": b'{"a": ' * 10_000 + b"1" + b"}" * 10_000,
        "lone surrogate in the action id": _app(application_id="\ud800", applied_at=now),
        "actor 2^63": _app(application_id="big-actor", member_id=2**63, applied_at=now),
        "job id 2^64": _app(application_id="big-job", job_id=2**64, applied_at=now),
        "actor of 5,000 digits": _app(application_id="digits", applied_at=now).replace(
            b'"member_id": 1', b'"member_id": ' + b"7" * 5_000),
        "timestamp 1e400": _app(application_id="inf-ts").replace(b'"applied_at": 0', b'"applied_at": 1e400'),
        "actor 1e400": _app(application_id="inf-actor", applied_at=now).replace(
            b'"member_id": 1', b'"member_id": -1e400'),
        "actor NaN": _app(application_id="nan-actor", applied_at=now).replace(b'"member_id": 1', b'"member_id": NaN'),
        "over 750 KB, no shape": json.dumps({"event": "page_view", "pad": "x" * OVERSIZED}).encode(),
        "binary": b"\xff\xfe\x00\x01garbage",
        "invalid UTF-8 in a string": b'{"event": "job_application", "application_id": "\xc3\x28"}',
        "no value": None,
        "a JSON number": b"12",
        "stale": application("stale", 1, 4, now - 97 * 3_600_000),
    }
