"""Windowed views served by the online store itself: member-level work once per call.

A ranking call asks for one member and N candidates. Through Feast's generic
on-demand path every row would carry its own copy of the member's history
(converted to Python per row) and compute its own windows. Here, for each
requested windowed view:

* the history is read once per distinct actor (:class:`HistoryReader`) and
  parsed once into the families' arrays
  (:func:`~feast_pinot.features.histories.history_actions`);
* each distinct (actor, ``request_ts``) is one group: member-level outputs
  (counts, means, decayed means, the interests' clustering) are computed once
  per group, and only the outputs the request asks for;
* the candidates of all rows are scored at once
  (:func:`feast_pinot.features.compute`, which the ODFV body and the training
  engines call too);
* outputs go straight to response protos, a vector (mean, medoid) built once
  per group, and ``to_dict`` returns them from the plain values
  (:class:`WindowedResponse`).

Everything else in the request (batch views, histories asked for by name,
other on-demand views) takes Feast's own path, so the response is the one
Feast would build. Feast's request helpers are reached through
:mod:`feast_pinot.feast_internals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from feast import FeatureService, FeatureView, OnDemandFeatureView
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.registry.base_registry import BaseRegistry
from feast.online_response import TIMESTAMP_POSTFIX, OnlineResponse
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import FloatList
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast.type_map import feast_value_type_to_python_type
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from feast_pinot import clock
from feast_pinot.errors import OnlineStoreError
from feast_pinot.feast_internals import online as feast_internals
from feast_pinot.features import Computed, Output, Rows, compute, output_names
from feast_pinot.features.histories import HistoryValues, history_actions, history_groups
from feast_pinot.features.inputs import candidate_matrix, request_time
from feast_pinot.features.odfv import python_values
from feast_pinot.online.backend import History
from feast_pinot.online.histories import HistoryReader
from feast_pinot.specs import HistorySpec, WindowedFeaturesSpec, spec_of

__all__ = ["Readers", "WindowedResponse", "get_online_features", "requests_windowed"]

_Features = list[str] | FeatureService
_Rows = list[dict[str, Any]] | Mapping[str, Any]


@dataclass(frozen=True)
class Readers:
    """What the ranking read reads through the store: histories, and one feature's latest values."""

    histories: HistoryReader
    # (view, entity keys, feature) -> the feature's latest plain value per key, None where missing
    latest: Callable[[FeatureView, list[EntityKeyProto], str], list[Any]]


def requests_windowed(registry: BaseRegistry, project: str, features: _Features, full_feature_names: bool) -> bool:
    """Whether the request names a windowed view."""
    odfvs = feast_internals.requested_on_demand_views(registry, project, features, full_feature_names)
    return any(spec_of(odfv, WindowedFeaturesSpec) is not None for odfv in odfvs)


@dataclass
class _Call:
    """One call: Feast's resolution, the readers, and what its windowed views read (shared between them)."""

    request: feast_internals.PreparedRequest
    readers: Readers
    full_names: bool
    histories: dict[str, tuple[list[History], np.ndarray]] = field(default_factory=dict)
    candidates: dict[str, np.ndarray] = field(default_factory=dict)

    def table(self, name: str) -> FeatureView:
        for table, _ in self.request.grouped_refs:
            if table.projection.name_to_use() == name:
                return table
        raise OnlineStoreError(f"'{name}' is not among the views read for this request")

    def keys(self, table: FeatureView) -> list[ValueProto]:
        """Each row's value of the table's (single) join key."""
        if len(table.entity_columns) != 1:
            raise OnlineStoreError(f"'{table.name}' must have one entity column, got {len(table.entity_columns)}")
        key = table.entity_columns[0].name
        return list(self.request.join_keys[table.projection.join_key_map.get(key, key)])

    def column(self, name: str) -> list[ValueProto]:
        names = list(self.request.response.metadata.feature_names.val)
        return list(self.request.response.results[names.index(name)].values)

    @property
    def rows(self) -> int:
        results = self.request.response.results
        return len(results[0].values) if results else 0


def get_online_features(
    store: OnlineStore,
    readers: Readers,
    config: RepoConfig,
    features: _Features,
    entity_rows: _Rows,
    registry: BaseRegistry,
    project: str,
    full_feature_names: bool,
    include_feature_view_version_metadata: bool,
) -> OnlineResponse:
    """Feast's ``get_online_features``, with windowed views computed per member."""
    request = feast_internals.prepare_request(registry, project, features, _columnar(entity_rows), full_feature_names)
    feast_internals.check_versioned_read_support(store, request.grouped_refs)
    specs = {o.name: s for o in request.on_demand_views if (s := spec_of(o, WindowedFeaturesSpec)) is not None}
    windowed = [o for o in request.on_demand_views if o.name in specs]
    others = [o for o in request.on_demand_views if o.name not in specs]
    feast_internals.read_features_per_view(
        store, config, request, _read_by_feast(request, windowed, others), full_feature_names,
        include_feature_view_version_metadata)
    feature_types = feast_internals.build_feature_types(request.grouped_refs)
    if others:
        feast_internals.add_on_demand_transforms(request, others, full_feature_names, feature_types)
    call = _Call(request, readers, full_feature_names)
    plain: dict[str, list[Any]] = {}
    for odfv in windowed:
        plain.update(_add_windowed(call, odfv, specs[odfv.name]))
    feast_internals.drop_unneeded_columns(request)
    return WindowedResponse(request.response, feature_types, plain)


class WindowedResponse(OnlineResponse):
    """Feast's response, whose windowed columns convert to Python from the values they were built from.

    ``to_dict`` of N ranked rows would otherwise turn every one of their
    N x features protos back into the numbers just computed.
    """

    def __init__(self, proto: GetOnlineFeaturesResponse, feature_types: dict[str, ValueType],
                 plain: dict[str, list[Any]]) -> None:
        super().__init__(proto, feature_types=feature_types)
        self._plain, self._types = plain, feature_types

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, vector in zip(self.proto.metadata.feature_names.val, self.proto.results):
            if name in self._plain:
                out[name] = [list(v) if isinstance(v, list) else v for v in self._plain[name]]
            else:
                kind = self._types.get(name)
                out[name] = [feast_value_type_to_python_type(v, kind) for v in vector.values]
            if include_event_timestamps:
                out[name + TIMESTAMP_POSTFIX] = [ts.seconds for ts in vector.event_timestamps]
        return out


def _columnar(entity_rows: _Rows) -> Mapping[str, Any]:
    if not isinstance(entity_rows, list):
        return entity_rows
    if not entity_rows:
        raise ValueError("entity_rows is empty")
    columns: dict[str, list[Any]] = {k: [] for k in entity_rows[0]}
    for row in entity_rows:
        if row.keys() != columns.keys():
            raise ValueError("All entity_rows must have the same keys.")
        for key, value in row.items():
            columns[key].append(value)
    return columns


def _read_by_feast(request: feast_internals.PreparedRequest, windowed: list[OnDemandFeatureView],
                   others: list[OnDemandFeatureView]) -> list[tuple[FeatureView, list[str]]]:
    """The views Feast still reads: all but those only windowed views need."""
    asked = {ref.split(":", 1)[0] for ref in request.feature_refs}
    needed_by_others = {p.name for o in others for p in o.source_feature_view_projections.values()}
    only_windowed = {
        p.name for o in windowed for p in o.source_feature_view_projections.values()
    } - asked - needed_by_others
    return [(t, f) for t, f in request.grouped_refs if t.projection.name_to_use() not in only_windowed]


def _add_windowed(call: _Call, odfv: OnDemandFeatureView, spec: WindowedFeaturesSpec) -> dict[str, list[Any]]:
    """Appends the view's requested outputs to the response; returns them as plain columns."""
    view = odfv.projection.name_to_use()
    asked = {ref.split(":", 1)[1] for ref in call.request.feature_refs if ref.split(":", 1)[0] == view}
    outputs = {name: output for name, output in output_names(spec).items() if name in asked}
    histories, actor_of_row = _histories(call, spec)
    values = [HistoryValues(h.ts_ms, h.verbs, h.embeddings, h.objects) for h in histories]
    actions, key_codes = history_actions(spec, values)
    field_name = spec.request_field
    nows = np.array([request_time(_plain(v), field_name, row) for row, v in enumerate(call.column(field_name))],
                    np.int64)
    group_of_row, group_actor, group_now = _groups(actor_of_row, nows)
    kinds = {output.kind for output in outputs.values()}
    candidates = None
    if spec.candidate and any(kind.scores_embedding for kind in kinds):
        candidates = _candidates(call, spec)
    keys = None
    if spec.seen is not None and key_codes is not None and any(kind.scores_key for kind in kinds):
        keys = key_codes.candidates(spec.seen, [_plain(v) for v in call.column(spec.seen.candidate_key)])
    computed = compute(spec, actions, history_groups(actions, group_actor, group_now),
                       Rows(group_of_row, candidates, keys), outputs)
    plain = {}
    for name, output in outputs.items():
        column = f"{view}__{name}" if call.full_names else name
        protos, plain[column] = _output_column(computed, name, output)
        _append(call.request.response, column, protos)
    return plain


def _histories(call: _Call, spec: WindowedFeaturesSpec) -> tuple[list[History], np.ndarray]:
    """The distinct actors' histories, read once per call for every view of the history, and each row's actor."""
    if spec.history not in call.histories:
        table = call.table(spec.history)
        hspec = spec_of(table, HistorySpec)
        if hspec is None:
            raise OnlineStoreError(f"'{spec.view}' reads '{spec.history}', which is not an action history")
        actors, actor_of_row = _distinct([_plain(v) for v in call.keys(table)])
        call.histories[spec.history] = (call.readers.histories.read(hspec, actors, clock.now_ms()), actor_of_row)
    return call.histories[spec.history]


def _candidates(call: _Call, spec: WindowedFeaturesSpec) -> np.ndarray:
    """Each row's candidate embedding, (rows, dim); zero rows where missing, null or malformed."""
    assert spec.candidate is not None
    if spec.candidate not in call.candidates:
        view, feature = spec.candidate.split("__", 1)
        table = call.table(view)
        protos = call.keys(table)
        # a null key names no candidate: Feast's own lookup cannot sort it
        present = [v for v in protos if v.WhichOneof("val") is not None]
        distinct, key_of_present = _distinct([_plain(v) for v in present])
        by_value = {_plain(v): v for v in present}
        join_key = table.entity_columns[0].name
        entity_keys = [EntityKeyProto(join_keys=[join_key], entity_values=[by_value[k]]) for k in distinct]
        vectors = call.readers.latest(table, entity_keys, feature) if entity_keys else []
        matrix = candidate_matrix(vectors, spec.embedding_dim)
        # as Feast's path would see them: through the feature's proto type
        if {f.name: f.dtype.to_value_type() for f in table.features}.get(feature) == ValueType.FLOAT_LIST:
            matrix = matrix.astype(np.float32).astype(np.float64)
        out = np.zeros((len(protos), spec.embedding_dim))
        rows = [i for i, v in enumerate(protos) if v.WhichOneof("val") is not None]
        out[rows] = matrix[key_of_present]
        call.candidates[spec.candidate] = out
    return call.candidates[spec.candidate]


def _plain(value: ValueProto) -> Any:
    kind = value.WhichOneof("val")
    return None if kind is None else getattr(value, kind)


def _distinct(values: list[Any]) -> tuple[list[Any], np.ndarray]:
    """The distinct values in first-seen order, and each value's position among them."""
    position: dict[Any, int] = {}
    of_value = np.fromiter((position.setdefault(v, len(position)) for v in values), np.int64, count=len(values))
    return list(position), of_value


def _groups(actor_of_row: np.ndarray, nows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows by (actor, request time), in first-seen order: each row's group, each group's actor and time."""
    pairs, group_of_row = _distinct(list(zip(actor_of_row.tolist(), nows.tolist())))
    actors = np.array([a for a, _ in pairs], np.int64)
    return group_of_row, actors, np.array([t for _, t in pairs], np.int64)


def _output_column(computed: Computed, name: str, output: Output) -> tuple[list[ValueProto], list[Any]]:
    """One output's protos and plain values per row; a member-level vector built once per group."""
    values = computed.values[name]
    if output.value == "vector":
        lists = python_values(output, values)
        protos = [ValueProto(float_list_val=FloatList(val=v)) for v in lists]
        rows = computed.group.tolist()
        return [protos[g] for g in rows], [lists[g] for g in rows]
    plain = python_values(output, computed.column(name, output))
    field_name = "int64_val" if output.value == "int" else "double_val"
    return [ValueProto(**{field_name: v}) for v in plain], plain


def _append(response: GetOnlineFeaturesResponse, name: str, values: list[ValueProto]) -> None:
    response.metadata.feature_names.val.append(name)
    response.results.append(
        GetOnlineFeaturesResponse.FeatureVector(
            values=values,
            statuses=[FieldStatus.PRESENT] * len(values),
            event_timestamps=[Timestamp()] * len(values),
        )
    )
