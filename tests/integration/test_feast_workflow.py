"""The example repo through Feast's real CLI and APIs on the embedded store."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore

from demo.synthetic import Scenario, actions
from feast_pinot import ActionValidationError, OnlineStoreError, push_actions, with_request_ts
from feast_pinot.clock import now_ms
from feast_pinot.specs import spec_of
from tests.integration.conftest import FEAST_CLI, make_repo, run_feast

HOUR = 3_600_000
COUNT_1H = "member_job_windows:job_apply_count_1h"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(start_ms=now_ms() - 90 * HOUR, hours=89, members=20, jobs=100)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, scenario: Scenario) -> FeatureStore:
    store = make_repo(tmp_path_factory.mktemp("workflow") / "repo", scenario)
    push_actions(store, "member_actions", actions(scenario))
    return store


def _repo(store: FeatureStore) -> Path:
    return Path(store.repo_path)


def _apply_count(store: FeatureStore, member: int) -> int:
    rows = [{"member_id": member, "job_id": 1, "request_ts": now_ms()}]
    return store.get_online_features(features=[COUNT_1H], entity_rows=rows).to_dict()["job_apply_count_1h"][0]


def _history_len(store: FeatureStore, member: int) -> int:
    got = store.get_online_features(features=["member_recent_actions:action_ts"], entity_rows=[{"member_id": member}])
    return len(got.to_dict()["action_ts"][0])


def _online_state(store: FeatureStore) -> tuple[list, int]:
    db = sqlite3.connect(_repo(store) / "data" / "online_store.db")
    schema = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    return schema, db.execute('SELECT count(*) FROM "jobs_member_actions"').fetchone()[0]


def test_second_apply_changes_nothing(store: FeatureStore) -> None:
    before = _online_state(store)
    assert before[1] > 0
    run_feast(_repo(store), "apply")
    assert _online_state(store) == before
    reloaded = FeatureStore(repo_path=str(_repo(store)))
    assert spec_of(reloaded.get_feature_view("member_recent_actions")) == spec_of(
        store.get_feature_view("member_recent_actions"))
    assert spec_of(reloaded.get_on_demand_feature_view("member_job_windows")).windows[0].label == "1h"


def test_pushed_action_is_visible_at_once(store: FeatureStore) -> None:
    member = 7
    before = _apply_count(store, member)
    push_actions(store, "member_actions", [{
        "action_id": "fresh-1", "actor": member, "verb": "job-apply", "object": "job:3",
        "timestamp": now_ms(), "objectAttributes": {"embedding": [0.125] * 64},
    }])
    assert _apply_count(store, member) == before + 1


def test_invalid_push_writes_nothing(store: FeatureStore) -> None:
    member = 8
    parts = sorted((_repo(store) / "data" / "member_actions").rglob("*.parquet"))
    history = _history_len(store, member)
    good = {"action_id": "ok-1", "actor": member, "verb": "job-save", "object": "job:1",
            "timestamp": now_ms(), "objectAttributes": {"embedding": [0.0] * 64}}
    bad = {**good, "action_id": "bad-1", "objectAttributes": {"embedding": [0.0] * 3}}
    with pytest.raises(ActionValidationError, match="action 1: embedding must have 64 floats, got 3") as err:
        push_actions(store, "member_actions", [good, bad])
    assert err.value.problems == [(1, "embedding must have 64 floats, got 3")]
    assert _history_len(store, member) == history
    assert sorted((_repo(store) / "data" / "member_actions").rglob("*.parquet")) == parts


def test_direct_feast_push_of_bad_actions_is_rejected(store: FeatureStore) -> None:
    frame = pd.DataFrame({"member_id": [1], "action_id": ["x"], "verb": ["job-like"], "object": ["job:1"],
                          "attributes": ["{}"], "embedding": [[0.0] * 64],
                          "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(ActionValidationError, match="unknown verb 'job-like'"):
        store.push("member_actions_push", frame)


def test_reading_a_log_directly_points_to_its_history(store: FeatureStore) -> None:
    with pytest.raises(
        OnlineStoreError, match="'member_actions' is an action log: read it through an action_history view"
    ):
        store.get_online_features(features=["member_actions:verb"], entity_rows=[{"member_id": 1}])


def test_offline_log_is_date_partitioned_parquet(store: FeatureStore) -> None:
    root = _repo(store) / "data" / "member_actions"
    folders = {p.parent.name for p in root.rglob("*.parquet")}
    assert folders and all(f.startswith("date=20") for f in folders)
    assert not list(root.rglob("*.tmp"))
    stored = pd.concat(pd.read_parquet(p) for p in root.rglob("*.parquet"))
    assert stored["action_id"].is_unique


def test_historical_keeps_every_row_in_order(store: FeatureStore, scenario: Scenario) -> None:
    t = pd.Timestamp(scenario.end_ms, unit="ms", tz="UTC")
    entity_df = pd.DataFrame(
        {
            "member_id": [3, 999_999, 3, 3, 1, 999_999],
            "job_id": [1, 2, 1, 1, 5, 2],
            "event_timestamp": [t, t, t - pd.Timedelta(hours=80), t, t - pd.Timedelta(hours=95), t],
        }
    )
    out = store.get_historical_features(
        entity_df=with_request_ts(entity_df),
        features=["member_profile:industry", COUNT_1H, "member_job_windows:job_apply_count_96h"],
    ).to_df()
    assert out["member_id"].tolist() == [3, 999_999, 3, 3, 1, 999_999]
    assert out["event_timestamp"].tolist() == entity_df["event_timestamp"].tolist()
    assert out.loc[0, "job_apply_count_96h"] == out.loc[3, "job_apply_count_96h"]  # duplicate rows agree
    assert out.loc[1, "job_apply_count_96h"] == 0 and pd.isna(out.loc[1, "industry"])
    assert out.loc[4, "job_apply_count_96h"] == 0  # after the profile, before any action
    assert (
        out.loc[4, "industry"]
        == store.get_online_features(features=["member_profile:industry"], entity_rows=[{"member_id": 1}]).to_dict()[
            "industry"
        ][0]
    )


def test_historical_without_request_ts_names_the_fix(store: FeatureStore) -> None:
    entity_df = pd.DataFrame({"member_id": [1], "job_id": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(Exception, match="request_ts"):
        store.get_historical_features(entity_df=entity_df, features=[COUNT_1H]).to_df()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _wait_healthy(url: str, proc: subprocess.Popen, deadline_s: float = 300) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"feast serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("feast serve did not become healthy in time")


@contextlib.contextmanager
def _serving(store: FeatureStore, stderr: int = subprocess.PIPE) -> Iterator[str]:
    """The real ``feast serve`` on the store's repo (one worker, a free port): its URL once healthy."""
    port = _free_port()
    proc = subprocess.Popen(
        [FEAST_CLI, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd=_repo(store),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_feast_serve_answers_like_the_sdk(store: FeatureStore) -> None:
    with _serving(store) as url:
        ts = now_ms()
        body = {
            "feature_service": "job_ranking_v1",
            "entities": {"member_id": [1, 2], "job_id": [4, 5], "request_ts": [ts, ts]},
        }
        got = _post(url + "/get-online-features", body)
        names = got["metadata"]["feature_names"]
        served = {n: [r["values"][i] for i in range(2)] for n, r in zip(names, got["results"])}
        sdk = store.get_online_features(
            features=store.get_feature_service("job_ranking_v1"),
            entity_rows=[
                {"member_id": 1, "job_id": 4, "request_ts": ts},
                {"member_id": 2, "job_id": 5, "request_ts": ts},
            ],
        ).to_dict()
        assert served["job_apply_count_96h"] == sdk["job_apply_count_96h"]
        assert served["job_dismiss_sim_24h"] == pytest.approx(sdk["job_dismiss_sim_24h"], abs=1e-12)
        assert served["industry"] == sdk["industry"]
        assert sum(served["job_apply_count_96h"]) > 0


WRITER = """
import sys
from feast import FeatureStore
from feast_pinot import push_actions
from feast_pinot.clock import now_ms
store = FeatureStore(repo_path=sys.argv[1])
for i in range(int(sys.argv[2])):
    push_actions(store, "member_actions", [{"action_id": f"proc-{i}", "actor": 42, "verb": "job-view",
        "object": "job:1", "timestamp": now_ms(), "objectAttributes": {"embedding": [1.0] * 64}}])
"""


def test_writer_process_and_reader_share_the_file(store: FeatureStore) -> None:
    n = 40
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(_repo(store)), str(n)], stderr=subprocess.PIPE, text=True
    )
    seen = []
    while writer.poll() is None:
        seen.append(_history_len(store, 42))
    assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
    assert seen == sorted(seen), "a reader never sees the history shrink"
    assert _history_len(store, 42) == n
    db = sqlite3.connect(_repo(store) / "data" / "online_store.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_teardown_removes_online_tables(tmp_path: Path, scenario: Scenario) -> None:
    store = make_repo(tmp_path / "repo", scenario)
    db = tmp_path / "repo" / "data" / "online_store.db"
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs_member_actions", "jobs_member_profile", "jobs_job_attributes"} <= tables
    run_feast(tmp_path / "repo", "teardown")
    left = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not left & tables
    del store


def test_batch_features_round_trip_exactly(store: FeatureStore) -> None:
    source = pd.read_parquet(_repo(store) / "data" / "member_profile.parquet").set_index("member_id")
    jobs = pd.read_parquet(_repo(store) / "data" / "job_attributes.parquet").set_index("job_id")
    got = store.get_online_features(
        features=["member_profile:industry", "member_profile:seniority", "member_profile:years_experience"],
        entity_rows=[{"member_id": m} for m in (1, 2, 3)],
    ).to_dict()
    assert got["industry"] == source.loc[[1, 2, 3], "industry"].tolist()
    assert got["seniority"] == source.loc[[1, 2, 3], "seniority"].tolist()
    assert got["years_experience"] == pytest.approx(source.loc[[1, 2, 3], "years_experience"].tolist(), abs=0)
    emb = store.get_online_features(
        features=["job_attributes:embedding", "job_attributes:geo"], entity_rows=[{"job_id": 5}]
    ).to_dict()
    assert emb["embedding"][0] == pytest.approx(list(jobs.loc[5, "embedding"]), abs=0)
    assert emb["geo"] == [jobs.loc[5, "geo"]]


def _post_status(url: str, body: dict) -> tuple[int, str]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_feast_serve_answers_4xx_naming_request_ts_for_client_mistakes(store: FeatureStore) -> None:
    # the server logs a traceback per error: an unread pipe would fill and block it
    with _serving(store, stderr=subprocess.DEVNULL) as url:
        ok, _ = _post_status(
            url + "/get-online-features",
            {"features": [COUNT_1H], "entities": {"member_id": [1], "job_id": [4], "request_ts": [now_ms()]}},
        )
        assert ok == 200
        cases = {
            "missing": ({}, 404, "Required request data source features ['request_ts'] not found in the entity rows"),
            "null": (
                {"request_ts": [None, now_ms()]},
                422,
                "'request_ts' is required (epoch ms of the request), got null in row 0",
            ),
            "text": (
                {"request_ts": [now_ms(), "soon"]},
                422,
                "'request_ts' must be epoch ms (an integer), got 'soon' in row 1",
            ),
            "float": (
                {"request_ts": [1.5, now_ms()]},
                422,
                "'request_ts' must be epoch ms (an integer), got 1.5 in row 0",
            ),
            "beyond int64": (
                {"request_ts": [2**63, now_ms()]},
                422,
                "'request_ts' must be epoch ms within int64, got 9223372036854775808 in row 0",
            ),
            "seconds": (
                {"request_ts": [now_ms(), 1_767_571_200]},
                422,
                "'request_ts' must be epoch milliseconds from 1980-01-01 to 2100-01-01, got 1767571200 (as "
                "milliseconds it is 1970-01-21T10:59:31.200Z; seconds? as seconds it is 2026-01-05T00:00:00.000Z) "
                "in row 1",
            ),
            "microseconds": (
                {"request_ts": [1_767_571_200_123_456, now_ms()]},
                422,
                "'request_ts' must be epoch milliseconds from 1980-01-01 to 2100-01-01, got 1767571200123456 (as "
                "milliseconds it is after the year 9999; microseconds? as microseconds it is "
                "2026-01-05T00:00:00.123Z) in row 0",
            ),
        }
        for name, (extra, status, message) in cases.items():
            body = {"features": [COUNT_1H], "entities": {"member_id": [1, 2], "job_id": [4, 5], **extra}}
            got_status, detail = _post_status(url + "/get-online-features", body)
            assert (name, got_status) == (name, status)
            assert message in json.loads(detail)["message"]


def _readme_curl() -> str:
    """The README's curl example for ``feast serve`` (the bash block holding it), less its ``feast serve`` line."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = [b.split("\n", 1)[1] for b in readme.split("```")[1::2] if b.startswith("bash") and "curl" in b]
    return "\n".join(line for line in block.splitlines() if not line.startswith("feast serve"))


def test_the_readme_curl_example_is_answered_by_feast_serve(store: FeatureStore) -> None:
    with _serving(store) as url:
        script = _readme_curl().replace("http://127.0.0.1:6566", url)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(done.stdout)
    served = {n: r["values"] for n, r in zip(got["metadata"]["feature_names"], got["results"])}
    sdk = store.get_online_features(
        features=store.get_feature_service("job_candidates_v1"),
        entity_rows=[{"member_id": 1, "job_id": j, "request_ts": now_ms()} for j in (22, 31)]).to_dict()
    assert served["job_id"] == [22, 31]
    assert served["job_apply_count_96h"] == sdk["job_apply_count_96h"]  # the scenario has no action near 96 h back
    assert served["job_apply_count_96h"][0] > 0
