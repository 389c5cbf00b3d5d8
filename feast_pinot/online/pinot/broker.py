"""Reads through pinotdb to the broker, with Pinot's failures turned into exceptions.

pinotdb raises ``DatabaseError`` for exceptions in a 200 response and for
partial results (``numServersResponded < numServersQueried``), and httpx raises
for transport failures; each becomes a :class:`PinotQueryError` subclass that
names the table and the SQL. A response without ``resultTable`` is an empty
result only when the broker answered alone (``numServersQueried == 0``, every
segment pruned); anything else missing is an error, never an empty list.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from feast_pinot.online.pinot.errors import (
    PinotAuthError,
    PinotConnectionError,
    PinotError,
    PinotPartialResultError,
    PinotQueryError,
    PinotTableMissingError,
    PinotTimeoutError,
)
from feast_pinot.online.pinot.settings import PinotOnlineStoreConfig
from feast_pinot.online.pinot.sql import Query

__all__ = ["BrokerClient", "Result"]

_TIMEOUT_CODES = {240, 250, 400}  # scheduling, execution, broker timeout
_PARTIAL_CODES = {427, 305}  # servers not responding, segments unavailable
_ACCESS_DENIED = 180
_ERROR_TYPES: dict[int, type[PinotQueryError]] = {190: PinotTableMissingError}


class Result:
    """Rows of a query as dicts, with the Pinot type of every column."""

    def __init__(self, columns: list[str], types: list[str], rows: list[list[Any]]) -> None:
        self.types = dict(zip(columns, types))
        self.rows = [dict(zip(columns, row)) for row in rows]


def _error_type(code: int | None) -> type[PinotQueryError]:
    if code in _TIMEOUT_CODES:
        return PinotTimeoutError
    if code in _PARTIAL_CODES:
        return PinotPartialResultError
    return _ERROR_TYPES.get(code or 0, PinotQueryError)


class BrokerClient:
    """One pinotdb connection; a cursor per thread (a cursor holds one result)."""

    def __init__(self, config: PinotOnlineStoreConfig) -> None:
        import pinotdb  # lazy: the embedded store never needs it

        url = urlsplit(config.broker_url)
        auth = config.auth
        self._connection = pinotdb.connect(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80),
            path=(url.path or "") + "/query/sql", scheme=url.scheme,
            username=auth[0] if auth else None, password=auth[1] if auth else None,
            timeout=config.http_timeout_s,
            # Connection-level options only: the same key at two levels is a duplicate Pinot rejects (150).
            # No enableNullHandling: Pinot 0.11 refuses it at its default data table version (3);
            # absence is recorded in the rows instead (records.py).
            query_options=f"timeoutMs={config.query_timeout_ms}",
        )
        self._local = threading.local()
        self._username = config.username

    def _cursor(self) -> Any:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._connection.cursor()
            self._local.cursor = cursor
        return cursor

    def execute(self, query: Query) -> Result:
        import httpx
        from pinotdb import exceptions as pinot_exceptions

        cursor = self._cursor()
        try:
            cursor.execute(query.template, query.params)
        except httpx.TimeoutException as exc:
            raise PinotTimeoutError(query.table, query.sql, f"no answer from the broker in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise PinotConnectionError(f"cannot reach the Pinot broker for table '{query.table}': {exc!r}") from exc
        except pinot_exceptions.Error as exc:
            raise self._translate(query, cursor.raw_query_response, exc) from exc
        return self._result(query, cursor)

    def _translate(self, query: Query, raw: Mapping[str, Any] | None, exc: Exception) -> PinotError:
        status = (raw or {}).get("status_code")
        if status in (401, 403):
            return PinotAuthError.http("broker", self._username, f"HTTP {status}", f"a query of table '{query.table}'")
        payload = (raw or {}).get("response")
        if not isinstance(payload, dict):
            return PinotQueryError(query.table, query.sql, f"the broker sent no JSON: {exc}")
        exceptions = payload.get("exceptions") or []
        code = exceptions[0].get("errorCode") if exceptions else None
        if code == _ACCESS_DENIED:  # Pinot 0.11 answers a refused login with HTTP 200 and this code
            return PinotAuthError.http("broker", self._username, f"Pinot error {code}",
                                       f"a query of table '{query.table}'")
        detail = "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in exceptions) or str(exc)
        queried, responded = payload.get("numServersQueried", -1), payload.get("numServersResponded", -1)
        if queried < 0 or responded < 0 or responded < queried:
            reason = f"only {responded} of {queried} servers responded ({detail})"
            return PinotPartialResultError(query.table, query.sql, reason, code)
        return _error_type(code)(query.table, query.sql, detail, code)

    @staticmethod
    def _result(query: Query, cursor: Any) -> Result:
        if cursor.schema is None:  # no resultTable in the response
            if cursor.raw_query_response["response"].get("numServersQueried") == 0:
                return Result([], [], [])  # the broker pruned every segment: nothing matches
            raise PinotQueryError(query.table, query.sql, "no resultTable although servers were queried")
        columns = [c["name"] for c in cursor.schema]
        # fetchall: the rows after pinotdb's conversions (JSON parsed, TIMESTAMP as datetime)
        return Result(columns, [c["type"] for c in cursor.schema], cursor.fetchall())

    def close(self) -> None:
        self._connection.close()
