"""The broker's ``POST /query/sql``: Pinot's response JSON, errors and faults.

Responses are HTTP 200 with the field set and order of ``BrokerResponseNative``
(Pinot 1.0-1.4); errors go in ``exceptions`` with ``X-Pinot-Error-Code``;
``resultTable`` is omitted when the broker answers alone (filter always false).
Faults let tests make the broker misbehave the ways Pinot does: exceptions in a
200, partial results from a server that did not respond, slow servers.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import numpy as np

from tests.pinot_standin.sql import Output, Plan, QueryError, null_default, plan
from tests.pinot_standin.storage import Storage

__all__ = ["Fault", "Broker", "parse_query_options", "dumps", "BROKER_TIMEOUT_MS"]

BROKER_TIMEOUT_MS = 10_000  # pinot.broker.timeoutMs default
_STAT_FIELDS = (
    "numDocsScanned", "totalDocs", "numEntriesScannedInFilter", "numEntriesScannedPostFilter",
    "numServersQueried", "numServersResponded", "numSegmentsQueried", "numSegmentsProcessed",
    "numSegmentsMatched", "numConsumingSegmentsQueried", "numConsumingSegmentsProcessed",
    "numConsumingSegmentsMatched", "minConsumingFreshnessTimeMs", "numSegmentsPrunedByBroker",
    "numSegmentsPrunedByServer", "numSegmentsPrunedInvalid", "numSegmentsPrunedByLimit",
    "numSegmentsPrunedByValue", "brokerReduceTimeMs", "offlineThreadCpuTimeNs", "realtimeThreadCpuTimeNs",
    "offlineSystemActivitiesCpuTimeNs", "realtimeSystemActivitiesCpuTimeNs",
    "offlineResponseSerializationCpuTimeNs", "realtimeResponseSerializationCpuTimeNs",
    "offlineTotalCpuTimeNs", "realtimeTotalCpuTimeNs", "explainPlanNumEmptyFilterSegments",
    "explainPlanNumMatchAllFilterSegments",
)


@dataclass
class Fault:
    """Misbehaviour for the next ``times`` queries of ``table`` (None: any table).

    kind: ``exception`` (error_code in a 200), ``partial`` (one of two servers
    does not respond: 427 and the rows of the other), ``slow`` (servers answer
    after delay_ms; past the query timeout they count as not responded).
    """

    kind: str
    table: str | None = None
    error_code: int = 200
    delay_ms: int = 0
    times: int = 1


def parse_query_options(raw: str | None) -> dict[str, str]:
    """Guava ``Splitter.on(';').omitEmptyStrings().trimResults().withKeyValueSeparator('=')``."""
    options: dict[str, str] = {}
    for entry in (raw or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split("=")
        if len(parts) != 2:
            raise QueryError(150, f"Chunk [{entry}] is not a valid entry")
        key, value = parts[0].strip(), parts[1].strip()
        if key in options:
            raise QueryError(150, f"Duplicate key [{key}] found.")
        options[key] = value
    return options


def _float_text(value: float, single: bool) -> Any:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    # Java prints a float with the fewest digits that identify it.
    return float(str(np.float32(value))) if single else value


def _timestamp_text(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    fraction = f"{ms % 1000:03d}".rstrip("0") or "0"  # java.sql.Timestamp.toString
    return moment.strftime("%Y-%m-%d %H:%M:%S") + "." + fraction


def _float_array(values: list[float]) -> list[Any]:
    # Vectorised: each value becomes the double of its float32, the same number Java's
    # shorter text (0.12345679) parses to once read as float32. Shortest text for
    # every element would cost ~25 ms per 200 x 64 history and swamp latency figures.
    array = np.asarray(values, dtype=np.float32)
    if np.isfinite(array).all():
        return list(array.astype(np.float64))
    return [_float_text(float(v), False) for v in array]


def _encode(value: Any, pinot_type: str) -> Any:
    if value is None:
        return None
    if pinot_type == "FLOAT_ARRAY":
        return _float_array(value)
    base = pinot_type.removesuffix("_ARRAY")
    if base != pinot_type:
        return [_encode(v, base) for v in value]
    if base in ("FLOAT", "DOUBLE"):
        return _float_text(float(value), base == "FLOAT")
    if base == "TIMESTAMP":
        return _timestamp_text(int(value))
    if base == "BYTES":
        return bytes(value).hex()
    return value


class Broker:
    def __init__(self, storage: Storage, broker_id: str) -> None:
        self._storage = storage
        self._broker_id = broker_id
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.queries: list[dict[str, Any]] = []  # every request body received, for tests

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, table: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.table is None or fault.table.lower() == table.lower():
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        with self._lock:
            self.queries.append(body)
        try:
            options = parse_query_options(body.get("queryOptions"))
            if options.get("useMultistageEngine", "").lower() == "true":
                raise QueryError(450, "the Pinot stand-in does not implement the multi-stage engine")
            query = plan(str(body["sql"]), self._storage, options)
        except QueryError as exc:
            return self._response(None, [], exc, servers=(0, 0), started=started)
        timeout_ms = int(options.get("timeoutMs") or query.data.table.timeout_ms or BROKER_TIMEOUT_MS)
        return self._execute(query, options, timeout_ms, started)

    def _execute(self, query: Plan, options: dict[str, str], timeout_ms: int, started: float) -> dict[str, Any]:
        if query.always_false:
            return self._response(query, None, None, servers=(0, 0), started=started)
        if time.monotonic() < query.data.routable_at:  # right after POST /tables
            return self._response(query, None, QueryError(410), servers=(0, 0), started=started)
        fault = self._take_fault(query.data.table.name)
        if fault is not None and fault.kind == "exception":
            return self._response(query, None, QueryError(fault.error_code, "injected by the test"), (1, 1), started)
        if fault is not None and fault.kind == "slow":
            time.sleep(min(fault.delay_ms, timeout_ms) / 1000)
            if fault.delay_ms > timeout_ms:
                return self._response(query, None, _not_responded(1), (1, 0), started)
        try:
            rows = self._rows(query, options)
        except QueryError as exc:
            return self._response(query, None, exc, (1, 1), started)
        if fault is not None and fault.kind == "partial":
            return self._response(query, rows, _not_responded(1), (2, 1), started)
        return self._response(query, rows, None, (1, 1), started)

    def _rows(self, query: Plan, options: dict[str, str]) -> list[list[Any]]:
        nulls = query.data.schema.null_handling and options.get("enableNullHandling", "").lower() == "true"
        try:
            fetched = self._storage.fetch(query.duck_sql)
        except duckdb.Error as exc:
            raise QueryError(200, f"{type(exc).__name__}: {exc}") from None
        return [_row(values, query.outputs, nulls) for values in fetched]

    def _response(
        self,
        query: Plan | None,
        rows: list[list[Any]] | None,
        error: QueryError | None,
        servers: tuple[int, int],
        started: float,
    ) -> dict[str, Any]:
        exceptions = [] if error is None else [{"errorCode": error.code, "message": error.message}]
        response: dict[str, Any] = {}
        if query is not None and rows is not None:
            response["resultTable"] = {
                "dataSchema": {"columnNames": [o.name for o in query.outputs],
                               "columnDataTypes": [o.pinot_type for o in query.outputs]},
                "rows": rows,
            }
        response.update(
            numRowsResultSet=len(rows or []), partialResult=bool(exceptions), exceptions=exceptions,
            numGroupsLimitReached=False, timeUsedMs=int((time.perf_counter() - started) * 1000),
            requestId=str(uuid.uuid4().int % 10**12), brokerId=self._broker_id,
        )
        response.update(dict.fromkeys(_STAT_FIELDS, 0))
        response.update(_stats(query, rows, servers))
        response.update(traceInfo={}, tablesQueried=[query.data.table.name] if query else [])
        return response


def _not_responded(count: int) -> QueryError:
    return QueryError(427, f"{count} servers [standin_server_{count}] not responded")


def _row(values: tuple[Any, ...], outputs: tuple[Output, ...], nulls: bool) -> list[Any]:
    return [_encode(null_default(v, o, nulls), o.pinot_type) for v, o in zip(values, outputs)]


def _stats(query: Plan | None, rows: list[list[Any]] | None, servers: tuple[int, int]) -> dict[str, Any]:
    stats: dict[str, Any] = {"numServersQueried": servers[0], "numServersResponded": servers[1]}
    if query is None or servers[0] == 0:
        return stats
    data = query.data
    segments = len(data.segments)
    consuming = len(data.consuming)
    stats.update(
        numDocsScanned=len(rows or []), totalDocs=sum(s.docs for s in data.segments.values()),
        numSegmentsQueried=segments, numSegmentsProcessed=segments, numSegmentsMatched=segments if rows else 0,
        numConsumingSegmentsQueried=consuming, numConsumingSegmentsProcessed=consuming,
        numConsumingSegmentsMatched=consuming if rows else 0, minConsumingFreshnessTimeMs=data.last_ingested_ms,
    )
    return stats


def dumps(response: dict[str, Any]) -> bytes:
    # allow_nan=False: non-finite values must already be strings, as Jackson writes them.
    return json.dumps(response, allow_nan=False, ensure_ascii=False).encode()

