"""Point-in-time action histories with one DuckDB range join.

For each entity row (actor, ``T``): the actor's actions with
``T - retention < ts <= T`` ordered ``ts DESC, action_id ASC``, the first
``max_actions`` of them, each ``action_id`` once (the earliest-written copy).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
from feast import FeatureView
from feast.repo_config import RepoConfig

from feast_pinot.errors import OfflineStoreError
from feast_pinot.offline.duckdb import epoch_ms_sql, session, sql_literal
from feast_pinot.offline.parts import log_parts, resolve_path
from feast_pinot.offline.plan import ROW_ID, EntityPlan
from feast_pinot.specs import HISTORY_FEATURES, AttributeJoinSpec, HistorySpec, spec_of

__all__ = ["build_histories", "log_files"]
_ORDER = "ts DESC, action_id ASC"


def log_files(config: RepoConfig, spec: HistorySpec) -> list[str]:
    """The Parquet parts of the history's log, in write order."""
    return log_parts(resolve_path(config.repo_path, spec.log.path))


def _log_sql(spec: HistorySpec, files: list[str]) -> str:
    emb = ", embedding" if spec.log.embedding_dim else ""
    # an action whose embedding is not finite was refused online: dropped before the dedup, as offline.log does
    finite = "WHERE coalesce(list_bool_and(list_transform(embedding, lambda x: isfinite(x))), true)" if emb else ""
    return f"""
        SELECT "{spec.log.actor_join_key}" AS actor, action_id, verb, object{emb},
               {epoch_ms_sql("event_timestamp")} AS ts
        FROM read_parquet([{", ".join(map(sql_literal, files))}],
                          filename = true, file_row_number = true, union_by_name = true)
        {finite}
        QUALIFY row_number() OVER (
            PARTITION BY action_id
            ORDER BY parse_filename(filename), file_row_number) = 1
    """


def _hits_sql(spec: HistorySpec) -> str:
    return f"""
        SELECT e.row_id, e.t, l.*
        FROM entities e JOIN log l
          ON l.actor = e.actor AND l.ts > e.t - {int(spec.log.retention_ms)} AND l.ts <= e.t
        QUALIFY row_number() OVER (PARTITION BY e.row_id ORDER BY l.ts DESC, l.action_id ASC)
                <= {int(spec.max_actions)}
    """


def _attribute_sql(attr: AttributeJoinSpec, dim: int, path: str) -> str:
    cast = "BIGINT" if attr.key_is_int else "VARCHAR"
    nans = "[" + ", ".join(["'nan'::FLOAT"] * dim) + "]"  # no attribute: NaN, left out of means
    return f"""
        SELECT h.*, CASE WHEN len(a.value) = {dim} THEN a.value::FLOAT[]
                    ELSE {nans} END AS embedding
        FROM (SELECT hits.*, k.obj_key FROM hits LEFT JOIN object_keys k USING (object)) h
        ASOF LEFT JOIN (
            SELECT "{attr.join_key}"::{cast} AS obj_key, "{attr.feature}" AS value,
                   {epoch_ms_sql(attr.timestamp_field)} AS attr_ts
            FROM read_parquet({sql_literal(path)})) a
          ON h.obj_key = a.obj_key AND h.t >= a.attr_ts
    """


def _object_keys(con: duckdb.DuckDBPyConnection, attr: AttributeJoinSpec) -> pd.DataFrame:
    """Each distinct object's attribute key, parsed by the function the online join calls."""
    objects = [row[0] for row in con.execute("SELECT DISTINCT object FROM hits").fetchall()]
    keys = [attr.object_key(obj) for obj in objects]
    return pd.DataFrame(
        {
            "object": pd.Series(objects, dtype=object),
            "obj_key": pd.array(keys, dtype="Int64" if attr.key_is_int else "string"),
        }
    )


def _aggregate_sql(with_embeddings: bool) -> str:
    emb = f", flatten(list(embedding ORDER BY {_ORDER})) AS action_embeddings" if with_embeddings else ""
    return f"""
        SELECT row_id, list(ts ORDER BY {_ORDER}) AS action_ts,
               list(verb ORDER BY {_ORDER}) AS action_verbs,
               list(object ORDER BY {_ORDER}) AS action_objects{emb}
        FROM joined GROUP BY row_id
    """


def _query(config: RepoConfig, spec: HistorySpec, entities: pd.DataFrame) -> pd.DataFrame:
    files = log_files(config, spec)
    columns = ["row_id", *HISTORY_FEATURES[: 4 if spec.embedding_dim else 3]]
    if not files or entities.empty:
        return pd.DataFrame({c: [] for c in columns})
    with session(f"building history '{spec.name}'") as con:
        con.register("entities", entities)
        con.execute(f"CREATE TEMP VIEW log AS {_log_sql(spec, files)}")
        con.execute(f"CREATE TEMP TABLE hits AS {_hits_sql(spec)}")
        if spec.attribute is not None:
            attr_path = resolve_path(config.repo_path, spec.attribute.path)
            con.register("object_keys", _object_keys(con, spec.attribute))
            joined = _attribute_sql(spec.attribute, spec.embedding_dim, attr_path)
            con.execute(f"CREATE TEMP TABLE joined AS {joined}")
        else:
            con.execute("CREATE TEMP VIEW joined AS SELECT * FROM hits")
        return con.execute(_aggregate_sql(bool(spec.embedding_dim))).df()


def _as_list(value: object) -> list[Any]:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value if isinstance(value, list) else []


def _wire_form(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows without actions get empty lists; embeddings become float32 bytes."""
    for column in columns:
        values = [_as_list(v) for v in frame[column]]
        if column == "action_embeddings":
            frame[column] = [np.asarray(v, dtype="<f4").tobytes() for v in values]
        else:
            frame[column] = values
    return frame


def build_histories(config: RepoConfig, view: FeatureView, wanted: list[str], plan: EntityPlan,
                    column_names: dict[str, str]) -> pd.DataFrame:
    """``ROW_ID`` plus the ``wanted`` history features of every entity row, named by ``column_names``."""
    spec = spec_of(view)
    if not isinstance(spec, HistorySpec):
        raise OfflineStoreError(f"'{view.name}' is not a history view")
    found = _query(config, spec, plan.entities(view, spec.log))
    out = pd.DataFrame({ROW_ID: plan.rows[ROW_ID].to_numpy()}).merge(
        found.rename(columns={"row_id": ROW_ID}), on=ROW_ID, how="left"
    )
    out = _wire_form(out, wanted)
    return out[[ROW_ID, *wanted]].rename(columns=column_names)
