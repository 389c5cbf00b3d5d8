"""The controller REST API for schemas and tables (reference §3).

Status codes and bodies as Pinot's controller sends them: errors are
``{"code": status, "error": message}``, config uploads answer
``{"unrecognizedProperties": {...}, "status": ...}``, a missing table is
``200 {}``, a duplicate table ``409``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.pinot_standin.ingest import Ingester, topic_partitions
from tests.pinot_standin.model import (
    ControllerError,
    Schema,
    backward_compatible,
    parse_schema,
    parse_table,
    schema_unrecognized,
    table_unrecognized,
)
from tests.pinot_standin.storage import Storage

__all__ = ["Controller", "ControllerTiming"]


@dataclass(frozen=True)
class ControllerTiming:
    """How long Pinot's asynchronous steps take in this stand-in."""

    visibility_delay_s: float = 0.0  # consumed -> queryable
    routing_delay_s: float = 0.0  # table created -> broker routes queries (410 before)
    external_view_linger_s: float = 0.0  # table deleted -> same name can be created (409 before)


def _ok(status: str, unrecognized: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {} if unrecognized is None else {"unrecognizedProperties": dict(unrecognized)}
    body["status"] = status
    return body


class Controller:
    def __init__(self, storage: Storage, timing: ControllerTiming, clock_ms: Callable[[], int]) -> None:
        self._storage = storage
        self._timing = timing
        self._clock_ms = clock_ms
        self._schemas: dict[str, Schema] = {}
        self._ingesters: dict[str, Ingester] = {}
        self._deleted_at: dict[str, float] = {}
        self._lock = threading.RLock()

    # -- schemas ----------------------------------------------------------------

    def add_schema(self, body: Any, override: bool, force: bool) -> dict[str, Any]:
        schema = parse_schema(body)
        with self._lock:
            existing = self._schemas.get(schema.name)
            if existing is not None and not override:
                raise ControllerError(409, f"Schema: {schema.name} already exists")
            if existing is not None and not force and not backward_compatible(existing, schema):
                raise ControllerError(
                    400, f"New schema: {schema.name} is not backward-compatible with the existing schema")
            self._schemas[schema.name] = schema
            data = self._storage.get(schema.name)
            if data is not None:
                self._storage.update_config(data.table, schema)
        return _ok(f"{schema.name} successfully added", schema_unrecognized(body))

    def list_schemas(self) -> list[str]:
        return sorted(self._schemas)

    def get_schema(self, name: str) -> Mapping[str, Any]:
        schema = self._schemas.get(name)
        if schema is None:
            raise ControllerError(404, "Schema not found")
        return schema.raw

    def delete_schema(self, name: str) -> dict[str, Any]:
        with self._lock:
            if name not in self._schemas:
                raise ControllerError(404, f"Schema {name} not found")
            if self._storage.get(name) is not None:
                raise ControllerError(409, f"Cannot delete schema {name}, as it is associated with table {name}_REALTIME")
            del self._schemas[name]
        return _ok(f"Schema {name} deleted")

    # -- tables -----------------------------------------------------------------

    def add_table(self, body: Any) -> dict[str, Any]:
        with self._lock:
            table, schema = parse_table(body, self._schemas)
            if self._storage.get(table.name) is not None:
                raise ControllerError(409, f"Table config for {table.name_with_type} already exists. If this is "
                                           "unexpected, try deleting the table to remove all metadata associated with it.")
            if time.monotonic() < self._deleted_at.get(table.name, 0.0) + self._timing.external_view_linger_s:
                raise ControllerError(409, f"External view for {table.name_with_type} still exists. If the table is "
                                           "just deleted, please wait for the clean up to finish before recreating it.")
            partitions = topic_partitions(table.stream.bootstrap, table.stream.topic)
            if partitions is None:
                raise ControllerError(400, f"Failed to fetch the partition count of topic {table.stream.topic} "
                                           f"from {table.stream.bootstrap}: the topic does not exist")
            data = self._storage.create(table, schema)
            data.routable_at = time.monotonic() + self._timing.routing_delay_s
            for partition in range(partitions):  # a consuming segment per partition from the start
                data.segment_for(partition)
            ingester = Ingester(self._storage, data, partitions, self._timing.visibility_delay_s)
            self._ingesters[table.name] = ingester
            ingester.start()
        return _ok(f"Table {table.name_with_type} successfully added", table_unrecognized(body))

    def list_tables(self) -> dict[str, list[str]]:
        return {"tables": sorted(d.table.name for d in self._storage.all_tables())}

    def get_table(self, name: str, table_type: str | None) -> dict[str, Any]:
        data = self._storage.get(name)
        if data is None or data.table.name != name.removesuffix("_REALTIME") or table_type not in (None, "realtime"):
            return {}  # Pinot answers 200 {} for a missing table
        # Pinot keeps the name with its type suffix in the stored config.
        return {"REALTIME": {**data.table.raw, "tableName": data.table.name_with_type}}

    def table_schema(self, name: str) -> Mapping[str, Any]:
        data = self._storage.get(name)
        if data is None:
            raise ControllerError(404, f"Table {name} does not exist")
        return data.schema.raw

    def update_table(self, name: str, body: Any) -> dict[str, Any]:
        with self._lock:
            data = self._storage.get(name)
            if data is None or data.table.name != name:
                raise ControllerError(404, f"Table {name}_REALTIME does not exist")
            table, schema = parse_table(body, self._schemas)
            if table.name != name:
                raise ControllerError(400, f"Invalid table config: {name} with error: Request table "
                                           f"{table.name} does not match table name {name}")
            if table.stream != data.table.stream:
                raise ControllerError(400, "The Pinot stand-in does not implement changing the stream of a table")
            self._storage.update_config(table, schema)
        return _ok(f"Table config updated for {name}", table_unrecognized(body))

    def delete_table(self, name: str, table_type: str | None) -> dict[str, Any]:
        if table_type is not None and table_type.upper() not in ("REALTIME", "OFFLINE"):
            raise ControllerError(400, f"Illegal table type '{table_type}'")
        with self._lock:
            data = self._storage.get(name)
            if data is None or data.table.name != name or (table_type or "realtime").upper() != "REALTIME":
                kind = (table_type or "REALTIME").upper()
                raise ControllerError(404, f"Table '{name}' with type {kind} does not exist")
            ingester = self._ingesters.pop(name)
            ingester.stop()
            self._storage.drop(name)
            self._deleted_at[name] = time.monotonic()
        return _ok(f"Tables: [{name}_REALTIME] deleted")

    def run_periodic_task(self, task: str, table: str | None) -> dict[str, Any]:
        if task != "RetentionManager":
            raise ControllerError(400, f"The Pinot stand-in implements the RetentionManager task only, got {task!r}")
        targets = [d for d in self._storage.all_tables() if table is None or d.table.name == table.removesuffix("_REALTIME")]
        for data in targets:
            self._storage.run_retention(data, self._clock_ms())
        return {"Log Request Id": f"api-{uuid.uuid4()}", "Controllers notified": True}

    def stats(self, name: str) -> dict[str, Any]:
        data = self._storage.get(name)
        if data is None:
            raise ControllerError(404, f"Table {name} does not exist")
        return {
            "dropped": list(data.dropped),
            "docs": sum(s.docs for s in data.segments.values()),
            "segments": [{"name": s.name, "partition": s.partition, "consuming": s.consuming, "docs": s.docs,
                          "startMs": s.start_ms, "endMs": s.end_ms} for s in data.segments.values()],
        }

    def stop(self) -> None:
        with self._lock:
            for ingester in self._ingesters.values():
                ingester.stop()
            self._ingesters.clear()
