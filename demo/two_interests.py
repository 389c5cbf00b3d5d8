"""The demo's member with two distinct interests: the plain mean is close to neither, the medoids find both.

Also shows what the member already applied to (seen count and age) and a
decayed similarity, online and in training data for the same instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureStore

from demo.synthetic import Scenario, job_embeddings, two_interest_actions, two_interests
from feast_pinot import push_actions, with_request_ts
from feast_pinot.clock import now_ms

__all__ = ["FEATURES", "K", "show_two_interests"]

K = 5  # feature_repo's Interests(k=5)
SCALARS = ["member_job_windows:job_apply_sim_96h", "member_job_interests:interest_max_sim",
           "member_job_interests:interest_weighted_sim", "member_job_interests:job_apply_decayed_sim_24h",
           "member_job_interests:job_apply_seen_count_96h", "member_job_interests:job_apply_seen_age_ms_96h",
           "member_job_interests:interest_clusters",
           *[f"member_job_interests:interest_importance_{i}" for i in range(1, K + 1)]]
FEATURES = [*SCALARS, *[f"member_job_interests:interest_medoid_emb_{i}" for i in range(1, K + 1)]]


def _name(ref: str) -> str:
    return ref.split(":")[1]


def _online(store: FeatureStore, rows: list[dict[str, int]]) -> dict[str, list[Any]]:
    return store.get_online_features(features=FEATURES, entity_rows=rows).to_dict()


def _training(store: FeatureStore, rows: list[dict[str, int]], ts: int) -> pd.DataFrame:
    at = pd.Timestamp(ts, unit="ms", tz="UTC")
    entity_df = pd.DataFrame(rows).drop(columns="request_ts").assign(event_timestamp=at)
    got = store.get_historical_features(entity_df=with_request_ts(entity_df), features=FEATURES).to_df()
    # Feast does not keep the entity rows' order: line them up by candidate job
    return got.set_index("job_id").loc[[row["job_id"] for row in rows]].reset_index()


def _worst_difference(online: dict[str, list[Any]], training: pd.DataFrame) -> float:
    return max(float(np.abs(np.asarray(training[_name(ref)].tolist(), dtype=float)
                            - np.asarray(online[_name(ref)], dtype=float)).max()) for ref in FEATURES)


def show_two_interests(store: FeatureStore, scenario: Scenario, workdir: Path,
                       say: Callable[[str], None]) -> dict[str, Any]:
    """Push the member's actions, read both paths at one instant, print the figures and write
    ``workdir/two_interests.json``; return what it holds."""
    member = scenario.members + 1  # not in the synthetic population: only these actions
    chosen = two_interests(scenario)
    ts = now_ms()  # the request instant; the member's actions end just before it
    push_actions(store, "member_actions", two_interest_actions(scenario, chosen, member, ts))
    jobs = [*chosen.candidates, chosen.applied[-1]]
    rows = [{"member_id": member, "job_id": job, "request_ts": ts} for job in jobs]
    online = _online(store, rows)
    worst = _worst_difference(online, _training(store, rows, ts))
    _, emb = job_embeddings(scenario)
    figures: dict[str, Any] = {
        "member": member, "topics": list(chosen.topics), "request_ts": ts, "online_vs_training": worst,
        "rows": [{"job_id": job, **{_name(ref): online[_name(ref)][i] for ref in SCALARS}}
                 for i, job in enumerate(jobs)],
        "medoid_cosines": [[float(np.dot(m, emb[job]) / (np.linalg.norm(m) or 1.0)) for job in chosen.candidates]
                           for m in (np.asarray(online[f"interest_medoid_emb_{i}"][0]) for i in range(1, K + 1))],
    }
    _print(figures, chosen.candidates, len(chosen.applied), say)
    (workdir / "two_interests.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def _print(figures: dict[str, Any], candidates: tuple[int, int], applied: int, say: Callable[[str], None]) -> None:
    first, second, seen = figures["rows"]
    say(f"member {figures['member']}, two interests: applied to {applied} jobs alternately from topics "
        f"{figures['topics'][0]} and {figures['topics'][1]} over the last 48 h; "
        f"{first['interest_clusters']} Ward clusters (at most k = {K}: each interest splits into several)")
    for i, cos in enumerate(figures["medoid_cosines"], start=1):
        say(f"  medoid {i}: importance {first[f'interest_importance_{i}']:.3f}, cosine to job {candidates[0]} "
            f"{cos[0]:+.3f}, to job {candidates[1]} {cos[1]:+.3f}")
    for row, topic in ((first, figures["topics"][0]), (second, figures["topics"][1])):
        say(f"  candidate job {row['job_id']} (topic {topic}): plain 96h mean sim {row['job_apply_sim_96h']:+.3f}, "
            f"interest_max_sim {row['interest_max_sim']:+.3f}, interest_weighted_sim "
            f"{row['interest_weighted_sim']:+.3f}, decayed 24h sim {row['job_apply_decayed_sim_24h']:+.3f}")
    age = seen["job_apply_seen_age_ms_96h"]
    say(f"  job {seen['job_id']} (applied to): seen count 96h {seen['job_apply_seen_count_96h']}, "
        f"seen age {age} ms ({age / 3_600_000:.1f} h); job {first['job_id']}: seen count 96h "
        f"{first['job_apply_seen_count_96h']}, seen age {first['job_apply_seen_age_ms_96h']} ms")
    say(f"  online vs training data (get_historical_features) at the same instant: max abs difference "
        f"{figures['online_vs_training']:.2e}")
