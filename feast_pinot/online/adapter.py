"""The Feast ``OnlineStore`` adapter over an :class:`OnlineBackend`.

It turns Feast's protos into the backend's plain values and back, and tells
three kinds of feature view apart by their spec tag:

* ordinary views: latest value per entity key (upsert by event time);
* action logs: every action appended, deduplicated by ``action_id``;
* histories: read-only, the recent actions of each actor read from their log
  (newest first, at most ``max_actions`` within retention), with an optional
  read-time join of an object attribute.

A request naming a windowed view is served by
:mod:`feast_pinot.online.windowed_read` (member-level work once per call);
any other request takes Feast's generic path. Histories are read by
:class:`~feast_pinot.online.histories.HistoryReader` on both paths.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from feast import Entity, FeatureService, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.registry.base_registry import BaseRegistry
from feast.online_response import OnlineResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import (
    DoubleList,
    FloatList,
    Int32List,
    Int64List,
    StringList,
)
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType

from feast_pinot import clock
from feast_pinot.actions import datetime_to_ms, ms_to_datetime, validate_push_rows
from feast_pinot.errors import ActionValidationError, OnlineStoreError
from feast_pinot.features.inputs import request_time
from feast_pinot.offline.required import check_offline_store
from feast_pinot.online import windowed_read
from feast_pinot.online.backend import History, LatestRow, OnlineBackend, TableSpec, table_name
from feast_pinot.online.histories import HistoryReader
from feast_pinot.push_checks import warn_if_online_only
from feast_pinot.specs import ActionLogSpec, HistorySpec, WindowedFeaturesSpec, spec_of

__all__ = ["BackendOnlineStore", "embedding_bytes", "table_name"]

log = logging.getLogger(__name__)

_Row = tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]
_ReadResult = list[tuple[datetime | None, dict[str, ValueProto] | None]]
_Backend = TypeVar("_Backend", bound=OnlineBackend)


class BackendOnlineStore(OnlineStore, Generic[_Backend]):
    """Feast online store whose storage is an :class:`OnlineBackend`.

    Subclasses name their config class and say how to build a backend from it;
    this class builds one backend per distinct config, reuses it, and closes
    them all in :meth:`close`.
    """

    config_type: ClassVar[type[FeastConfigBaseModel]]

    def __init__(self) -> None:
        self._backends: dict[tuple[str, str], _Backend] = {}
        self._last: tuple[FeastConfigBaseModel, _Backend] | None = None
        self._lock = threading.Lock()

    @abstractmethod
    def build_backend(self, config: RepoConfig) -> _Backend:
        """A new backend (its connections) for ``config.online_store``, a :attr:`config_type`."""

    def backend(self, config: RepoConfig) -> _Backend:
        """The backend of ``config``, built on first use."""
        store_config = config.online_store
        if not isinstance(store_config, self.config_type):
            raise OnlineStoreError(
                f"{type(self).__name__} needs an online_store config of type {self.config_type.__name__}, "
                f"got {type(store_config).__name__}"
            )
        last = self._last
        if last is not None and last[0] is store_config:  # every read: no serialisation on the hot path
            return last[1]
        # One backend (and connection pool) per distinct config; a relative path depends on the repo.
        key = (store_config.model_dump_json(), str(config.repo_path))
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                backend = self._backends[key] = self.build_backend(config)
            self._last = (store_config, backend)
        return backend

    async def close(self) -> None:
        """Close every backend built so far; the next use builds a new one."""
        with self._lock:
            backends, self._backends, self._last = list(self._backends.values()), {}, None
        for backend in backends:
            backend.close()

    # -- schema -------------------------------------------------------------

    def update(
        self,
        config: RepoConfig,
        tables_to_delete: Sequence[FeatureView],
        tables_to_keep: Sequence[FeatureView],
        entities_to_delete: Sequence[Entity],
        entities_to_keep: Sequence[Entity],
        partial: bool,
    ) -> None:
        check_offline_store(config, tables_to_keep)  # feast apply names a store that cannot read the logs
        backend = self.backend(config)
        backend.drop_tables(_table_specs(config, tables_to_delete))
        backend.create_tables(_table_specs(config, tables_to_keep))

    def teardown(
        self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]
    ) -> None:
        self.backend(config).drop_tables(_table_specs(config, tables))

    # -- writes -------------------------------------------------------------

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[_Row],
        progress: Callable[[int], Any] | None,
    ) -> None:
        spec = spec_of(table)
        name = table_name(config.project, table.name)
        if isinstance(spec, HistorySpec):
            raise OnlineStoreError(
                f"'{table.name}' is a history read from action log '{spec.log.name}'; "
                f"write actions to '{spec.log.name}' instead"
            )
        if isinstance(spec, ActionLogSpec):
            warn_if_online_only(spec)
            _append_actions(self.backend(config), name, spec, data)
        else:
            rows = [_latest_row(config, key, values, ts) for key, values, ts, _ in data]
            self.backend(config).write_latest(name, rows)
        if progress:
            progress(len(data))

    # -- reads --------------------------------------------------------------

    def get_online_features(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: list[dict[str, Any]] | Mapping[str, Any],
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        # Feast converts request data to protos before any ODFV runs, and a
        # value beyond int64 fails there as a 500: checked first, a 422.
        _check_request_times(entity_rows)
        if not windowed_read.requests_windowed(registry, project, features, full_feature_names):
            return super().get_online_features(
                config, features, entity_rows, registry, project, full_feature_names,
                include_feature_view_version_metadata,
            )
        readers = windowed_read.Readers(self.history_reader(config), functools.partial(self.read_plain, config))
        return windowed_read.get_online_features(
            self, readers, config, features, entity_rows, registry, project, full_feature_names,
            include_feature_view_version_metadata,
        )

    async def get_online_features_async(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: list[dict[str, Any]] | Mapping[str, Any],
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        # feast serve takes this path when the store reads asynchronously (Pinot);
        # a windowed request is served by the synchronous path, in a thread.
        _check_request_times(entity_rows)
        args = (config, features, entity_rows, registry, project, full_feature_names,
                include_feature_view_version_metadata)
        if windowed_read.requests_windowed(registry, project, features, full_feature_names):
            return await asyncio.to_thread(self.get_online_features, *args)
        return await super().get_online_features_async(*args)

    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> _ReadResult:
        spec = spec_of(table)
        if isinstance(spec, HistorySpec):
            return self._read_histories(config, spec, entity_keys, requested_features)
        if isinstance(spec, ActionLogSpec):
            raise OnlineStoreError(
                f"'{table.name}' is an action log: read it through an action_history view"
            )
        return self._read_latest(config, table, entity_keys, requested_features)

    def _read_latest(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested: list[str] | None,
    ) -> _ReadResult:
        keys = [_key(config, ek) for ek in entity_keys]
        rows = self.backend(config).read_latest(table_name(config.project, table.name), keys)
        types = {f.name: f.dtype.to_value_type() for f in table.features}
        wanted = [n for n in (requested or types) if n in types]
        return [_latest_result(row, wanted, types) for row in rows]

    def read_plain(
        self, config: RepoConfig, table: FeatureView, keys: list[EntityKeyProto], feature: str
    ) -> list[Any]:
        """One feature's latest value per key, as a plain value (None where missing)."""
        rows = self.backend(config).read_latest(
            table_name(config.project, table.name), [_key(config, ek) for ek in keys])
        return [None if row is None else row.values.get(feature) for row in rows]

    def _read_histories(
        self,
        config: RepoConfig,
        spec: HistorySpec,
        entity_keys: list[EntityKeyProto],
        requested: list[str] | None,
    ) -> _ReadResult:
        histories = self.history_reader(config).read(spec, [_actor(ek) for ek in entity_keys], clock.now_ms())
        now = ms_to_datetime(clock.now_ms())
        return [(now, _history_values(h, requested)) for h in histories]

    def history_reader(self, config: RepoConfig) -> HistoryReader:
        """The reader of ``config``'s histories (the generic path and the ranking read share it)."""

        def attribute_key(join_key: str, value: int | str) -> str:
            proto = ValueProto(int64_val=value) if isinstance(value, int) else ValueProto(string_val=value)
            return _key(config, EntityKeyProto(join_keys=[join_key], entity_values=[proto]))

        return HistoryReader(self.backend(config), config.project, attribute_key)


def _check_request_times(entity_rows: Any) -> None:
    field = WindowedFeaturesSpec.model_fields["request_field"].default
    if isinstance(entity_rows, list):
        values = [(i, row[field]) for i, row in enumerate(entity_rows) if field in row]
    else:
        values = list(enumerate(entity_rows.get(field, ())))
    for row, value in values:
        if not isinstance(value, ValueProto):
            request_time(value, field, row)


# -- helpers: specs -> tables ----------------------------------------------------


def _table_specs(config: RepoConfig, views: Sequence[FeatureView]) -> list[TableSpec]:
    specs = []
    for view in views:
        spec = spec_of(view)
        name = table_name(config.project, view.name)
        if isinstance(spec, HistorySpec):
            continue  # histories are read from their log's table
        if isinstance(spec, ActionLogSpec):
            specs.append(
                TableSpec(name, "actions", actor_is_int=spec.actor_is_int,
                          embedding_dim=spec.embedding_dim, retention_ms=spec.retention_ms)
            )
        else:
            columns = tuple((f.name, str(f.dtype)) for f in view.features)
            specs.append(TableSpec(name, "latest", columns=columns))
    return specs


# -- helpers: protos <-> plain values ------------------------------------------


def _key(config: RepoConfig, entity_key: EntityKeyProto) -> str:
    version = config.entity_key_serialization_version
    return serialize_entity_key(entity_key, entity_key_serialization_version=version).hex()


def _actor(entity_key: EntityKeyProto) -> int | str:
    if len(entity_key.entity_values) != 1:
        raise OnlineStoreError(
            f"action logs have one actor join key, got {list(entity_key.join_keys)}"
        )
    value = entity_key.entity_values[0]
    kind = value.WhichOneof("val")
    if kind in ("int64_val", "int32_val"):
        return int(getattr(value, kind))
    if kind == "string_val":
        return value.string_val
    raise OnlineStoreError(f"unsupported actor key type {kind} for {entity_key.join_keys[0]}")


def _latest_row(
    config: RepoConfig, key: EntityKeyProto, values: dict[str, ValueProto], ts: datetime
) -> LatestRow:
    plain = {name: feast_value_type_to_python_type(v) for name, v in values.items()}
    return LatestRow(_key(config, key), datetime_to_ms(ts), plain)


def _latest_result(
    row: LatestRow | None, wanted: list[str], types: dict[str, Any]
) -> tuple[datetime | None, dict[str, ValueProto] | None]:
    if row is None:
        return None, None
    values: dict[str, ValueProto] = {}
    for name in wanted:
        value = row.values.get(name)
        values[name] = ValueProto() if value is None else _to_proto(value, types[name])
    return ms_to_datetime(row.event_ms), values


# The common types, built directly: Feast's generic converter costs ~30 us a value.
_SCALARS = {
    ValueType.STRING: "string_val", ValueType.INT64: "int64_val", ValueType.INT32: "int32_val",
    ValueType.FLOAT: "float_val", ValueType.DOUBLE: "double_val", ValueType.BOOL: "bool_val",
    ValueType.BYTES: "bytes_val",  # Feast's converter drops an empty bytes value
}
_LISTS = {
    ValueType.FLOAT_LIST: ("float_list_val", FloatList), ValueType.DOUBLE_LIST: ("double_list_val", DoubleList),
    ValueType.INT64_LIST: ("int64_list_val", Int64List), ValueType.INT32_LIST: ("int32_list_val", Int32List),
    ValueType.STRING_LIST: ("string_list_val", StringList),
}


def _to_proto(value: Any, value_type: ValueType) -> ValueProto:
    if value_type in _SCALARS:
        return ValueProto(**{_SCALARS[value_type]: value})
    if value_type in _LISTS:
        field, container = _LISTS[value_type]
        return ValueProto(**{field: container(val=value)})
    return python_values_to_proto_values([value], value_type)[0]


def _history_values(history: History, requested: list[str] | None) -> dict[str, ValueProto]:
    build = {
        "action_ts": lambda: ValueProto(int64_list_val=Int64List(val=history.ts_ms)),
        "action_verbs": lambda: ValueProto(string_list_val=StringList(val=history.verbs)),
        "action_objects": lambda: ValueProto(string_list_val=StringList(val=history.objects)),
        "action_embeddings": lambda: ValueProto(bytes_val=embedding_bytes(history.embeddings)),
    }
    names = requested or list(build)
    return {name: build[name]() for name in names if name in build}


def embedding_bytes(embeddings: np.ndarray | None) -> bytes:
    """The wire form of a history's embeddings: float32 little-endian, row-major."""
    return b"" if embeddings is None else np.ascontiguousarray(embeddings, dtype="<f4").tobytes()


# -- helpers: action log writes -------------------------------------------------


def _append_actions(
    backend: OnlineBackend, table: str, spec: ActionLogSpec, data: list[_Row]
) -> None:
    now = clock.now_ms()
    rows = [_push_row(spec, key, values, ts) for key, values, ts, _ in data]
    actions, problems = validate_push_rows(rows, spec, now)
    if problems:
        raise ActionValidationError(problems)  # nothing of the batch is written
    backend.append_actions(table, actions, spec.window(now))


def _push_row(
    spec: ActionLogSpec, key: EntityKeyProto, values: dict[str, ValueProto], ts: datetime
) -> dict[str, Any]:
    row: dict[str, Any] = {name: feast_value_type_to_python_type(v) for name, v in values.items()}
    row[spec.actor_join_key] = _actor(key)
    row["event_timestamp"] = datetime_to_ms(ts)
    return row
