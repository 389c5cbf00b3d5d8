"""``python -m feast_pinot.parity`` on the example repo: passes, then catches planted mismatches.

The repo is the real example (``feast apply`` with the CLI, materialized,
actions pushed with the online clock pinned). Sample mode must pass on every
service feature, vectors included; an action pushed to the online store only
must show up as exactly the affected rows and features. Served mode must pass
on responses logged in Feast's feature-logging schema, and catch an action that
arrived after the response was served (which sample mode, run afterwards,
cannot see). ``tests/pinot/test_pinot_parity_command.py`` runs the same with
PinotOnlineStore.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from feast import FeatureService, FeatureStore
from feast.data_source import PushMode
from feast.feature_logging import LoggingConfig
from feast.infra.offline_stores.file_source import FileLoggingDestination

from demo.synthetic import Scenario, actions, job_embeddings
from feast_pinot import push_actions
from feast_pinot.clock import frozen
from feast_pinot.parity import check_sample, check_served, served_log
from feast_pinot.parity.__main__ import main
from feast_pinot.parity.report import as_table
from tests.integration.conftest import make_repo

START = 1_767_571_200_000
SCENARIO = Scenario(start_ms=START, hours=48, members=8, jobs=60, actions_per_member_hour=0.5)
AT = SCENARIO.end_ms
MINUTE = 60_000


def _light(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k != "objectAttributes"}


@pytest.fixture(scope="module")
def command_online_store() -> dict[str, Any] | None:
    """The repo's ``online_store`` block (None: the embedded default); the Pinot module overrides it."""
    return None


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, command_online_store: dict[str, Any] | None) -> Path:
    root = tmp_path_factory.mktemp("parity-command") / "repo"
    store = make_repo(root, SCENARIO, command_online_store)
    profile = store.get_feature_view("member_profile")[["industry", "seniority", "years_experience"]]
    store.apply([
        FeatureService(name="joined_v1", features=[store.get_on_demand_feature_view("member_job_windows_joined")]),
        FeatureService(name="ranking_logged", features=[profile, store.get_on_demand_feature_view(
            "member_job_windows")], logging_config=LoggingConfig(
                destination=FileLoggingDestination(path=str(root / "served_logs")))),
    ])
    history = actions(SCENARIO)
    with frozen(AT):
        push_actions(store, "member_actions", history)
        push_actions(store, "member_actions_light", [_light(a) for a in history])
    return root


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "feast_pinot.parity", "--repo", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def _act(member: int, verb: str, job: int, ts: int) -> dict[str, Any]:
    _, emb = job_embeddings(SCENARIO)
    return {"actor": member, "verb": verb, "object": f"job:{job}", "timestamp": ts,
            "objectAttributes": {"embedding": emb[job].tolist()}}


def _by_name(report: Any) -> dict[str, Any]:
    return {f.feature: f for f in report.features}


def test_parity_passes_then_catches_planted_mismatches(repo: Path, tmp_path: Path) -> None:
    store = FeatureStore(repo_path=str(repo))
    # 1. Sample mode through the real command: every feature of job_ranking_v2, vectors included.
    done = _cli(repo, "--service", "job_ranking_v2", "--at", str(AT), "--actors", "100",
                "--json", str(tmp_path / "v2.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "v2.json").read_text())
    service = store.get_feature_service("job_ranking_v2")
    expected = {f"{p.name_to_use()}__{f.name}" for p in service.feature_view_projections for f in p.features}
    assert {f["feature"] for f in report["features"]} == expected
    assert report["passed"] and report["rows"] == 3 * SCENARIO.members and report["actors"] == SCENARIO.members
    assert "member_job_interests__interest_medoid_emb_1" in expected
    assert "PASS" in done.stdout

    # 2. An action that reached the online store only (Feast's default push mode): member 3's rows differ.
    with frozen(AT):
        push_actions(store, "member_actions_light", [_light(_act(3, "job-apply", 5, AT - 10 * MINUTE))],
                     to=PushMode.ONLINE)
    planted = check_sample(store, "joined_v1", at_ms=AT, actors=100)
    features = _by_name(planted)
    assert not planted.passed
    for window in ("1h", "24h", "96h"):
        count = features[f"member_job_windows_joined__job_apply_count_{window}"]
        assert (count.mismatches, count.incomparable, count.max_abs_diff) == (3, 0, 1.0)
        assert {e["row"]["member_id"] for e in count.examples} == {3}
        assert features[f"member_job_windows_joined__job_dismiss_count_{window}"].mismatches == 0
    assert "FAIL" in as_table(planted)
    assert main(["--repo", str(repo), "--service", "joined_v1", "--at", str(AT), "--actors", "100"]) == 1

    # 3. Served mode: responses logged as Feast's feature logging writes them, rebuilt offline.
    logged = store.get_feature_service("ranking_logged")
    rows = [{"member_id": m, "job_id": 10 * m, "request_ts": AT} for m in range(1, SCENARIO.members + 1)]
    with frozen(AT):
        response = store.get_online_features(features=logged, entity_rows=rows, full_feature_names=True).to_dict()
    (repo / "served_logs").mkdir()  # Feast's file destination writes into an existing folder
    store.write_logged_features(served_log(store, "ranking_logged", rows, response, AT), logged)
    served = check_served(store, "ranking_logged", str(repo / "served_logs"))
    assert served.passed and served.rows == SCENARIO.members
    assert len(served.features) == 3 + len(store.get_on_demand_feature_view("member_job_windows").features)

    # 4. A dismiss of member 2 at AT - 5 min that arrives 20 minutes later: only served mode sees it.
    with frozen(AT + 20 * MINUTE):
        push_actions(store, "member_actions", [_act(2, "job-dismiss", 7, AT - 5 * MINUTE)])
    late = _by_name(check_served(store, "ranking_logged", str(repo / "served_logs")))
    dismissed = late["member_job_windows__job_dismiss_count_1h"]
    assert (dismissed.mismatches, dismissed.max_abs_diff) == (1, 1.0)
    assert dismissed.examples[0]["row"]["member_id"] == 2
    assert late["member_job_windows__job_apply_count_1h"].mismatches == 0
    assert main(["--repo", str(repo), "--service", "ranking_logged", "--mode", "served",
                 "--logs", str(repo / "served_logs")]) == 1
    assert check_sample(store, "ranking_logged", at_ms=AT, actors=100).passed  # both stores have it now


def test_unusable_input_exits_2_with_the_reason(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(repo), "--service", "nope"]) == 2
    assert "no feature service 'nope' in the repo" in capsys.readouterr().err
    assert main(["--repo", str(repo), "--service", "job_ranking_v1", "--mode", "served"]) == 2
    assert "--mode served needs --logs" in capsys.readouterr().err
    assert main(["--repo", str(repo), "--service", "job_ranking_v1", "--at", str(START - 365 * 86_400_000)]) == 2
    assert "no action of log 'member_actions' lies within its retention" in capsys.readouterr().err
