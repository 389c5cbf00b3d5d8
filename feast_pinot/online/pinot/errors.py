"""The errors of the Pinot online store, under :class:`~feast_pinot.errors.OnlineStoreError`.

    OnlineStoreError
    └── PinotError
        ├── PinotConnectionError     the controller, broker or Kafka cannot be reached
        ├── PinotAuthError           the controller, broker or Kafka refused the credentials or the permission
        ├── PinotSchemaError         a schema or table cannot be created, updated or deleted
        ├── PinotValueError          a value or query part cannot go into Pinot SQL (also a ValueError)
        ├── PinotQueryError          the broker answered a query with an error
        │   ├── PinotTableMissingError    no such table (190)
        │   ├── PinotTimeoutError         the query timed out (client, broker or server)
        │   └── PinotPartialResultError   not every server responded
        └── PinotWriteError          Kafka did not take a write, a value Pinot would alter, or not queryable in time
            └── PinotActionError     actions Pinot cannot store as given (also an ActionValidationError)

Query errors carry ``table``, ``sql`` (as sent) and ``error_code`` (Pinot's,
or None when the failure happened before Pinot answered).
"""

from __future__ import annotations

from feast_pinot.errors import ActionValidationError, OnlineStoreError

__all__ = [
    "PinotActionError",
    "PinotAuthError",
    "PinotConnectionError",
    "PinotError",
    "PinotPartialResultError",
    "PinotQueryError",
    "PinotSchemaError",
    "PinotTableMissingError",
    "PinotTimeoutError",
    "PinotValueError",
    "PinotWriteError",
]


class PinotError(OnlineStoreError):
    """Root of the Pinot online store's errors."""


class PinotConnectionError(PinotError):
    """The controller, the broker or Kafka could not be reached."""


class PinotAuthError(PinotError):
    """The controller, the broker or Kafka refused the credentials given, or the principal lacks a permission.

    The message names the service and the user, never a secret.
    """

    @classmethod
    def http(cls, service: str, username: str | None, answer: str, what: str) -> PinotAuthError:
        """The error of a refusal (``answer``: "HTTP 403", "Pinot error 180") from the Pinot ``service``."""
        who = f"user {username!r}" if username is not None else "a request without credentials"
        return cls(f"the Pinot {service} refused {who} ({answer}) on {what}: check online_store.username "
                   "and password (a wrong password, a missing one, or no permission)")


class PinotSchemaError(PinotError):
    """The controller refused a schema or table change, or a view cannot map to Pinot."""


class PinotValueError(PinotError, ValueError):
    """A value of a type or range Pinot SQL cannot hold, an empty IN list, a bad LIMIT."""


class PinotQueryError(PinotError):
    """The broker did not return a complete, error-free result for a query."""

    def __init__(self, table: str, sql: str, reason: str, error_code: int | None = None) -> None:
        self.table = table
        self.sql = sql
        self.error_code = error_code
        code = f" (Pinot error {error_code})" if error_code is not None else ""
        super().__init__(f"query on Pinot table '{table}' failed{code}: {reason}\n  query: {sql}")


class PinotTableMissingError(PinotQueryError):
    """The broker knows no such table: ``feast apply`` has not created it."""


class PinotTimeoutError(PinotQueryError):
    """The query did not finish in time (the client's HTTP timeout or Pinot's ``timeoutMs``)."""


class PinotPartialResultError(PinotQueryError):
    """Some servers did not respond: the rows would be incomplete, so none are returned."""


class PinotWriteError(PinotError):
    """Rows were not produced to Kafka, hold a value Pinot would alter, or did not become queryable in time."""


class PinotActionError(PinotWriteError, ActionValidationError):
    """Actions holding a value Pinot would alter (a NUL character, a string past ``maxLength``).

    An :class:`~feast_pinot.errors.ActionValidationError` too, with ``problems``
    indexed like the actions given, so the ingester dead-letters exactly those.
    """

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        ActionValidationError.__init__(self, problems)
