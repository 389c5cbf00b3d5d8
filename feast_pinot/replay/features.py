"""Point-in-time training data at a feature delay, through the project's own Feast plug-ins.

A throw-away feature repo is declared with the public helpers (an action log
storing each object's embedding, its history, one windowed view per feature
family, the objects' embeddings as a batch view), the interactions are
written as the log's Parquet parts, and for a delay ``d`` every labelled row
at time ``t`` asks ``get_historical_features`` as of ``t - d - 1 ms``: the
history, the windows and the request time all end there. The extra
millisecond keeps actions at exactly ``t - d`` out, the labelled action itself
among them at ``d = 0`` (and any other action logged in the same instant,
whose order relative to the row is unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, OnDemandFeatureView, ValueType
from feast.types import Array, Float32, Int64

from feast_pinot import Interests, action_history, action_log, windowed_action_features
from feast_pinot.client import log_spec, with_request_ts
from feast_pinot.errors import ReplayError
from feast_pinot.offline.parts import write_action_parts
from feast_pinot.replay.data import ReplayData

__all__ = ["FAMILIES", "FeatureSettings", "ReplayRepo", "build_repo"]

FAMILIES = ("windows", "decay", "interests", "seen")
LOG, OBJECTS, PREFIX = "replay_actions", "replay_objects", "o:"
_YAML = """project: replay
provider: local
registry: data/registry.db
online_store:
  type: feast_pinot.online.embedded.EmbeddedOnlineStore
  path: data/online.db
offline_store:
  type: feast_pinot.offline.ActionLogOfflineStore
entity_key_serialization_version: 3
"""
_DAY = timedelta(days=1)
_KNOWN_SINCE_MS = 86_400_000  # 1970-01-02: the objects' embeddings hold for any time asked


@dataclass(frozen=True)
class FeatureSettings:
    """What the replay's windowed views declare (see docs/configuration.md for each family)."""

    windows: Mapping[str, timedelta] = field(default_factory=lambda: {
        "1h": timedelta(hours=1), "1d": _DAY, "7d": 7 * _DAY, "30d": 30 * _DAY})
    half_lives: Mapping[str, timedelta] = field(default_factory=lambda: {
        "1h": timedelta(hours=1), "1d": _DAY, "7d": 7 * _DAY})
    interests: Interests = field(default_factory=lambda: Interests(k=3, half_life=7 * _DAY))
    seen_windows: Mapping[str, timedelta] = field(default_factory=lambda: {"1d": _DAY, "30d": 30 * _DAY})
    retention: timedelta = 90 * _DAY
    max_actions: int = 200

    def __post_init__(self) -> None:
        longest = max([*self.windows.values(), *self.seen_windows.values()])
        if longest > self.retention:
            raise ReplayError(f"retention {self.retention} is shorter than the longest window {longest}")


@dataclass(frozen=True)
class ReplayRepo:
    """The applied repo, with the integer keys the interactions were given."""

    store: FeatureStore
    data: ReplayData
    actor_ids: np.ndarray  # per interaction row
    object_ids: np.ndarray  # per interaction row
    features: Mapping[str, tuple[str, ...]]  # family -> its scalar output columns (full names)
    dim: int

    def frame_at(self, delay_ms: int) -> pd.DataFrame:
        """Every labelled row's features as of ``t - delay_ms - 1``, in the labelled rows' order.

        Columns: each family's scalar outputs (``replay_{family}__{feature}``) and the
        candidate object's embedding as ``object_emb_{i}``. A negative delay asks
        about the future: only the leakage test does that, to prove a planted future
        signal would be seen if the cut-off were wrong.
        """
        rows = self.data.labelled.index.to_numpy()
        asked = self.data.interactions["ts_ms"].to_numpy()[rows] - delay_ms - 1
        entity_df = with_request_ts(pd.DataFrame({
            "actor_id": self.actor_ids[rows],
            "object_id": self.object_ids[rows],
            "event_timestamp": pd.to_datetime(asked, unit="ms", utc=True),
        }))
        refs = [f"{OBJECTS}:embedding"] + [
            ref.replace("__", ":", 1) for family in FAMILIES for ref in self.features[family]]
        got = self.store.get_historical_features(entity_df=entity_df, features=refs,
                                                 full_feature_names=True).to_df()
        if len(got) != len(rows):
            raise ReplayError(f"get_historical_features returned {len(got)} rows for {len(rows)} asked")
        columns = {name: got[name].to_numpy(dtype=np.float64) for family in FAMILIES
                   for name in self.features[family]}
        vectors = got[f"{OBJECTS}__embedding"]
        if vectors.isna().any():
            raise ReplayError(f"{int(vectors.isna().sum())} row(s) got no object embedding")
        candidate = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
        columns |= {f"object_emb_{i}": candidate[:, i] for i in range(self.dim)}
        return pd.DataFrame(columns)


def _object_view(object_entity: Entity) -> FeatureView:
    return FeatureView(
        name=OBJECTS, entities=[object_entity], ttl=timedelta(days=365 * 100),
        schema=[Field(name="object_id", dtype=Int64), Field(name="embedding", dtype=Array(Float32))],
        source=FileSource(name=f"{OBJECTS}_source", path="data/objects.parquet", timestamp_field="event_timestamp"),
    )


def _declarations(data: ReplayData, settings: FeatureSettings) -> tuple[list[Any], dict[str, OnDemandFeatureView]]:
    actor = Entity(name="actor", join_keys=["actor_id"], value_type=ValueType.INT64)
    obj = Entity(name="object", join_keys=["object_id"], value_type=ValueType.INT64)
    objects = _object_view(obj)
    log = action_log(LOG, actor, data.verbs, "data/actions", embedding_dim=data.embeddings.shape[1],
                     retention=settings.retention, max_actions=settings.max_actions,
                     future_tolerance=timedelta(0))
    history = action_history("replay_history", log)
    candidate = objects[["embedding"]]
    families = {
        "windows": windowed_action_features("replay_windows", history, settings.windows, candidate=candidate),
        "decay": windowed_action_features("replay_decay", history, half_lives=settings.half_lives,
                                          candidate=candidate),
        "interests": windowed_action_features("replay_interests", history, interests=settings.interests,
                                              candidate=candidate),
        "seen": windowed_action_features("replay_seen", history, seen_windows=settings.seen_windows,
                                         candidate=candidate, object_prefix=PREFIX),
    }
    return [actor, obj, objects, log, history, *families.values()], families


def _scalar_outputs(view: OnDemandFeatureView) -> tuple[str, ...]:
    """The view's outputs that are numbers (vectors are left to the similarities)."""
    return tuple(f"{view.name}__{f.name}" for f in view.features if not str(f.dtype).startswith("Array"))


def build_repo(root: Path, data: ReplayData, settings: FeatureSettings) -> ReplayRepo:
    """Declare and apply the replay's repo under ``root`` and write the interactions as its action log."""
    interests_verbs = settings.interests.verbs or ()
    unknown = sorted(set(interests_verbs) - set(data.verbs))
    if unknown:
        raise ReplayError(f"interest verbs {unknown} do not occur in the interactions (verbs: {list(data.verbs)})")
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(_YAML)
    frame = data.interactions
    object_ids = pd.Index(data.objects).get_indexer(frame["object"]).astype(np.int64)
    actors = tuple(sorted(set(frame["actor"])))
    actor_ids = pd.Index(actors).get_indexer(frame["actor"]).astype(np.int64)
    pd.DataFrame({
        "object_id": np.arange(len(data.objects), dtype=np.int64),
        "embedding": list(data.embeddings),
        # known before anything happens, however long the delay asked
        "event_timestamp": pd.to_datetime([_KNOWN_SINCE_MS] * len(data.objects), unit="ms", utc=True),
    }).to_parquet(root / "data" / "objects.parquet", index=False)
    declared, families = _declarations(data, settings)
    store = FeatureStore(repo_path=str(root))
    store.apply(declared)
    _write_log(store, str(root / "data" / "actions"), frame, actor_ids, object_ids, data.embeddings)
    features = {family: _scalar_outputs(view) for family, view in families.items()}
    return ReplayRepo(store, data, actor_ids, object_ids, features, data.embeddings.shape[1])


def _write_log(store: FeatureStore, root: str, frame: pd.DataFrame, actor_ids: np.ndarray,
               object_ids: np.ndarray, embeddings: np.ndarray) -> None:
    dim = embeddings.shape[1]
    flat = embeddings[object_ids].reshape(-1)
    table = pa.table({
        "actor_id": pa.array(actor_ids, pa.int64()),
        "action_id": pa.array([f"r{i}" for i in range(len(frame))]),
        "verb": pa.array(frame["verb"].tolist()),
        "object": pa.array([f"{PREFIX}{i}" for i in object_ids]),
        "attributes": pa.nulls(len(frame), pa.string()),
        "event_timestamp": pa.array(frame["ts_ms"].to_numpy(), pa.timestamp("ms", tz="UTC")),
        "embedding": pa.ListArray.from_arrays(np.arange(0, len(flat) + 1, dim, dtype=np.int32), flat),
    })
    write_action_parts(root, table, log_spec(store, LOG))
