"""The example repo on PinotOnlineStore through Feast's real CLI and APIs, on the real Pinot.

The repo reaches Pinot through the recording proxies (``conftest.py``), so the
test can tell which requests a second ``feast apply`` sent.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from confluent_kafka.admin import AdminClient
from feast import FeatureStore

from demo.synthetic import Scenario, actions, job_embeddings, profiles_frame
from feast_pinot import push_actions
from feast_pinot.clock import frozen, now_ms
from feast_pinot.online.pinot.controller import contains
from tests.fixtures.pinot import PinotEndpoints, pinot_settings
from tests.integration.conftest import FEAST_CLI, make_repo, run_feast
from tests.integration.test_feast_workflow import _free_port, _post, _wait_healthy
from tests.pinot.conftest import Proxied

HOUR, MINUTE = 3_600_000, 60_000
MEMBER = 900  # not in the scenario: only the actions below
VIEWS = ("jobs_member_profile", "jobs_job_attributes", "jobs_member_actions", "jobs_member_actions_light")
NOW = now_ms()
SCENARIO = Scenario(start_ms=NOW - 90 * HOUR, hours=89, members=8, jobs=50, actions_per_member_hour=0.5)
PLANTED = [  # (action_id, verb, job, age)
    ("p-view", "job-view", 5, 10 * MINUTE),
    ("p-apply-1", "job-apply", 1, 30 * MINUTE),
    ("p-apply-2", "job-apply", 2, 2 * HOUR),
    ("p-dismiss", "job-dismiss", 3, 30 * HOUR),
]


def _planted() -> list[dict[str, Any]]:
    _, emb = job_embeddings(SCENARIO)
    return [{"action_id": aid, "actor": MEMBER, "verb": verb, "object": f"job:{job}", "timestamp": NOW - age,
             "objectAttributes": {"embedding": emb[job].tolist()}} for aid, verb, job, age in PLANTED]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, pinot_proxies: Proxied,
          module_pinot_prefix: str) -> FeatureStore:
    settings = pinot_settings(pinot_proxies.endpoints, module_pinot_prefix)
    store = make_repo(tmp_path_factory.mktemp("pinot_store") / "repo", SCENARIO, settings)
    background = actions(SCENARIO)
    with frozen(NOW):
        push_actions(store, "member_actions", background + _planted())
        light = [{k: v for k, v in a.items() if k != "objectAttributes"} for a in background + _planted()]
        push_actions(store, "member_actions_light", light)
    return store


def _prefix(store: FeatureStore) -> str:
    return store.config.online_store.name_prefix


def _controller_state(endpoints: PinotEndpoints, prefix: str) -> dict[str, Any]:
    with httpx.Client(base_url=endpoints.controller_url, timeout=30) as http:
        tables = sorted(t for t in http.get("/tables").json()["tables"] if t.startswith(prefix))
        return {
            "tables": {t: http.get(f"/tables/{t}").json() for t in tables},
            "schemas": {
                s: http.get(f"/schemas/{s}").json() for s in http.get("/schemas").json() if s.startswith(prefix)
            },
        }


def _count(endpoints: PinotEndpoints, table: str) -> int:
    body = httpx.post(f"{endpoints.broker_url}/query/sql", json={"sql": f'SELECT COUNT(*) FROM "{table}"'}).json()
    return body["resultTable"]["rows"][0][0]


def test_apply_creates_the_documented_tables(store: FeatureStore, pinot_endpoints: PinotEndpoints) -> None:
    prefix = _prefix(store)
    state = _controller_state(pinot_endpoints, prefix)
    assert sorted(state["tables"]) == sorted(prefix + v for v in VIEWS)
    log = state["tables"][prefix + "jobs_member_actions"]["REALTIME"]
    segments = {
        "timeColumnName": "timestamp",
        "replication": "1",
        "replicasPerPartition": "1",
        "retentionTimeUnit": "HOURS",
        "retentionTimeValue": "192",
    }
    # Pinot adds its defaults (1.3+ more of them): every key the store set has its value.
    assert contains(log["segmentsConfig"], segments)
    assert contains(log["dedupConfig"], {"dedupEnabled": True, "hashFunction": "NONE"})
    assert log["tableIndexConfig"]["sortedColumn"] == ["actor"]
    stream = log["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
    assert (stream["stream.kafka.topic.name"], stream["stream.kafka.broker.list"]) == (
        prefix + "jobs_member_actions",
        pinot_endpoints.stream_bootstrap,
    )
    profile = state["tables"][prefix + "jobs_member_profile"]["REALTIME"]
    # No comparison column: Pinot compares on the time column, feast_event_ms.
    assert contains(profile, {"upsertConfig": {"mode": "FULL"}, "segmentsConfig": {"timeColumnName": "feast_event_ms"}})
    assert [profile["upsertConfig"].get(k) for k in ("comparisonColumn", "comparisonColumns")] == [None, None]
    columns = {f["name"]: f for f in state["schemas"][prefix + "jobs_job_attributes"]["dimensionFieldSpecs"]}
    assert contains(columns["embedding"], {"name": "embedding", "dataType": "FLOAT", "singleValueField": False})
    assert contains(columns["geo"], {"name": "geo", "dataType": "STRING"})
    assert state["schemas"][prefix + "jobs_member_actions"]["primaryKeyColumns"] == ["action_id"]


def test_second_apply_changes_nothing(
    store: FeatureStore, pinot_endpoints: PinotEndpoints, pinot_proxies: Proxied
) -> None:
    prefix = _prefix(store)
    before = _controller_state(pinot_endpoints, prefix), [_count(pinot_endpoints, prefix + v) for v in VIEWS]
    assert min(before[1]) > 0
    seen = len(pinot_proxies.controller.requests)
    run_feast(Path(store.repo_path), "apply")
    assert (_controller_state(pinot_endpoints, prefix), [_count(pinot_endpoints, prefix + v) for v in VIEWS]) == before
    calls = [f"{r.method} {r.path}" for r in pinot_proxies.controller.since(seen, prefix)]
    assert sorted(calls) == sorted(
        [f"GET /schemas/{prefix}{v}" for v in VIEWS] + [f"GET /tables/{prefix}{v}?type=realtime" for v in VIEWS]
    )


def test_windowed_features_and_histories_are_exact(store: FeatureStore) -> None:
    _, emb = job_embeddings(SCENARIO)
    rows = [{"member_id": MEMBER, "job_id": 7, "request_ts": NOW}, {"member_id": 1, "job_id": 8, "request_ts": NOW}]
    features = [
        f"{view}:{name}"
        for view in ("member_job_windows", "member_job_windows_joined")
        for name in (
            "job_apply_count_1h",
            "job_apply_count_24h",
            "job_apply_mean_emb_24h",
            "job_apply_sim_24h",
            "job_dismiss_count_24h",
            "job_dismiss_count_96h",
        )
    ]
    features += [
        "member_recent_actions:action_ts",
        "member_recent_actions:action_objects",
        "member_profile:industry",
        "member_profile:seniority",
    ]
    with frozen(NOW):
        got = store.get_online_features(features=features, entity_rows=rows, full_feature_names=True).to_dict()
    mean = (emb[1].astype(np.float64) + emb[2]) / 2
    cand = emb[7].astype(np.float64)
    for view in ("member_job_windows", "member_job_windows_joined"):
        assert (got[f"{view}__job_apply_count_1h"][0], got[f"{view}__job_apply_count_24h"][0]) == (1, 2)
        assert (got[f"{view}__job_dismiss_count_24h"][0], got[f"{view}__job_dismiss_count_96h"][0]) == (0, 1)
        np.testing.assert_allclose(got[f"{view}__job_apply_mean_emb_24h"][0], mean, atol=1e-6)
        sim = cand @ mean / (np.linalg.norm(cand) * np.linalg.norm(mean))
        assert got[f"{view}__job_apply_sim_24h"][0] == pytest.approx(sim, abs=1e-6)
    assert got["member_recent_actions__action_ts"][0] == [NOW - age for *_, age in PLANTED]
    assert got["member_recent_actions__action_objects"][0] == [f"job:{job}" for _, _, job, _ in PLANTED]
    profile = profiles_frame(SCENARIO).set_index("member_id")
    assert got["member_profile__industry"] == [None, profile.loc[1, "industry"]]
    assert got["member_profile__seniority"] == [None, int(profile.loc[1, "seniority"])]


def test_async_reads_equal_sync_reads(store: FeatureStore) -> None:
    rows = [{"member_id": m, "job_id": m, "request_ts": NOW} for m in (1, 2, MEMBER, 12345)]
    service = store.get_feature_service("job_ranking_v1")
    assert store._get_provider().async_supported.online.read
    with frozen(NOW):
        sync = store.get_online_features(features=service, entity_rows=rows).to_dict()
        async_ = asyncio.run(store.get_online_features_async(features=service, entity_rows=rows)).to_dict()
    assert async_ == sync
    assert sum(sync["job_apply_count_96h"]) > 2


def test_empty_and_missing_lists_through_feast(store: FeatureStore) -> None:
    """Pinot keeps no empty multi-value column: [] still reads back as [], a missing list as None."""
    jobs = [9001, 9002]  # not in the scenario
    store.write_to_online_store(
        "job_attributes",
        pd.DataFrame(
            {
                "job_id": jobs,
                "embedding": [[], None],
                "geo": ["", None],
                "event_timestamp": pd.Timestamp(NOW - MINUTE, unit="ms", tz="UTC"),
            }
        ),
    )
    got = store.get_online_features(
        features=["job_attributes:embedding", "job_attributes:geo"], entity_rows=[{"job_id": j} for j in jobs]
    ).to_dict()
    assert (got["embedding"], got["geo"]) == ([[], None], ["", None])


def test_feast_serve_reads_pinot(store: FeatureStore) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [FEAST_CLI, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd=store.repo_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        ts = now_ms()
        body = {
            "feature_service": "job_ranking_v1",
            "entities": {"member_id": [MEMBER], "job_id": [7], "request_ts": [ts]},
        }
        got = _post(url + "/get-online-features", body)
        served = {n: r["values"][0] for n, r in zip(got["metadata"]["feature_names"], got["results"])}
        sdk = store.get_online_features(
            features=store.get_feature_service("job_ranking_v1"),
            entity_rows=[{"member_id": MEMBER, "job_id": 7, "request_ts": ts}],
        ).to_dict()
        assert served["job_apply_count_96h"] == sdk["job_apply_count_96h"][0] == 2
        assert served["job_apply_sim_24h"] == pytest.approx(sdk["job_apply_sim_24h"][0], abs=1e-12)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_teardown_removes_tables_schemas_and_topics(store: FeatureStore, pinot_endpoints: PinotEndpoints) -> None:
    prefix = _prefix(store)
    run_feast(Path(store.repo_path), "teardown")
    assert _controller_state(pinot_endpoints, prefix) == {"tables": {}, "schemas": {}}
    topics = AdminClient({"bootstrap.servers": pinot_endpoints.kafka_bootstrap}).list_topics(timeout=10).topics
    assert [t for t in topics if t.startswith(prefix)] == []
