"""The action log on S3 (a real S3Proxy of the session): the same training data as on a local disk.

Two repos declare the same views; one keeps its logs in a local folder, the
other at ``s3://`` roots. The same actions are pushed to both offline
(``push_actions`` and ``store.push``, a duplicate ``action_id`` with other
content in the second push); ``get_historical_features`` through the DuckDB
engine must give equal frames, value for value, for a stored-embedding log
(the engine's sorted-log loader) and for a read-time-joined one (the history
range join).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot import (
    Interests,
    ObjectAttribute,
    action_history,
    action_log,
    clock,
    push_actions,
    windowed_action_features,
)
from feast_pinot.offline.parts import log_parts, write_action_parts
from feast_pinot.specs import HISTORY_FEATURES, ActionLogSpec, WindowedFeaturesSpec, spec_of
from feast_pinot.windows import output_names
from tests.fixtures.s3 import S3Server
from tests.integration.mini_repo import YAML, jobs_entities

HOUR = 3_600_000
DIM = 2
VERBS = ("a", "b")
JOBS = 6


def _actions(now: int, rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    ts = now - rng.integers(1, 40 * HOUR, n) // 60_000 * 60_000  # whole minutes: ties in time, two or three dates
    return pd.DataFrame({
        "member_id": rng.integers(1, 6, n), "action_id": [f"{prefix}{i}" for i in range(n)],
        "verb": rng.choice(VERBS, n), "object": [f"job:{j}" for j in rng.integers(0, JOBS, n)],
        "attributes": ["{}"] * n, "event_timestamp": pd.to_datetime(ts, unit="ms", utc=True),
        "embedding": [v.astype(np.float32).tolist() for v in rng.normal(size=(n, DIM))],
    })


def _repo(root: Path, logs: dict[str, str], now: int) -> FeatureStore:
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(YAML)
    rng = np.random.default_rng(3)
    pd.DataFrame({
        "job_id": np.arange(JOBS, dtype=np.int64),
        "embedding": [rng.normal(size=DIM).astype(np.float32).tolist() for _ in range(JOBS)],
        "event_timestamp": pd.Timestamp(now - 100 * HOUR, unit="ms", tz="UTC"),
    }).to_parquet(root / "data" / "jobs.parquet", index=False)
    member, job, jobs = jobs_entities()
    acts = action_log("acts", member, VERBS, logs["acts"], embedding_dim=DIM, retention=timedelta(hours=48))
    light = action_log("light", member, VERBS, logs["light"], retention=timedelta(hours=48))
    acts_hist = action_history("acts_hist", acts, max_actions=12)
    light_hist = action_history("light_hist", light, attribute=ObjectAttribute(jobs, "embedding", dim=DIM,
                                                                               object_prefix="job:"))
    acts_win = windowed_action_features(
        "acts_win", acts_hist, {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}, candidate=jobs[["embedding"]],
        half_lives={"6h": timedelta(hours=6)}, interests=Interests(k=2, half_life=timedelta(hours=3)),
        seen_windows={"24h": timedelta(hours=24)}, object_prefix="job:")
    light_win = windowed_action_features("light_win", light_hist, {"24h": timedelta(hours=24)})
    store = FeatureStore(repo_path=str(root))
    store.apply([member, job, jobs, acts, light, acts_hist, light_hist, acts_win, light_win])
    return store


def _push(store: FeatureStore, first: pd.DataFrame, second: pd.DataFrame) -> None:
    for log in ("acts", "light"):
        frame = first if log == "acts" else first.drop(columns=["embedding"])
        assert push_actions(store, log, frame, to=PushMode.OFFLINE) == len(frame)
        later = second if log == "acts" else second.drop(columns=["embedding"])
        store.push(f"{log}_push", later, to=PushMode.OFFLINE)


def _refs(store: FeatureStore) -> list[str]:
    refs = [f"{hist}:{f}" for hist in ("acts_hist", "light_hist") for f in HISTORY_FEATURES
            if not (hist == "light_hist" and f == "action_embeddings")]
    for view in ("acts_win", "light_win"):
        spec = spec_of(store.get_on_demand_feature_view(view), WindowedFeaturesSpec)
        assert spec is not None
        refs += [f"{view}:{name}" for name in output_names(spec)]
    return refs


def _entities(now: int, rng: np.random.Generator) -> pd.DataFrame:
    n = 60
    t = now - rng.integers(0, 45 * HOUR, n)
    return pd.DataFrame({
        "member_id": rng.integers(1, 7, n), "job_id": pd.array(rng.integers(0, JOBS, n), dtype="Int64"),
        "event_timestamp": pd.to_datetime(t, unit="ms", utc=True), "request_ts": t,
    })


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> dict[str, Any]:
    now = clock.now_ms()
    rng = np.random.default_rng(11)
    first, second = _actions(now, rng, 300, "p"), _actions(now, rng, 200, "q")
    second.loc[:9, "action_id"] = first["action_id"][:10].to_numpy()  # later copies: the first written counts
    prefix = f"training-{rng.integers(1 << 30)}"
    env = pytest.MonkeyPatch()
    for key, value in s3_server.client_env().items():
        env.setenv(key, value)
    try:
        local = _repo(tmp_path_factory.mktemp("local") / "repo", {"acts": "data/acts", "light": "data/light"}, now)
        on_s3 = _repo(tmp_path_factory.mktemp("s3") / "repo",
                      {log: f"s3://{s3_server.bucket}/{prefix}/{log}" for log in ("acts", "light")}, now)
        for store in (local, on_s3):
            _push(store, first, second)
        yield {"local": local, "s3": on_s3, "now": now, "rng": rng, "prefix": prefix, "server": s3_server}
    finally:
        env.undo()


def test_the_parts_are_objects_in_the_bucket(pushed: dict[str, Any]) -> None:
    server: S3Server = pushed["server"]
    local = log_parts(str(Path(pushed["local"].repo_path) / "data" / "acts"))
    objects = server.filesystem().get_file_info(pafs.FileSelector(f"{server.bucket}/{pushed['prefix']}/acts",
                                                                  recursive=True))
    names = sorted(o.path.rsplit("/", 1)[-1] for o in objects if o.type == pafs.FileType.File)
    assert len(names) == len(local.paths) >= 4  # two pushes over two or more dates
    assert all(name.startswith("part-") and name.endswith(".parquet") for name in names)


def test_training_data_from_s3_equals_local(pushed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in pushed["server"].client_env().items():
        monkeypatch.setenv(key, value)
    entities = _entities(pushed["now"], np.random.default_rng(5))
    refs = _refs(pushed["local"])
    local = pushed["local"].get_historical_features(entity_df=entities, features=refs,
                                                    full_feature_names=True).to_df()
    on_s3 = pushed["s3"].get_historical_features(entity_df=entities, features=refs, full_feature_names=True).to_df()
    pd.testing.assert_frame_equal(on_s3, local, check_exact=True)
    assert local["acts_win__a_count_24h"].sum() > 0 and local["light_win__b_count_24h"].sum() > 0
    # the first push's copies of the duplicated ids count: none of the second push's first ten rows is read
    assert len(local) == len(entities)


_HALF_AN_UPLOAD = """
import sys, time
from feast_pinot.offline.storage import open_log
store = open_log(sys.argv[1])
out = store.fs.open_output_stream(store.path("date=2026-12-06", "part-1.parquet"))
out.write(b"x" * (12 << 20))  # past pyarrow's first multipart part: an upload in progress
out.flush()
print("half written", flush=True)
time.sleep(600)
"""


def test_a_writer_killed_mid_upload_leaves_no_object(s3_log: str, s3_server: S3Server) -> None:
    """Parts are uploaded in one piece (``LogStore.write_whole``): S3 shows an object only once its upload
    completes, so a writer killed mid-upload leaves nothing a reader lists."""
    child = subprocess.Popen([sys.executable, "-c", _HALF_AN_UPLOAD, s3_log], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "half written\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
    assert log_parts(s3_log).paths == []
    prefix = s3_log.removeprefix("s3://")
    listed = s3_server.filesystem().get_file_info(pafs.FileSelector(prefix, allow_not_found=True, recursive=True))
    assert [f.path for f in listed if f.type == pafs.FileType.File] == []


def test_the_endpoint_can_ride_in_the_uri(s3_log: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """``?endpoint_override=…&scheme=http``: the log's own path names the server; credentials stay in the env."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    key = s3_log.removeprefix(f"s3://{s3_server.bucket}/")
    uri = s3_server.uri(key)
    spec = ActionLogSpec(name="acts", actor_join_key="member_id", actor_is_int=True, verbs=VERBS,
                         retention_ms=48 * HOUR, max_actions=200, embedding_dim=DIM, future_tolerance_ms=300_000,
                         path=uri)
    frame = _actions(clock.now_ms(), np.random.default_rng(2), 30, "u")
    written = write_action_parts(uri, pa.Table.from_pandas(frame, preserve_index=False), spec)
    assert log_parts(uri).paths == written and all(p.startswith(f"{s3_server.bucket}/{key}/date=") for p in written)
    listed = s3_server.filesystem().get_file_info(pafs.FileSelector(f"{s3_server.bucket}/{key}", recursive=True))
    assert sorted(f.path for f in listed if f.type == pafs.FileType.File) == sorted(written)
