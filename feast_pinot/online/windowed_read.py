"""Windowed views served by the online store itself: member-level work once per call.

A ranking call asks for one member and N candidates. Through Feast's generic
on-demand path every row would carry its own copy of the member's history
(converted to Python per row) and its own masks, counts and means. Here, for
each requested windowed view:

* the history is read once per distinct actor and parsed once
  (:class:`~feast_pinot.windows.ActorHistory`);
* member-level features (counts, means, decayed means, the interests'
  clustering) are computed once per (actor, ``request_ts``)
  (:func:`~feast_pinot.windows.member_features`), and only the families
  the request asks for;
* the candidates of all rows sharing them are scored at once, similarities
  in one product and seen features in one comparison
  (:meth:`~feast_pinot.windows.MemberFeatures.candidate_arrays`);
* outputs go straight to response protos, a vector (mean, medoid) built once
  per (actor, ``request_ts``), and ``to_dict`` returns them from the plain
  values (:class:`WindowedResponse`).

Everything else in the request (batch views, histories asked for by name,
other on-demand views) takes Feast's own path, so the response is the one
Feast would build, with the same values (the same functions compute them).
This leans on Feast 0.67's request helpers in ``feast.utils``, as Feast's own
``OnlineStore.get_online_features`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from feast import FeatureService, FeatureView, OnDemandFeatureView, utils
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

from feast_pinot.errors import OnlineStoreError
from feast_pinot.online.backend import History
from feast_pinot.specs import HistorySpec, WindowedFeaturesSpec, spec_of
from feast_pinot.windows import (
    KINDS,
    ActorHistory,
    Output,
    candidate_keys,
    candidate_matrix,
    member_features,
    output_names,
    python_value,
    request_time,
)

if TYPE_CHECKING:
    from feast_pinot.online.adapter import BackendOnlineStore

__all__ = ["WindowedResponse", "get_online_features", "requests_windowed"]

_Features = list[str] | FeatureService
# kinds that need the candidate's embedding, and its key
_SCORED = frozenset(k for k, kind in KINDS.items() if kind.per_candidate and not k.startswith("seen_"))
_SEEN = frozenset({"seen_count", "seen_age_ms"})
_Rows = list[dict[str, Any]] | Mapping[str, Any]


def requests_windowed(
    registry: BaseRegistry, project: str, features: _Features, full_feature_names: bool
) -> bool:
    """Whether the request names a windowed view (resolution is cached by Feast)."""
    context = utils._get_cached_request_context(registry, project, features, full_feature_names)
    return any(spec_of(odfv, WindowedFeaturesSpec) is not None for odfv in context[1])


@dataclass(frozen=True)
class _Request:
    """Feast's resolution of one call, as its helpers return it."""

    join_keys: dict[str, list[ValueProto]]
    grouped_refs: list[tuple[FeatureView, list[str]]]
    entity_map: dict[str, str]
    feature_refs: list[str]
    response: GetOnlineFeaturesResponse
    full_names: bool
    # what the call's windowed views read, by history / (candidate, dim): views of one
    # history (member_job_windows and member_job_interests) share one backend read
    histories: dict[str, tuple[list[History], np.ndarray]] = field(default_factory=dict)
    candidates: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    def table(self, name: str) -> FeatureView:
        for table, _ in self.grouped_refs:
            if table.projection.name_to_use() == name:
                return table
        raise OnlineStoreError(f"'{name}' is not among the views read for this request")

    def unique(self, table: FeatureView) -> tuple[list[EntityKeyProto], np.ndarray]:
        """The distinct entity keys of ``table`` and, per row, the index of its key."""
        values, idxs, n = utils._get_unique_entities(table, self.join_keys, self.entity_map)
        of_row = np.zeros(n, dtype=np.int64)
        for number, rows in enumerate(idxs):
            of_row[rows] = number
        return utils._get_entity_key_protos(values), of_row

    def column(self, name: str) -> Sequence[ValueProto]:
        names = list(self.response.metadata.feature_names.val)
        return self.response.results[names.index(name)].values

    @property
    def rows(self) -> int:
        return len(self.response.results[0].values) if self.response.results else 0


def get_online_features(
    store: BackendOnlineStore[Any],
    config: RepoConfig,
    features: _Features,
    entity_rows: _Rows,
    registry: BaseRegistry,
    project: str,
    full_feature_names: bool,
    include_feature_view_version_metadata: bool,
) -> OnlineResponse:
    """Feast's ``get_online_features``, with windowed views computed per member."""
    columns = _columnar(entity_rows)
    (join_keys, grouped_refs, entity_map, odfvs, feature_refs, keep, response) = (
        utils._prepare_entities_to_read_from_online_store(
            registry=registry, project=project, features=features, entity_values=columns,
            full_feature_names=full_feature_names, native_entity_values=True,
        )
    )
    store._check_versioned_read_support(grouped_refs)  # type: ignore[no-untyped-call]  # Feast's own, unannotated
    request = _Request(join_keys, grouped_refs, entity_map, feature_refs, response, full_feature_names)
    specs = {o.name: spec for o in odfvs if (spec := spec_of(o, WindowedFeaturesSpec)) is not None}
    windowed = [o for o in odfvs if o.name in specs]
    others = [o for o in odfvs if o not in windowed]
    store._read_features_per_fv(
        config, _read_by_feast(grouped_refs, feature_refs, windowed, others), join_keys, entity_map,
        response, full_feature_names, include_feature_view_version_metadata,
    )
    feature_types = store._build_feature_types(grouped_refs)
    if others:
        utils._augment_response_with_on_demand_transforms(
            response, feature_refs, others, full_feature_names, feature_types=feature_types,
        )
    plain: dict[str, list[Any]] = {}
    for odfv in windowed:
        plain.update(_add_windowed(store, config, request, odfv, specs[odfv.name]))
    utils._drop_unneeded_columns(response, keep)
    return WindowedResponse(response, feature_types, plain)


class WindowedResponse(OnlineResponse):
    """Feast's response, whose windowed columns convert to Python from the values they were built from.

    ``to_dict`` of N ranked rows would otherwise turn every one of their
    N x features protos back into the numbers just computed.
    """

    def __init__(self, proto: GetOnlineFeaturesResponse, feature_types: dict[str, ValueType],
                 plain: dict[str, list[Any]]) -> None:
        super().__init__(proto, feature_types=feature_types)
        self._plain = plain

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, vector in zip(self.proto.metadata.feature_names.val, self.proto.results):
            if name in self._plain:
                out[name] = [list(v) if isinstance(v, list) else v for v in self._plain[name]]
            else:
                kind = self._feature_types.get(name)
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


def _read_by_feast(
    grouped_refs: list[tuple[FeatureView, list[str]]],
    feature_refs: list[str],
    windowed: list[OnDemandFeatureView],
    others: list[OnDemandFeatureView],
) -> list[tuple[FeatureView, list[str]]]:
    """The views Feast still reads: all but those only windowed views need."""
    asked = {ref.split(":", 1)[0] for ref in feature_refs}
    needed_by_others = {p.name for o in others for p in o.source_feature_view_projections.values()}
    only_windowed = {
        p.name for o in windowed for p in o.source_feature_view_projections.values()
    } - asked - needed_by_others
    return [(t, f) for t, f in grouped_refs if t.projection.name_to_use() not in only_windowed]


def _add_windowed(
    store: BackendOnlineStore[Any], config: RepoConfig, request: _Request, odfv: OnDemandFeatureView,
    spec: WindowedFeaturesSpec,
) -> dict[str, list[Any]]:
    """Appends the view's requested outputs to the response; returns them as plain columns."""
    view = odfv.projection.name_to_use()
    asked = {ref.split(":", 1)[1] for ref in request.feature_refs if ref.split(":", 1)[0] == view}
    outputs = {name: output for name, output in output_names(spec).items() if name in asked}
    kinds = {output.kind for output in outputs.values()}
    histories, actor_of_row = _histories(store, config, request, spec)
    field = spec.request_field
    nows = [request_time(_plain(v), field, row) for row, v in enumerate(request.column(field))]
    candidates = None
    if spec.candidate and not kinds.isdisjoint(_SCORED):
        read = (spec.candidate, spec.embedding_dim)
        if read not in request.candidates:
            request.candidates[read] = _candidates(store, config, request, spec)
        candidates = request.candidates[read]
    keys = None
    if spec.seen is not None and not kinds.isdisjoint(_SEEN):
        keys = candidate_keys(spec.seen, [_plain(v) for v in request.column(spec.seen.candidate_key)])
    columns = _Columns(request.rows, outputs)
    for (actor, now), rows in _groups(actor_of_row, nows).items():
        member = member_features(spec, histories[actor], now, kinds)
        scored = member.candidate_arrays(
            None if candidates is None else candidates[rows], None if keys is None else keys[rows])
        columns.fill(rows, member.member_arrays(), scored)
    plain = {}
    for name, values in columns.protos().items():
        output = f"{view}__{name}" if request.full_names else name
        _append(request.response, output, values)
        plain[output] = columns.plain(name)
    return plain


def _histories(
    store: BackendOnlineStore[Any], config: RepoConfig, request: _Request, spec: WindowedFeaturesSpec
) -> tuple[list[ActorHistory], np.ndarray]:
    if spec.history not in request.histories:
        request.histories[spec.history] = _read_histories(store, config, request, spec)
    histories, actor_of_row = request.histories[spec.history]
    parsed = [ActorHistory.of(spec, h.ts_ms, h.verbs, h.embeddings, h.objects) for h in histories]
    return parsed, actor_of_row


def _read_histories(
    store: BackendOnlineStore[Any], config: RepoConfig, request: _Request, spec: WindowedFeaturesSpec
) -> tuple[list[History], np.ndarray]:
    table = request.table(spec.history)
    hspec = spec_of(table, HistorySpec)
    if hspec is None:
        raise OnlineStoreError(f"'{spec.view}' reads '{spec.history}', which is not an action history")
    keys, actor_of_row = request.unique(table)
    histories: list[History] = store._histories(config, hspec, keys)
    if hspec.attribute is not None:
        histories = store._join_attribute(config, hspec.attribute, hspec.embedding_dim, histories)
    return histories, actor_of_row


def _candidates(
    store: BackendOnlineStore[Any], config: RepoConfig, request: _Request, spec: WindowedFeaturesSpec
) -> np.ndarray:
    """Each row's candidate embedding, (rows, dim); zero rows where missing or malformed."""
    assert spec.candidate is not None
    view, feature = spec.candidate.split("__", 1)
    table = request.table(view)
    keys, key_of_row = request.unique(table)
    vectors = store.read_plain(config, table, keys, feature)
    # as Feast's path would see them: through the feature's proto type
    as_float32 = {f.name: f.dtype.to_value_type() for f in table.features}.get(feature) == ValueType.FLOAT_LIST
    matrix = candidate_matrix(spec, vectors)
    if as_float32:
        matrix = matrix.astype(np.float32).astype(np.float64)
    return matrix[key_of_row]


def _plain(value: ValueProto) -> Any:
    kind = value.WhichOneof("val")
    return None if kind is None else getattr(value, kind)


def _groups(actor_of_row: np.ndarray, nows: list[int]) -> dict[tuple[int, int], list[int]]:
    """Rows by (actor, request time), in first-seen order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for row, key in enumerate(zip(actor_of_row.tolist(), nows)):
        groups.setdefault(key, []).append(row)
    return groups


class _Columns:
    """The requested outputs of one windowed view for every row, filled group by group.

    Scalars are one array per output; a member-level vector (a mean, a medoid)
    is built once per group, proto and list, and shared by the group's rows.
    """

    def __init__(self, rows: int, outputs: dict[str, Output]) -> None:
        self._outputs = outputs
        dtypes = {"int": np.int64, "float": np.float64}
        self._scalars = {name: np.zeros(rows, dtype=dtypes[o.value]) for name, o in outputs.items()
                         if o.value != "vector"}
        self._vectors: dict[str, list[tuple[ValueProto, list[float]]]] = {
            name: [] for name, o in outputs.items() if o.value == "vector"}
        self._group_of_row = np.zeros(rows, dtype=np.int64)
        self._groups = 0

    def fill(self, rows: list[int], member: dict[str, np.ndarray], scored: dict[str, np.ndarray]) -> None:
        for name, column in self._scalars.items():
            output = self._outputs[name]
            if output.per_candidate:
                if output.kind in scored:  # absent: no candidate embedding declared, 0
                    column[rows] = scored[output.kind][:, output.index]
            else:
                column[rows] = member[output.kind][output.index]
        for name, vectors in self._vectors.items():
            output = self._outputs[name]
            values = python_value(output, member[output.kind][output.index])
            vectors.append((ValueProto(float_list_val=FloatList(val=values)), values))
        self._group_of_row[rows] = self._groups
        self._groups += 1

    def protos(self) -> dict[str, list[ValueProto]]:
        make = {"int": lambda v: ValueProto(int64_val=v), "float": lambda v: ValueProto(double_val=v)}
        out: dict[str, list[ValueProto]] = {}
        for name, output in self._outputs.items():
            if output.value == "vector":
                protos = [proto for proto, _ in self._vectors[name]]
                out[name] = [protos[g] for g in self._group_of_row.tolist()]
            else:
                out[name] = [make[output.value](v) for v in self._scalars[name].tolist()]
        return out

    def plain(self, name: str) -> list[Any]:
        """The column as Python values (a vector's list is shared by the rows of its group)."""
        if name in self._scalars:
            return self._scalars[name].tolist()
        lists = [values for _, values in self._vectors[name]]
        return [lists[g] for g in self._group_of_row.tolist()]


def _append(response: GetOnlineFeaturesResponse, name: str, values: list[ValueProto]) -> None:
    response.metadata.feature_names.val.append(name)
    response.results.append(
        GetOnlineFeaturesResponse.FeatureVector(
            values=values,
            statuses=[FieldStatus.PRESENT] * len(values),
            event_timestamps=[Timestamp()] * len(values),
        )
    )
