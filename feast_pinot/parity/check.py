"""The two parity checks: sampled rows read online and offline at one instant, and logged responses recomputed.

*Sample*: actors with actions within the log's retention before the instant
are drawn from the offline action log; each gets ``candidates`` rows (the
service's other join keys: half from objects the actor acted on, so the
already-acted-on features are exercised, the rest drawn from the key's batch
source). ``get_online_features`` answers with the online clock pinned to the
instant and ``request_ts`` = the instant; ``get_historical_features`` gets the
same rows with ``event_timestamp`` = ``request_ts`` = the instant.

*Served*: rows logged by the server in Feast's feature-logging schema (join
keys, request fields, ``{view}__{feature}`` values, ``__log_timestamp``) are
rebuilt by ``get_historical_features`` as of their log timestamp with their own
``request_ts``. Unlike the sample, this sees what only real serving shows:
actions that reached the online store after the response was served (late
arrivals), a materialization that was behind, a server on other code.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast import FeatureStore

from feast_pinot import clock
from feast_pinot.errors import ParityError
from feast_pinot.offline.parts import log_parts
from feast_pinot.parity.compare import FeatureParity, compare_feature
from feast_pinot.parity.service import ServicePlan, key_values, plan_service

__all__ = ["LOG_TIMESTAMP", "ParityReport", "check_sample", "check_served", "served_log"]

LOG_TIMESTAMP = "__log_timestamp"  # Feast's feature-logging columns
_LOG_SYSTEM = ("__log_timestamp", "__log_date", "__request_id")
_PRESENT, _NOT_FOUND = 1, 3  # feast FieldStatus values


@dataclass(frozen=True)
class ParityReport:
    mode: str  # "sample" or "served"
    service: str
    instant_ms: int | None  # the sample's instant (served: None, each row has its own)
    rows: int
    actors: int
    tolerance: float
    features: tuple[FeatureParity, ...]

    @property
    def passed(self) -> bool:
        return all(f.mismatches == 0 for f in self.features)


def _actions(plan: ServicePlan) -> pd.DataFrame:
    parts = log_parts(plan.log_root)
    if not parts:
        raise ParityError(f"action log '{plan.log.name}' has no Parquet parts under {plan.log_root}")
    columns = [plan.log.actor_join_key, "object", "event_timestamp"]
    table = pa.concat_tables([pq.read_table(p, columns=columns, filesystem=parts.store.fs) for p in parts.paths])
    frame = table.to_pandas()
    frame["ts_ms"] = table.column("event_timestamp").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
    return frame


def _active(plan: ServicePlan, at_ms: int) -> pd.DataFrame:
    log = _actions(plan)
    inside = log[(log["ts_ms"] > at_ms - plan.log.retention_ms) & (log["ts_ms"] <= at_ms)]
    if inside.empty:
        raise ParityError(
            f"no action of log '{plan.log.name}' lies within its retention before the instant {at_ms} "
            f"(the log spans {int(log['ts_ms'].min())}..{int(log['ts_ms'].max())} ms): pass --at")
    return inside


def _candidates(acted: Sequence[str], values: list[Any], count: int, rng: random.Random) -> list[Any]:
    by_text = {str(v): v for v in values}
    known = sorted({by_text[o.rsplit(":", 1)[-1]] for o in acted if o.rsplit(":", 1)[-1] in by_text}, key=str)
    chosen = rng.sample(known, min(len(known), count // 2))
    others = [v for v in values if v not in chosen]
    chosen += rng.sample(others, min(len(others), count - len(chosen)))
    return chosen + [rng.choice(values) for _ in range(count - len(chosen))]  # fewer values than rows


def _sample_rows(store: FeatureStore, plan: ServicePlan, at_ms: int, actors: int, candidates: int,
                 seed: int) -> list[dict[str, Any]]:
    unsupported = [f for f in plan.request_fields if f != "request_ts"]
    if unsupported:
        raise ParityError(f"the service needs request fields {unsupported}: the sample fills only request_ts; "
                          "check logged responses with --mode served instead")
    active = _active(plan, at_ms)
    rng = random.Random(seed)
    actor_key = plan.log.actor_join_key
    everyone = sorted(set(active[actor_key].tolist()), key=str)
    chosen = sorted(rng.sample(everyone, min(actors, len(everyone))), key=str)
    values = {key: key_values(store, view, column) for key, (view, column) in plan.keyed_by.items()}
    rows = []
    for actor in chosen:
        acted = active.loc[active[actor_key] == actor, "object"].tolist()
        picks = {key: _candidates(acted, vals, candidates, rng) for key, vals in values.items()}
        for i in range(candidates if values else 1):
            rows.append({actor_key: actor, **{key: picks[key][i] for key in picks}, "request_ts": at_ms})
    return rows


def _feature_names(plan: ServicePlan) -> list[str]:
    return [f"{p.name_to_use()}__{f.name}" for p in plan.service.feature_view_projections for f in p.features]


def _compare(names: list[str], served: Mapping[str, Sequence[Any]], offline: pd.DataFrame,
             keys: list[dict[str, Any]], tolerance: float) -> tuple[FeatureParity, ...]:
    missing = [n for n in names if n not in offline.columns]
    if missing:
        raise ParityError(f"training data lacks the served features {missing[:5]}")
    return tuple(compare_feature(n, list(served[n]), offline[n].tolist(), tolerance, keys) for n in names)


def check_sample(store: FeatureStore, service: str, *, at_ms: int | None = None, actors: int = 50,
                 candidates: int = 3, seed: int = 0, tolerance: float = 1e-6,
                 log: str | None = None) -> ParityReport:
    """Online at a pinned instant against training data for the same rows and instant."""
    if actors < 1 or candidates < 1:
        raise ParityError(f"actors and candidates must be >= 1, got {actors} and {candidates}")
    plan = plan_service(store, service, log)
    at = clock.now_ms() if at_ms is None else at_ms
    rows = _sample_rows(store, plan, at, actors, candidates, seed)
    with clock.frozen(at):
        online = store.get_online_features(features=plan.service, entity_rows=rows,
                                           full_feature_names=True).to_dict()
    entity_df = pd.DataFrame(rows)
    entity_df["event_timestamp"] = pd.Timestamp(at, unit="ms", tz="UTC")
    offline = store.get_historical_features(entity_df=entity_df, features=plan.service,
                                            full_feature_names=True).to_df()
    names = [n for n in _feature_names(plan) if n in online]
    features = _compare(names, online, offline, rows, tolerance)
    actor_count = len({r[plan.log.actor_join_key] for r in rows})
    return ParityReport("sample", service, at, len(rows), actor_count, tolerance, features)


def served_log(store: FeatureStore, service: str, entity_rows: Sequence[Mapping[str, Any]],
               response: Mapping[str, Sequence[Any]], served_at_ms: int, request_id: str = "") -> pa.Table:
    """One served call as rows of Feast's feature-logging schema of ``service``.

    ``response`` is ``get_online_features(..., full_feature_names=True).to_dict()``
    of those ``entity_rows``; ``served_at_ms`` the instant it was served. Write the
    table with ``store.write_logged_features(table, feature_service)`` (a service
    with a ``logging_config``; a file destination's folder must exist) or as
    Parquet, and check it with ``--mode served``. Join keys that Feast's logging
    schema leaves out (those an on-demand view reads through its source views,
    such as the candidate's ``job_id``) are appended as extra columns.
    """
    from feast.feature_logging import FeatureServiceLoggingSource

    plan = plan_service(store, service)
    schema = FeatureServiceLoggingSource(plan.service, store.project).get_schema(store.registry)
    n = len(entity_rows)
    served_at = pd.Timestamp(served_at_ms, unit="ms", tz="UTC")
    columns: dict[str, Any] = {}
    for field in schema:
        name = field.name
        if name == LOG_TIMESTAMP or name.endswith("__timestamp"):
            columns[name] = [served_at] * n
        elif name == "__log_date":
            columns[name] = [served_at.date()] * n
        elif name == "__request_id":
            columns[name] = [request_id] * n
        elif name.endswith("__status"):
            feature = name.removesuffix("__status")
            columns[name] = [_NOT_FOUND if v is None else _PRESENT for v in response[feature]]
        elif name in response:
            columns[name] = list(response[name])
        else:
            columns[name] = [row.get(name) for row in entity_rows]
    table = pa.table({f.name: pa.array(columns[f.name], f.type) for f in schema}, schema=schema)
    # Feast's schema keeps an on-demand view's request fields but not the join keys it reads
    # through its source views (a candidate's job_id): without them no row can be rebuilt.
    for key in [plan.log.actor_join_key, *plan.keyed_by]:
        if key not in schema.names:
            table = table.append_column(key, pa.array([row.get(key) for row in entity_rows]))
    return table


def _read_logs(path: str) -> pd.DataFrame:
    if not Path(path).exists():
        raise ParityError(f"no logged responses at {path}")
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowInvalid) as exc:
        raise ParityError(f"cannot read the logged responses at {path}: {exc}") from exc


def check_served(store: FeatureStore, service: str, logs: str, *, tolerance: float = 1e-6,
                 log: str | None = None) -> ParityReport:
    """Logged online responses (Feast's feature-logging schema) against training data rebuilt for them."""
    plan = plan_service(store, service, log)
    frame = _read_logs(logs)
    keys = [plan.log.actor_join_key, *plan.keyed_by, *plan.request_fields]
    absent = [c for c in [*keys, LOG_TIMESTAMP] if c not in frame.columns]
    if absent:
        raise ParityError(f"the logged responses lack the columns {absent} (Feast's feature-logging schema "
                          f"of '{service}' has them; got {sorted(frame.columns)[:12]}...)")
    names = [n for n in _feature_names(plan) if n in frame.columns]
    if not names:
        raise ParityError(f"the logged responses hold none of the features of '{service}'")
    entity_df = frame[keys].copy()
    entity_df["event_timestamp"] = pd.to_datetime(frame[LOG_TIMESTAMP], utc=True)
    offline = store.get_historical_features(entity_df=entity_df, features=plan.service,
                                            full_feature_names=True).to_df()
    row_keys = [{k: _plain(v) for k, v in row.items()}
                for row in frame[[*keys, LOG_TIMESTAMP]].astype(object).to_dict("records")]
    served = {n: frame[n].tolist() for n in names}
    features = _compare(names, served, offline, row_keys, tolerance)
    return ParityReport("served", service, None, len(frame), frame[plan.log.actor_join_key].nunique(),
                        tolerance, features)


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
