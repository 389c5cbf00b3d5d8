"""What a feature service needs in an entity row, and which action log it reads, from Feast's registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from feast import FeatureService, FeatureStore, FeatureView, FileSource
from feast.errors import FeastObjectNotFoundException

from feast_pinot.client import log_spec
from feast_pinot.errors import DeclarationError, ParityError
from feast_pinot.offline.parts import resolve_path
from feast_pinot.specs import ActionLogSpec

__all__ = ["ServicePlan", "feature_service", "key_values", "plan_service"]


@dataclass(frozen=True)
class ServicePlan:
    """The service, its action log, and the other join keys of its entity rows with the views keyed by them."""

    service: FeatureService
    log: ActionLogSpec
    log_root: str  # the log's Parquet parts, resolved against the repo
    # a join key besides the actor's -> a view whose batch source lists its values, and its column there
    keyed_by: dict[str, tuple[FeatureView, str]]
    request_fields: tuple[str, ...]


def feature_service(store: FeatureStore, name: str) -> FeatureService:
    try:
        return store.get_feature_service(name)
    except FeastObjectNotFoundException:
        known = sorted(s.name for s in store.list_feature_services())
        raise ParityError(f"no feature service '{name}' in the repo (it has {known})") from None


def _source_views(store: FeatureStore, service: FeatureService) -> Iterator[tuple[FeatureView, dict[str, str]]]:
    """Every feature view the service reads, directly or through an on-demand view, with its join-key map."""
    for projection in service.feature_view_projections:
        try:
            odfv = store.get_on_demand_feature_view(projection.name)
        except FeastObjectNotFoundException:
            yield store.get_feature_view(projection.name), projection.join_key_map
            continue
        for source in odfv.source_feature_view_projections.values():
            yield store.get_feature_view(source.name), source.join_key_map


def _request_fields(store: FeatureStore, service: FeatureService) -> tuple[str, ...]:
    fields: list[str] = []
    for projection in service.feature_view_projections:
        try:
            odfv = store.get_on_demand_feature_view(projection.name)
        except FeastObjectNotFoundException:
            continue
        fields += [f.name for r in odfv.source_request_sources.values() for f in r.schema if f.name not in fields]
    return tuple(fields)


def _logs(store: FeatureStore) -> dict[str, ActionLogSpec]:
    found = {}
    for view in store.list_feature_views():
        try:
            found[view.name] = log_spec(store, view.name)
        except DeclarationError:
            continue
    return found


def _choose_log(store: FeatureStore, views: list[FeatureView], wanted: str | None) -> ActionLogSpec:
    logs = _logs(store)
    if wanted is not None:
        if wanted not in logs:
            raise ParityError(f"'{wanted}' is not an action log of the repo (its logs: {sorted(logs)})")
        return logs[wanted]
    read = {v.batch_source.path for v in views if isinstance(v.batch_source, FileSource)}
    used = sorted(name for name, spec in logs.items() if spec.path in read)
    if len(used) != 1:
        raise ParityError(f"the service reads the action logs {used}: name the one to sample actors from "
                          f"with --log (the repo's logs: {sorted(logs)})")
    return logs[used[0]]


def plan_service(store: FeatureStore, service_name: str, log_name: str | None = None) -> ServicePlan:
    service = feature_service(store, service_name)
    sourced = list(_source_views(store, service))
    log = _choose_log(store, [view for view, _ in sourced], log_name)
    keyed_by: dict[str, tuple[FeatureView, str]] = {}
    for view, key_map in sourced:
        for column in view.entity_columns:
            key = key_map.get(column.name, column.name)
            if key != log.actor_join_key and isinstance(view.batch_source, FileSource):
                keyed_by.setdefault(key, (view, column.name))
    root = resolve_path(store.repo_path, log.path)
    return ServicePlan(service, log, root, keyed_by, _request_fields(store, service))


def key_values(store: FeatureStore, view: FeatureView, column: str) -> list[object]:
    """The distinct values of the view's join column ``column`` in its batch source."""
    source = view.batch_source
    if not isinstance(source, FileSource):
        raise ParityError(f"view '{view.name}' has no file source to draw values of '{column}' from")
    path = resolve_path(store.repo_path, source.path)
    try:
        values = pd.read_parquet(path, columns=[column])[column]
    except (OSError, KeyError, ValueError) as exc:
        raise ParityError(f"cannot read the values of '{column}' from {path} (view '{view.name}'): {exc}") from exc
    return sorted(values.dropna().unique().tolist())
