"""A null candidate key matches nothing, also when similarities are asked (issue 20, item 3).

FAILING ON PURPOSE until the read path skips null candidate keys before
Feast's candidate lookup: today a call asking for the similarities with a null
``job_id`` in one row raises ``TypeError: attribute name must be string, not
'NoneType'`` in ``feast.utils._get_unique_entities``. The documented values
(docs/configuration.md: "A missing or null candidate key ... match nothing"):
similarity 0.0, seen count 0, seen age -1; the member's own features as in any
other row; the other rows as if the null row were not there. Offline the same
(that test passes today: it pins the values the online read must give).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore

from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import frozen, now_ms
from tests.fixtures.pinot import pinot_settings
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

NOW = now_ms() // 1000 * 1000
MEMBER = 1
REFS = ["acts_rank:a_sim_1h", "acts_rank:a_seen_count_1h", "acts_rank:a_seen_age_ms_1h", "acts_rank:a_count_1h"]
NULL_ROW = {"a_sim_1h": 0.0, "a_seen_count_1h": 0, "a_seen_age_ms_1h": -1, "a_count_1h": 1}
JOB_3_ROW = {"a_sim_1h": 1.0, "a_seen_count_1h": 1, "a_seen_age_ms_1h": 1000, "a_count_1h": 1}  # job 3 = its action


@pytest.fixture(scope="module", params=["embedded", "pinot"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    online = None
    if request.param == "pinot":
        online = pinot_settings(request.getfixturevalue("pinot_endpoints"),
                                request.getfixturevalue("module_pinot_prefix"))
    root = tmp_path_factory.mktemp(f"null-candidates-{request.param}") / "repo"
    store = make_mini_repo(root, jobs_frame({3: [1.0, 2.0], 5: [3.0, 4.0]}, NOW - 50 * HOUR), online_store=online)
    with frozen(NOW):
        push_actions(store, "acts", [{"action_id": "n-1", "actor": MEMBER, "verb": "a", "object": "job:3",
                                      "timestamp": NOW - 1000, "objectAttributes": {"embedding": [1.0, 2.0]}}])
    return store


def _values(got: dict[str, list[Any]], row: int) -> dict[str, Any]:
    return {ref.split(":")[1]: got[ref.split(":")[1]][row] for ref in REFS}


def test_a_null_candidate_key_with_similarities_matches_nothing_online(store: FeatureStore) -> None:
    rows = [{"member_id": MEMBER, "job_id": None, "request_ts": NOW},
            {"member_id": MEMBER, "job_id": 3, "request_ts": NOW}]
    with frozen(NOW):
        got = store.get_online_features(features=REFS, entity_rows=rows).to_dict()
    assert _values(got, 0) == NULL_ROW
    assert _values(got, 1) == pytest.approx(JOB_3_ROW, abs=1e-6)


def test_a_null_candidate_key_with_similarities_matches_nothing_offline(store: FeatureStore) -> None:
    at = pd.Timestamp(NOW, unit="ms", tz="UTC")
    rows = pd.DataFrame({"member_id": [MEMBER, MEMBER], "job_id": pd.array([None, 3], dtype="Int64"),
                         "event_timestamp": [at, at]})
    out = store.get_historical_features(entity_df=with_request_ts(rows), features=REFS).to_df()
    got = {column: out[column].tolist() for column in out.columns}
    assert _values(got, 0) == NULL_ROW
    assert _values(got, 1) == pytest.approx(JOB_3_ROW, abs=1e-6)
