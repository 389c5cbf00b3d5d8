"""Ranking: several members, each with many candidates, in one call.

Rows are shuffled, and some rows of a member end their windows earlier than
the others (another ``request_ts``). Every value must equal, exactly, what the
same row gives on its own and what Feast's generic on-demand path gives (the
per-row computation), and match an independent numpy computation.
"""

from __future__ import annotations

import random
import subprocess
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore
from feast.infra.online_stores.online_store import OnlineStore
from feast.online_response import OnlineResponse

from demo.synthetic import Scenario, actions, job_embeddings
from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import frozen, now_ms
from tests.integration.conftest import FEAST_CLI, make_repo
from tests.integration.test_feast_workflow import _free_port, _post, _wait_healthy

HOUR = 3_600_000
# Relative to the wall clock, because feast serve reads histories as of its own
# now; no action lies within an hour of a retention edge while the module runs.
NOW = now_ms()
SCENARIO = Scenario(start_ms=NOW - 94 * HOUR, hours=93, members=6, jobs=80, actions_per_member_hour=1.5)
WINDOWS = {"1h": HOUR, "24h": 24 * HOUR, "96h": 96 * HOUR}
VERBS = ("job-apply", "job-dismiss")
MISSING_JOB = 10_000  # no job_attributes row: similarity 0
UNKNOWN_MEMBER = 999_999
VIEWS = ("member_job_windows", "member_job_windows_joined")


def _names(kinds: tuple[str, ...] = ("count", "mean_emb", "sim")) -> list[str]:
    return [f"{v.replace('-', '_')}_{kind}_{w}" for v in VERBS for w in WINDOWS for kind in kinds]


FEATURES = [f"{view}:{name}" for view in VIEWS for name in _names()] + ["member_profile:industry"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    store = make_repo(tmp_path_factory.mktemp("ranking") / "repo", SCENARIO)
    raw = actions(SCENARIO)
    with frozen(NOW):
        push_actions(store, "member_actions", raw)
        push_actions(store, "member_actions_light",
                     [{k: v for k, v in a.items() if k != "objectAttributes"} for a in raw])
    return store


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    rng = random.Random(13)
    out = []
    for member in [*range(1, SCENARIO.members + 1), UNKNOWN_MEMBER]:
        jobs = [*rng.sample(range(SCENARIO.jobs), 25), MISSING_JOB, 3, 3]  # a repeated candidate too
        for job in jobs:
            earlier = member % 2 == 0 and rng.random() < 0.3  # some rows of a member end 3 h earlier
            out.append({"member_id": member, "job_id": job, "request_ts": NOW - (3 * HOUR if earlier else 0)})
    rng.shuffle(out)
    return out


def _read(store: FeatureStore, rows: list[dict[str, Any]], features: Any = FEATURES) -> dict[str, list]:
    with frozen(NOW):
        return store.get_online_features(features=features, entity_rows=rows, full_feature_names=True).to_dict()


def _feast_generic(store: FeatureStore, rows: list[dict[str, Any]]) -> dict[str, list]:
    """Feast's own OnlineStore.get_online_features: the ODFV body run on each row."""
    online = store._get_provider().online_store
    with frozen(NOW):
        response = OnlineStore.get_online_features(
            online, store.config, FEATURES, rows, store.registry, store.project, full_feature_names=True)
    return response.to_dict()


def expected(member: int, request_ts: int, job: int) -> dict[str, Any]:
    """Straight from the raw actions: history as of NOW (retention, cap 200), windows ending at request_ts."""
    _, job_emb = job_embeddings(SCENARIO)
    mine = [a for a in actions(SCENARIO) if a["actor"] == member and NOW - 96 * HOUR < a["timestamp"] <= NOW]
    mine = sorted(mine, key=lambda a: (-a["timestamp"], a["action_id"]))[:200]
    cand = job_emb[job].astype(np.float64) if job < SCENARIO.jobs else np.zeros(SCENARIO.dim)
    out: dict[str, Any] = {}
    for verb in VERBS:
        for label, length in WINDOWS.items():
            hits = [a for a in mine if a["verb"] == verb and request_ts - length < a["timestamp"] <= request_ts]
            vecs = np.array([np.float32(a["objectAttributes"]["embedding"]) for a in hits], dtype=np.float64)
            mean = vecs.mean(axis=0) if hits else np.zeros(SCENARIO.dim)
            norm = np.linalg.norm(mean) * np.linalg.norm(cand)
            stem = f"{verb.replace('-', '_')}_%s_{label}"
            out[stem % "count"] = len(hits)
            out[stem % "mean_emb"] = mean
            out[stem % "sim"] = float(cand @ mean / norm) if norm else 0.0
    return out


def test_batched_rows_match_numpy(store: FeatureStore, rows: list[dict[str, Any]]) -> None:
    got = _read(store, rows)
    assert got["member_id"] == [r["member_id"] for r in rows] and got["job_id"] == [r["job_id"] for r in rows]
    assert len({(r["member_id"], r["request_ts"]) for r in rows}) > SCENARIO.members + 1, "shared and split members"
    nonzero = 0
    for i, row in enumerate(rows):
        want = expected(row["member_id"], row["request_ts"], row["job_id"])
        for view in VIEWS:
            for name, value in want.items():
                actual = got[f"{view}__{name}"][i]
                context = f"row {i} {row} {view}__{name}"
                if "_count_" in name:
                    assert actual == value, context
                    nonzero += value > 0
                else:
                    assert np.max(np.abs(np.asarray(actual, dtype=np.float64) - value)) <= 1e-6, context
    assert nonzero > 100


def test_batched_equals_per_row_calls_and_feast_generic_path(store: FeatureStore, rows: list[dict[str, Any]]) -> None:
    got = _read(store, rows)
    generic = _feast_generic(store, rows)
    assert got == generic
    with frozen(NOW):
        response = store.get_online_features(features=FEATURES, entity_rows=rows, full_feature_names=True)
    # the plain-value shortcut of to_dict gives what Feast's proto conversion gives
    assert response.to_dict(include_event_timestamps=True) == OnlineResponse.to_dict(response, True)
    for i in range(0, len(rows), 7):
        alone = _read(store, [rows[i]])
        assert {k: v[0] for k, v in alone.items()} == {k: v[i] for k, v in got.items()}, f"row {i}"


def test_services_split_candidate_and_member_level(store: FeatureStore, rows: list[dict[str, Any]]) -> None:
    ranking = store.get_feature_service("job_candidates_v1")
    got = _read(store, rows, ranking)
    names = _names(("sim", "count"))
    assert sorted(got) == sorted(["member_id", "job_id", "member_profile__industry", "member_profile__seniority",
                                  "member_profile__years_experience"]
                                 + [f"member_job_windows__{n}" for n in names])
    full = _read(store, rows)
    for name in names:
        assert got[f"member_job_windows__{name}"] == full[f"member_job_windows__{name}"]
    members = sorted({(r["member_id"], r["request_ts"]) for r in rows})
    context = _read(store, [{"member_id": m, "request_ts": t} for m, t in members],
                    store.get_feature_service("member_context_v1"))
    assert sorted(context) == sorted(["member_id"] + [f"member_windows__{n}" for n in _names(("mean_emb",))])
    for i, (member, ts) in enumerate(members):
        row = next(j for j, r in enumerate(rows) if (r["member_id"], r["request_ts"]) == (member, ts))
        for name in _names(("mean_emb",)):
            assert context[f"member_windows__{name}"][i] == full[f"member_job_windows__{name}"][row]


def test_training_rows_sharing_an_instant_match_online(store: FeatureStore, rows: list[dict[str, Any]]) -> None:
    entity_df = pd.DataFrame({
        "member_id": [r["member_id"] for r in rows], "job_id": [r["job_id"] for r in rows],
        "event_timestamp": pd.Timestamp(NOW, unit="ms", tz="UTC"),
    })
    entity_df = with_request_ts(entity_df).assign(request_ts=[r["request_ts"] for r in rows])
    offline = store.get_historical_features(
        entity_df=entity_df, features=FEATURES, full_feature_names=True).to_df()
    online = _read(store, rows)
    for column, values in online.items():
        if "_windows" not in column:
            continue
        for i, value in enumerate(values):
            if isinstance(value, int):
                assert offline[column].iloc[i] == value, f"{column} row {i}"
            else:
                diff = np.max(np.abs(np.asarray(offline[column].iloc[i], dtype=np.float64) - np.asarray(value)))
                assert diff <= 1e-6, f"{column} row {i}"


def test_feast_serve_ranks_many_candidates_like_the_sdk(store: FeatureStore, rows: list[dict[str, Any]]) -> None:
    port = _free_port()
    proc = subprocess.Popen([FEAST_CLI, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                            cwd=store.repo_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        body = {"feature_service": "job_candidates_v1", "full_feature_names": True,
                "entities": {k: [r[k] for r in rows] for k in ("member_id", "job_id", "request_ts")}}
        got = _post(url + "/get-online-features", body)
        served = {n: r["values"] for n, r in zip(got["metadata"]["feature_names"], got["results"])}
        with frozen(NOW):
            sdk = store.get_online_features(features=store.get_feature_service("job_candidates_v1"),
                                            entity_rows=rows, full_feature_names=True).to_dict()
        assert set(served) == set(sdk)
        for name, values in sdk.items():
            assert served[name] == values, name
        assert sum(served["member_job_windows__job_apply_count_96h"]) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
