"""A feature repo whose ordinary views live in a delegate offline store, trained with windowed features.

The same repo on every delegate (Feast's DuckDB, Spark and PostgreSQL stores):
two ordinary views kept by the delegate (``member_profile``, two versions per
member, and ``job_attributes``, the candidate embedding), a Parquet view
(``job_files``, read by DuckDB whatever the delegate), and two action logs
with a windowed view each: ``acts`` stores embeddings, ``light`` joins them
from ``job_files`` when read (as of each row's time offline). :func:`run_delegate_repo` applies it,
pushes the actions, materializes, reads the online store at several instants,
and builds the training rows of the same instants (shuffled, some repeated);
:func:`check_training_rows` asserts them against the online values and an
independent computation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from feast import FeatureStore

from feast_pinot import push_actions
from feast_pinot.clock import frozen
from tests.integration.conftest import run_feast
from tests.reference import Act, Declared, assert_matches, reference

HOUR = 3_600_000
START = 1_767_571_200_000  # 2026-01-05T00:00Z
VERBS = ("a", "b")
DIM = 2
DECLARED = Declared(verbs=VERBS, dim=DIM, windows={"1h": HOUR, "96h": 96 * HOUR})
MEMBERS = (1, 2, 3, 4, 5, 6)
UNKNOWN_MEMBER = 99
NEW_PROFILE_MEMBER = 6  # has only the second profile version: no profile before it
PROFILE_V1_MS = START - 10 * 24 * HOUR
PROFILE_V2_MS = START + 30 * HOUR
INSTANTS = tuple(START + h * HOUR for h in (2, 9, 20, 29, 31, 40, 55, 71))
JOBS = 10

FEATURES = '''"""The delegate test repo: ordinary views in the delegate, an action log with windowed features."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64

from feast_pinot import ObjectAttribute, action_history, action_log, windowed_action_features
{imports}

WINDOWS = {{"1h": timedelta(hours=1), "96h": timedelta(hours=96)}}

member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
job = Entity(name="job", join_keys=["job_id"], value_type=ValueType.INT64)
member_profile = FeatureView(
    name="member_profile", entities=[member], ttl=timedelta(days=365),
    schema=[Field(name="member_id", dtype=Int64), Field(name="seniority", dtype=Int64),
            Field(name="score", dtype=Float32)],
    source={profile_source},
)
job_attributes = FeatureView(
    name="job_attributes", entities=[job], ttl=timedelta(days=3650),
    schema=[Field(name="job_id", dtype=Int64), Field(name="embedding", dtype=Array(Float32))],
    source={jobs_source},
)
job_files = FeatureView(
    name="job_files", entities=[job], ttl=timedelta(days=3650),
    schema=[Field(name="job_id", dtype=Int64), Field(name="embedding", dtype=Array(Float32))],
    source=FileSource(name="job_files", path="data/job_files.parquet", timestamp_field="event_timestamp"),
)
acts = action_log("acts", member, ("a", "b"), "data/acts", embedding_dim=2, retention=timedelta(hours=96))
acts_hist = action_history("acts_hist", acts)
acts_win = windowed_action_features("acts_win", acts_hist, WINDOWS, candidate=job_attributes[["embedding"]])
light = action_log("light", member, ("a", "b"), "data/light", retention=timedelta(hours=96))
light_hist = action_history("light_hist", light, attribute=ObjectAttribute(
    job_files, "embedding", dim=2, object_prefix="job:"))
light_win = windowed_action_features("light_win", light_hist, WINDOWS, candidate=job_attributes[["embedding"]])
'''


@dataclass(frozen=True)
class Delegate:
    """How one delegate keeps the ordinary views' rows."""

    block: dict[str, Any]  # offline_store.delegate in feature_store.yaml
    imports: str  # import lines of the features module
    profile_source: str  # Python expression: member_profile's source
    jobs_source: str  # Python expression: job_attributes' source
    write: Callable[[Path, str, pd.DataFrame], None]  # (repo, table name, rows): where the sources read them
    cli: bool = True  # feast apply/materialize by the CLI (else the SDK, in this process: a Spark session)


@dataclass
class Trained:
    store: FeatureStore
    raw: list[dict[str, Any]]  # every distinct action pushed
    profiles: pd.DataFrame
    jobs: pd.DataFrame
    online: dict[tuple[int, int], dict[str, Any]]  # (member, instant) -> the online values read then
    entity_df: pd.DataFrame
    offline: pd.DataFrame


def job_embeddings() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(JOBS, DIM)).astype(np.float32)


def profiles_frame() -> pd.DataFrame:
    rows = [(m, 1, m, 0.5 + m, PROFILE_V1_MS) for m in MEMBERS if m != NEW_PROFILE_MEMBER]
    rows += [(m, 2, 10 * m, 1.25 * m, PROFILE_V2_MS) for m in MEMBERS]
    frame = pd.DataFrame(rows, columns=["member_id", "version", "seniority", "score", "ms"])
    frame["event_timestamp"] = pd.to_datetime(frame.pop("ms"), unit="ms", utc=True)
    return frame.drop(columns="version").astype({"score": np.float32})


def jobs_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "job_id": np.arange(JOBS, dtype=np.int64),
        "embedding": [row.tolist() for row in job_embeddings()],
        "event_timestamp": pd.to_datetime([START - 30 * 24 * HOUR] * JOBS, unit="ms", utc=True),
    })


def actions() -> list[dict[str, Any]]:
    rng = random.Random(3)
    emb = job_embeddings()
    out = []
    for member in MEMBERS[:-1]:  # the last member has a profile and no action
        for i in range(30):
            job = rng.randrange(JOBS)
            ts = START + int(rng.uniform(0, 71) * HOUR)
            out.append({"action_id": f"m{member}-{i}", "actor": member, "verb": rng.choice(VERBS),
                        "object": f"job:{job}", "timestamp": ts,
                        "objectAttributes": {"embedding": emb[job].tolist()}})
    # on the edges of the 1h window of an instant
    out += [{"action_id": "edge-out", "actor": 1, "verb": "a", "object": "job:1", "timestamp": INSTANTS[3] - HOUR,
             "objectAttributes": {"embedding": emb[1].tolist()}},
            {"action_id": "edge-in", "actor": 1, "verb": "a", "object": "job:2", "timestamp": INSTANTS[3],
             "objectAttributes": {"embedding": emb[2].tolist()}}]
    return out


WINDOWED_VIEWS = ("acts_win", "light_win")


def features() -> list[str]:
    windowed = [f"{view}:{name}" for view in WINDOWED_VIEWS for name in reference(DECLARED, [], 0)]
    return ["member_profile:seniority", "member_profile:score", "job_attributes:embedding", *windowed]


def write_repo(root: Path, delegate: Delegate) -> None:
    (root / "data").mkdir(parents=True)
    config = {
        "project": "delegated", "provider": "local", "registry": "data/registry.db",
        "online_store": {"type": "feast_pinot.online.embedded.EmbeddedOnlineStore", "path": "data/online.db"},
        "offline_store": {"type": "feast_pinot.offline.ActionLogOfflineStore", "delegate": delegate.block},
        "entity_key_serialization_version": 3,
    }
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "features.py").write_text(FEATURES.format(imports=delegate.imports, profile_source=delegate.profile_source,
                                                      jobs_source=delegate.jobs_source))
    delegate.write(root, "member_profile", profiles_frame())
    delegate.write(root, "job_attributes", jobs_frame())
    jobs_frame().to_parquet(root / "data" / "job_files.parquet", index=False)


def _apply_and_materialize(root: Path, delegate: Delegate) -> FeatureStore:
    end = datetime.fromtimestamp(INSTANTS[-1] / 1000, tz=timezone.utc)
    if delegate.cli:
        run_feast(root, "apply")
        run_feast(root, "materialize", "2000-01-01T00:00:00", end.strftime("%Y-%m-%dT%H:%M:%S"))
        return FeatureStore(repo_path=str(root))
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"delegate_features_{root.name}", root / "features.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    store = FeatureStore(repo_path=str(root))
    store.apply([module.member, module.job, module.member_profile, module.job_attributes, module.job_files,
                 module.acts, module.acts_hist, module.acts_win, module.light, module.light_hist, module.light_win])
    store.materialize(datetime(2000, 1, 1, tzinfo=timezone.utc), end)
    return store


def _read_online(store: FeatureStore, rng: random.Random) -> dict[tuple[int, int], dict[str, Any]]:
    found = {}
    for instant in INSTANTS:
        members = [*MEMBERS, UNKNOWN_MEMBER]
        rows = [{"member_id": m, "job_id": rng.randrange(JOBS), "request_ts": instant} for m in members]
        with frozen(instant):
            got = store.get_online_features(features=features(), entity_rows=rows, full_feature_names=True).to_dict()
        for i, row in enumerate(rows):
            found[(row["member_id"], instant)] = {**row, **{k: got[k][i] for k in got if "__" in k}}
    return found


def _entity_df(online: dict[tuple[int, int], dict[str, Any]], rng: random.Random) -> pd.DataFrame:
    keys = list(online)
    keys += rng.sample(keys, k=12)  # repeated rows
    rng.shuffle(keys)
    return pd.DataFrame({
        "member_id": [m for m, _ in keys],
        "job_id": [online[k]["job_id"] for k in keys],
        "event_timestamp": pd.to_datetime([t for _, t in keys], unit="ms", utc=True),
        "request_ts": [t for _, t in keys],
    })


def run_delegate_repo(root: Path, delegate: Delegate) -> Trained:
    """Apply, push, materialize, read online at every instant, then build the same rows offline."""
    write_repo(root, delegate)
    store = _apply_and_materialize(root, delegate)
    raw = actions()
    with frozen(INSTANTS[-1]):
        push_actions(store, "acts", raw + raw[:7])  # seven replays of an action_id: kept once
        push_actions(store, "light", [{k: v for k, v in a.items() if k != "objectAttributes"} for a in raw])
    rng = random.Random(7)
    online = _read_online(store, rng)
    entity_df = _entity_df(online, rng)
    offline = store.get_historical_features(entity_df=entity_df, features=features(), full_feature_names=True).to_df()
    return Trained(store, raw, profiles_frame(), jobs_frame(), online, entity_df, offline)


def expected_profile(profiles: pd.DataFrame, member: int, instant: int) -> dict[str, Any] | None:
    """The member's profile as of ``instant``: the newest version not after it (independent of any store)."""
    times = profiles["event_timestamp"].map(lambda t: int(t.timestamp() * 1000))
    mine = profiles[(profiles["member_id"] == member) & (times <= instant)]
    if mine.empty:
        return None
    newest = mine.loc[times[mine.index].idxmax()]
    return {"seniority": int(newest["seniority"]), "score": float(newest["score"])}


def expected_windows(trained: Trained, member: int, instant: int, request_ts: int, job: int) -> dict[str, Any]:
    """tests/reference.py on the member's actions as of the row's time."""
    history = [Act(a["action_id"], a["timestamp"], a["verb"], a["object"],
                   np.float32(a["objectAttributes"]["embedding"]).tolist())
               for a in trained.raw if a["actor"] == member and instant - 96 * HOUR < a["timestamp"] <= instant]
    history.sort(key=lambda a: (-a.ts, a.action_id))
    return reference(DECLARED, history, request_ts, job_embeddings()[job].astype(np.float64).tolist(), job)


def _float32(values: Any) -> list[float]:
    return np.asarray(values, dtype=np.float32).tolist()


def check_training_rows(trained: Trained) -> None:
    """Row order kept (repeats included); batch values as of each row's time; windowed values == online == reference."""
    off, entity_df = trained.offline, trained.entity_df
    assert len(off) == len(entity_df) == len(trained.online) + 12
    for column in ("member_id", "job_id", "request_ts"):
        assert off[column].tolist() == entity_df[column].tolist(), column
    assert (pd.to_datetime(off["event_timestamp"], utc=True) == entity_df["event_timestamp"]).all()
    windowed = list(reference(DECLARED, [], 0))
    with_profile = 0
    for i in range(len(off)):
        row = off.iloc[i]
        member, instant = int(row["member_id"]), int(row["request_ts"])
        online = trained.online[(member, instant)]
        context = f"row {i} member={member} t={instant}"
        profile = expected_profile(trained.profiles, member, instant)
        if profile is None:
            assert pd.isna(row["member_profile__seniority"]) and pd.isna(row["member_profile__score"]), context
        else:
            with_profile += 1
            assert int(row["member_profile__seniority"]) == profile["seniority"], context
            assert abs(float(row["member_profile__score"]) - profile["score"]) <= 1e-6, context
            if instant >= PROFILE_V2_MS:  # online holds the newest version
                assert int(row["member_profile__seniority"]) == online["member_profile__seniority"], context
        job_emb = job_embeddings()[int(row["job_id"])].tolist()
        # compared as the declared Array(Float32): Feast 0.65's PostgreSQL store hands float32 values back
        # printed and re-read as float64 (-0.083696194 for -0.08369619399309158), the same float32
        assert _float32(row["job_attributes__embedding"]) == _float32(online["job_attributes__embedding"]) \
            == _float32(job_emb), context
        want = expected_windows(trained, member, instant, instant, int(row["job_id"]))
        for view in WINDOWED_VIEWS:  # light's actions are acts' without embeddings: joined, the same values
            assert_matches(row, want, f"offline {view} {context}", f"{view}__")
            assert_matches(row, {n: online[f"{view}__{n}"] for n in windowed}, f"offline vs online {view} {context}",
                           f"{view}__")
    assert with_profile >= len(off) // 2
    counts = off["acts_win__a_count_96h"] + off["acts_win__b_count_96h"]
    assert (counts > 0).sum() >= len(off) // 2, "most rows have actions in the window"
