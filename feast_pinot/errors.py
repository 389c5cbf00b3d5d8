"""The exceptions raised by feast_pinot.

    FeastPinotError
    ├── DeclarationError       a helper was called with values that cannot work
    ├── ActionValidationError  an action does not fit the standard action schema
    ├── RequestFieldError      a request field (request_ts) is missing or malformed;
    │                          also a Feast FeastError, so `feast serve` answers 422
    ├── OnlineStoreError       the online store could not read or write
    │   ├── OnlineStoreUnavailableError  busy, locked or unreachable for now: the same call may pass later
    │   ├── OnlineStoreValueError        the store cannot hold a value it was given (also a ValueError)
    │   └── PinotError         PinotOnlineStore: connection, schema, query, write
    │                          (the full tree is in feast_pinot.online.pinot.errors)
    ├── OfflineStoreError      the offline store could not build or write data
    │   └── OfflineWriteError  an action log's parts could not be written (also an
    │                          OSError: a transient I/O failure to whoever retries)
    ├── PushError              a push reached the offline log but not the online store;
    │                          pushing the same actions again is harmless
    ├── ReplayError            the freshness replay got data or settings it cannot use
    └── ParityError            the parity check got a repo, service or log it cannot use

    FeastPinotWarning (a UserWarning)  a write that works but cannot give what it was
                                       meant to (an object no view can key, an
                                       online-only push of actions, a wrong dim)

Driver errors (sqlite3, duckdb, ...) are translated at the boundary and chained
with ``raise ... from exc`` so the original stays visible. Each backend decides
which of its failures are transient (:class:`OnlineStoreUnavailableError`) and
which are about the data (a ``ValueError``): callers that retry, such as the
stream ingester, go by these types and know no driver.
"""

from __future__ import annotations

from feast.errors import FeastError

__all__ = [
    "ActionValidationError",
    "DeclarationError",
    "FeastPinotError",
    "FeastPinotWarning",
    "OfflineStoreError",
    "OfflineWriteError",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "OnlineStoreValueError",
    "ParityError",
    "PushError",
    "ReplayError",
    "RequestFieldError",
]


class FeastPinotError(Exception):
    """Root of every error feast_pinot raises on purpose."""


class FeastPinotWarning(UserWarning):
    """Accepted, but it will not do what was meant; the message names the fix."""


class DeclarationError(FeastPinotError, ValueError):
    """A declaration helper got arguments that cannot make a working feature view."""


class ActionValidationError(FeastPinotError, ValueError):
    """One or more actions do not fit the standard action schema.

    ``problems`` lists ``(index, reason)`` for every rejected action, so a caller
    can route each one (e.g. to a dead-letter sink) without re-validating.
    """

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "; ".join(f"action {i}: {reason}" for i, reason in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} invalid action(s): {shown}{more}")


class RequestFieldError(FeastPinotError, FeastError, ValueError):
    """A client sent a request field the windowed features cannot use.

    Feast's feature server answers a ``FeastError`` with its
    ``http_status_code()``: this is the client's mistake, so 422, not 500.
    """

    def http_status_code(self) -> int:
        return 422

    def grpc_status_code(self) -> GrpcStatusCode:  # type: ignore[name-defined]  # noqa: F821
        from grpc import StatusCode

        return StatusCode.INVALID_ARGUMENT


class OnlineStoreError(FeastPinotError):
    """An online store read or write failed."""


class OnlineStoreUnavailableError(OnlineStoreError):
    """The store could not be used just now (locked by another writer, unreachable, timed out).

    Nothing about the call itself is wrong: the same call may pass later, so a
    caller may retry it. Each backend raises it for its own transient failures.
    """


class OnlineStoreValueError(OnlineStoreError, ValueError):
    """The store refused a value it was given: retrying cannot help, leaving the value out can."""


class OfflineStoreError(FeastPinotError):
    """The offline store could not build or write data."""


class ReplayError(FeastPinotError, ValueError):
    """The freshness replay (``python -m feast_pinot.replay``) got input it cannot use."""


class ParityError(FeastPinotError, ValueError):
    """The parity check (``python -m feast_pinot.parity``) got a repo, service or log it cannot use."""


class OfflineWriteError(OfflineStoreError, OSError):
    """An action log's Parquet parts could not be written.

    ``written`` lists the parts written before the failure (a push spanning
    several dates writes one part per date): readers already see those.
    """

    def __init__(self, message: str, written: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.written = written


class PushError(FeastPinotError):
    """The actions are in the offline log but the online store did not take them.

    The message names where they were written. Pushing the same actions again
    is harmless: their ``action_id`` makes both stores keep each action once.
    """
