"""Feast's private request pipeline, as the online store's ranking read uses it.

The ranking read reuses the helpers Feast's own
``OnlineStore.get_online_features`` calls (see :mod:`feast_pinot.feast_internals`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feast import FeatureService, FeatureView, OnDemandFeatureView
from feast import utils as feast_utils
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.registry.base_registry import BaseRegistry
from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast.value_type import ValueType

from feast_pinot.feast_internals.table import Internal

__all__ = [
    "INTERNALS",
    "PreparedRequest",
    "add_on_demand_transforms",
    "build_feature_types",
    "check_versioned_read_support",
    "drop_unneeded_columns",
    "prepare_request",
    "read_features_per_view",
    "requested_on_demand_views",
]

_Features = list[str] | FeatureService
_GroupedRefs = list[tuple[FeatureView, list[str]]]


INTERNALS: tuple[Internal, ...] = (
    Internal(feast_utils, "_get_cached_request_context", ("registry", "project", "features", "full_feature_names")),
    Internal(feast_utils, "_prepare_entities_to_read_from_online_store",
             ("registry", "project", "features", "entity_values", "full_feature_names", "native_entity_values")),
    Internal(feast_utils, "_augment_response_with_on_demand_transforms",
             ("online_features_response", "feature_refs", "requested_on_demand_feature_views",
              "full_feature_names", "feature_types")),
    Internal(feast_utils, "_drop_unneeded_columns", ("online_features_response", "requested_result_row_names")),
    Internal(OnlineStore, "_check_versioned_read_support", ("self", "grouped_refs")),
    Internal(OnlineStore, "_read_features_per_fv",
             ("self", "config", "grouped_refs", "join_key_values", "entity_name_to_join_key_map",
              "online_features_response", "full_feature_names", "include_feature_view_version_metadata")),
    Internal(OnlineStore, "_build_feature_types", ("grouped_refs",)),
)


def requested_on_demand_views(
    registry: BaseRegistry, project: str, features: _Features, full_feature_names: bool
) -> list[OnDemandFeatureView]:
    """The on-demand views a request names (Feast caches the resolution)."""
    context = feast_utils._get_cached_request_context(
        registry=registry, project=project, features=features, full_feature_names=full_feature_names)
    return list(context[1])


@dataclass(frozen=True)
class PreparedRequest:
    """Feast's resolution of one ``get_online_features`` call."""

    join_keys: dict[str, list[ValueProto]]
    grouped_refs: _GroupedRefs
    entity_map: dict[str, str]
    on_demand_views: list[OnDemandFeatureView]
    feature_refs: list[str]
    keep: set[str]
    response: GetOnlineFeaturesResponse


def prepare_request(registry: BaseRegistry, project: str, features: _Features, columns: Mapping[str, Any],
                    full_feature_names: bool) -> PreparedRequest:
    """Entity values as protos, the views to read, and an empty response with the entity columns."""
    prepared = feast_utils._prepare_entities_to_read_from_online_store(
        registry=registry, project=project, features=features, entity_values=columns,
        full_feature_names=full_feature_names, native_entity_values=True)
    join_keys, grouped_refs, entity_map, odfvs, feature_refs, keep, response = prepared
    return PreparedRequest(join_keys, grouped_refs, entity_map, list(odfvs), feature_refs, keep, response)


def check_versioned_read_support(store: OnlineStore, grouped_refs: _GroupedRefs) -> None:
    store._check_versioned_read_support(grouped_refs=grouped_refs)


def read_features_per_view(store: OnlineStore, config: RepoConfig, request: PreparedRequest,
                           grouped_refs: _GroupedRefs, full_feature_names: bool,
                           include_feature_view_version_metadata: bool) -> None:
    """Feast's reads of ``grouped_refs`` into the request's response."""
    store._read_features_per_fv(
        config=config, grouped_refs=grouped_refs, join_key_values=request.join_keys,
        entity_name_to_join_key_map=request.entity_map, online_features_response=request.response,
        full_feature_names=full_feature_names,
        include_feature_view_version_metadata=include_feature_view_version_metadata)


def build_feature_types(grouped_refs: _GroupedRefs) -> dict[str, ValueType]:
    return dict(OnlineStore._build_feature_types(grouped_refs=grouped_refs))


def add_on_demand_transforms(request: PreparedRequest, odfvs: Sequence[OnDemandFeatureView],
                             full_feature_names: bool, feature_types: dict[str, ValueType]) -> None:
    """Feast runs ``odfvs`` on the response."""
    feast_utils._augment_response_with_on_demand_transforms(
        online_features_response=request.response, feature_refs=request.feature_refs,
        requested_on_demand_feature_views=list(odfvs), full_feature_names=full_feature_names,
        feature_types=feature_types)


def drop_unneeded_columns(request: PreparedRequest) -> None:
    feast_utils._drop_unneeded_columns(
        online_features_response=request.response, requested_result_row_names=request.keep)
