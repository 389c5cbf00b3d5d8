"""Windowed views served by the online store itself: member-level work once per call.

A ranking call asks for one member and N candidates. Through Feast's generic
on-demand path every row would carry its own copy of the member's history
(converted to Python per row) and its own masks, counts and means. Here, for
each requested windowed view:

* the history is read once per distinct actor and parsed once
  (:class:`~feast_pinot.windows.ActorHistory`);
* counts and means are computed once per (actor, ``request_ts``)
  (:func:`~feast_pinot.windows.member_windows`);
* the candidates of all rows sharing them are scored in one product
  (:func:`~feast_pinot.windows.similarities`);
* outputs go straight to response protos, a mean embedding built once per
  (actor, ``request_ts``), and ``to_dict`` returns them from the plain values
  (:class:`WindowedResponse`).

Everything else in the request (batch views, histories asked for by name,
other on-demand views) takes Feast's own path, so the response is the one
Feast would build, with the same values (the same functions compute them).
This leans on Feast 0.67's request helpers in ``feast.utils``, as Feast's own
``OnlineStore.get_online_features`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    ActorHistory,
    MemberWindows,
    candidate_matrix,
    member_windows,
    output_names,
    request_time,
    similarities,
)

if TYPE_CHECKING:
    from feast_pinot.online.adapter import BackendOnlineStore

__all__ = ["WindowedResponse", "get_online_features", "requests_windowed"]

_Features = list[str] | FeatureService
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
    names = {name: kind for name, (kind, _) in _layout(spec).items() if name in asked}
    histories, actor_of_row = _histories(store, config, request, spec)
    field = spec.request_field
    nows = [request_time(_plain(v), field, row) for row, v in enumerate(request.column(field))]
    candidates = None
    if spec.candidate and any(kind == "sim" for kind in names.values()):
        candidates = _candidates(store, config, request, spec)
    groups = _groups(actor_of_row, nows)
    windows = {key: member_windows(spec, histories[key[0]], key[1]) for key in groups}
    columns = _Columns(spec, request.rows, names)
    for key, rows in groups.items():
        columns.fill(rows, windows[key], candidates)
    plain = {}
    for name, values in columns.protos().items():
        output = f"{view}__{name}" if request.full_names else name
        _append(request.response, output, values)
        plain[output] = columns.plain(name)
    return plain


def _histories(
    store: BackendOnlineStore[Any], config: RepoConfig, request: _Request, spec: WindowedFeaturesSpec
) -> tuple[list[ActorHistory], np.ndarray]:
    table = request.table(spec.history)
    hspec = spec_of(table, HistorySpec)
    if hspec is None:
        raise OnlineStoreError(f"'{spec.view}' reads '{spec.history}', which is not an action history")
    keys, actor_of_row = request.unique(table)
    histories: list[History] = store._histories(config, hspec, keys)
    if hspec.attribute is not None:
        histories = store._join_attribute(config, hspec.attribute, hspec.embedding_dim, histories)
    parsed = [ActorHistory.of(spec, h.ts_ms, h.verbs, h.embeddings) for h in histories]
    return parsed, actor_of_row


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
    """The requested outputs of one windowed view for every row, filled group by group."""

    def __init__(self, spec: WindowedFeaturesSpec, rows: int, names: dict[str, str]) -> None:
        self._names = names
        pairs = len(spec.verbs) * len(spec.windows)
        self._index = {name: k for name, (_, k) in _layout(spec).items()}
        self._counts = np.zeros((rows, pairs), dtype=np.int64)
        self._sims = np.zeros((rows, pairs))
        self._means: list[list[ValueProto]] = [[] for _ in range(pairs)]
        self._mean_lists: list[list[list[float]]] = [[] for _ in range(pairs)]
        self._mean_of_row = np.zeros(rows, dtype=np.int64)
        self._groups = 0

    def fill(self, rows: list[int], windows: MemberWindows, candidates: np.ndarray | None) -> None:
        self._counts[rows] = windows.counts
        if candidates is not None:
            sims = similarities(windows, candidates[rows])
            if sims is not None:
                self._sims[rows] = sims
        if windows.means is not None and any(kind == "mean_emb" for kind in self._names.values()):
            for k, mean in enumerate(windows.means):
                values = mean.astype(np.float32).tolist()
                self._means[k].append(ValueProto(float_list_val=FloatList(val=values)))
                self._mean_lists[k].append(values)
            self._mean_of_row[rows] = self._groups
            self._groups += 1

    def protos(self) -> dict[str, list[ValueProto]]:
        build: dict[str, Callable[[int], list[ValueProto]]] = {
            "count": lambda k: [ValueProto(int64_val=v) for v in self._counts[:, k].tolist()],
            "sim": lambda k: [ValueProto(double_val=v) for v in self._sims[:, k].tolist()],
            "mean_emb": lambda k: [self._means[k][g] for g in self._mean_of_row.tolist()],
        }
        return {name: build[kind](self._index[name]) for name, kind in self._names.items()}

    def plain(self, name: str) -> list[Any]:
        """The column as Python values (a mean list is shared by the rows of its group)."""
        k = self._index[name]
        kind = self._names[name]
        if kind == "count":
            return self._counts[:, k].tolist()
        if kind == "sim":
            return self._sims[:, k].tolist()
        return [self._mean_lists[k][g] for g in self._mean_of_row.tolist()]


@functools.lru_cache(maxsize=64)
def _layout(spec: WindowedFeaturesSpec) -> dict[str, tuple[str, int]]:
    """``{output name: (kind, row of its (verb, window) pair)}`` in declaration order (do not mutate)."""
    pairs = {
        (verb, window.label): k for k, (verb, window) in enumerate((v, w) for v in spec.verbs for w in spec.windows)
    }
    return {name: (kind, pairs[verb, label]) for name, (kind, verb, label) in output_names(spec).items()}


def _append(response: GetOnlineFeaturesResponse, name: str, values: list[ValueProto]) -> None:
    response.metadata.feature_names.val.append(name)
    response.results.append(
        GetOnlineFeaturesResponse.FeatureVector(
            values=values,
            statuses=[FieldStatus.PRESENT] * len(values),
            event_timestamps=[Timestamp()] * len(values),
        )
    )
