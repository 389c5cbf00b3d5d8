"""Online == offline == an independent numpy/scipy computation (tests/reference.py), with time replayed.

Actions are pushed in event-time chunks (shuffled inside each chunk, some of
them late, some twice) with the online clock pinned to the end of each chunk;
at sample instants the online store is read with ``request_ts`` = that instant.
The same (member, instant) rows are then rebuilt by ``get_historical_features``.
Every view of the example repo is compared, the decayed, multi-interest and
seen features of ``member_job_interests`` (and its read-time-join twin) too;
half the rows' candidates are jobs the member already acted on.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore

from demo.synthetic import Scenario, actions, job_embeddings
from feast_pinot import push_actions
from feast_pinot.clock import frozen
from feast_pinot.specs import WindowedFeaturesSpec, spec_of
from tests.integration.conftest import make_repo
from tests.reference import Act, Declared, assert_matches, reference

HOUR = 3_600_000
WINDOWS = {"1h": HOUR, "24h": 24 * HOUR, "96h": 96 * HOUR}
VERBS = ("job-apply", "job-dismiss")
RETENTION = 96 * HOUR
CAP = 200
START = 1_767_571_200_000  # 2026-01-05T00:00Z
SCENARIO = Scenario(start_ms=START, hours=150, members=12, jobs=120, actions_per_member_hour=0.6)
EDGE_T = START + 120 * HOUR  # the sample instant the boundary member is built around
BOUNDARY_MEMBER, HEAVY_MEMBER, IDLE_MEMBER, UNKNOWN_MEMBER = 101, 102, 103, 999_999
SINGLE_MEMBER, TWIN_MEMBER = 104, 105  # one action; identical embeddings at tied times (k > actions)
EDGE_MEMBERS = (BOUNDARY_MEMBER, HEAVY_MEMBER, SINGLE_MEMBER, TWIN_MEMBER)
# What each view of feature_repo/features.py declares, for the reference computation.
WINDOWED = Declared(verbs=VERBS, dim=SCENARIO.dim, windows=WINDOWS)
BEYOND = Declared(
    verbs=VERBS, dim=SCENARIO.dim, half_lives={"1h": HOUR, "24h": 24 * HOUR},
    seen_windows={"24h": 24 * HOUR, "96h": 96 * HOUR}, object_prefix="job:",
    interest_verbs=("job-apply", "job-save"), k=5, interest_half_life_ms=24 * HOUR,
)
DECLARED = {"member_job_windows": WINDOWED, "member_job_windows_joined": WINDOWED,
            "member_job_interests": BEYOND, "member_job_interests_joined": BEYOND}
VIEWS = tuple(DECLARED)
HISTORY_REFS = ["member_recent_actions:action_ts", "member_recent_actions:action_objects"]


def _act(aid: str, member: int, verb: str, job: int, ts: int) -> dict[str, Any]:
    _, emb = job_embeddings(SCENARIO)
    return {"action_id": aid, "actor": member, "verb": verb, "object": f"job:{job}",
            "timestamp": ts, "objectAttributes": {"embedding": emb[job].tolist()}}


def edge_actions() -> list[dict[str, Any]]:
    m, t = BOUNDARY_MEMBER, EDGE_T
    boundary = [
        _act("edge-1h-out", m, "job-apply", 1, t - HOUR),  # exactly on the 1h edge: out of 1h
        _act("edge-1h-in", m, "job-apply", 2, t - HOUR + 1),
        _act("edge-now", m, "job-apply", 3, t),  # exactly at request time: in
        _act("edge-24h-out", m, "job-dismiss", 4, t - 24 * HOUR),
        _act("edge-ret-out", m, "job-apply", 5, t - RETENTION),  # on the retention edge: out
        _act("edge-ret-in", m, "job-apply", 6, t - RETENTION + 1),
        _act("edge-tie-b", m, "job-dismiss", 7, t - 2 * HOUR),  # same ts: ordered by id
        _act("edge-tie-a", m, "job-dismiss", 8, t - 2 * HOUR),
    ]
    heavy = [  # 300 actions in 30 hours, three per instant: the 200 cap cuts a tie
        _act(f"heavy-{i:03d}", HEAVY_MEMBER, VERBS[i % 2], i % 100, EDGE_T - (i // 3) * 18 * 60_000)
        for i in range(300)
    ]
    single = [_act("single-1", SINGLE_MEMBER, "job-apply", 9, EDGE_T - 5 * HOUR)]
    twins = [  # the same job saved four times, two pairs at one instant each, and one apply
        _act(f"twin-{i}", TWIN_MEMBER, "job-save", 7, EDGE_T - (1 + i // 2) * HOUR) for i in range(4)
    ] + [_act("twin-apply", TWIN_MEMBER, "job-apply", 8, EDGE_T - 3 * HOUR)]
    return boundary + heavy + single + twins


@dataclass
class Replay:
    store: FeatureStore
    raw: list[dict[str, Any]]  # every distinct action, as produced
    online: list[dict[str, Any]]  # one record per (view, member, instant) read


def _light(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k != "objectAttributes"}


def _push_chunk(store: FeatureStore, chunk: list[dict[str, Any]], at: int) -> None:
    with frozen(at):
        push_actions(store, "member_actions", chunk)
        push_actions(store, "member_actions_light", [_light(a) for a in chunk])


def _sample_instants(rng: random.Random) -> list[int]:
    picks = {START + int(rng.uniform(2, 149) * HOUR) for _ in range(28)}
    return sorted(picks | {EDGE_T, EDGE_T + 1, EDGE_T + 30 * 60_000})


def _candidate(raw: list[dict[str, Any]], member: int, instant: int, rng: random.Random) -> int:
    """Half the time a job the member already acted on (seen counts > 0), else any job."""
    acted = sorted({int(a["object"].split(":")[1]) for a in expected_history(raw, member, instant)})
    return rng.choice(acted) if acted and rng.random() < 0.5 else rng.randrange(SCENARIO.jobs)


def _read_online(
    store: FeatureStore, raw: list[dict[str, Any]], instant: int, members: list[int], rng: random.Random
) -> list[dict]:
    # Mostly request_ts == now; some requests ask for windows ending 3 hours earlier.
    rows = [{"member_id": m, "job_id": _candidate(raw, m, instant, rng),
             "request_ts": instant - (0 if m in EDGE_MEMBERS else rng.choice([0, 0, 3 * HOUR]))}
            for m in members]
    features = _features() + HISTORY_REFS
    with frozen(instant):
        got = store.get_online_features(features=features, entity_rows=rows, full_feature_names=True).to_dict()
    return [{**row, "instant": instant, **{k: got[k][i] for k in got if "__" in k}} for i, row in enumerate(rows)]


def _features() -> list[str]:
    """Every feature of every view, as the reference names them."""
    return [f"{view}:{name}" for view, declared in DECLARED.items() for name in reference(declared, [], 0)]


@pytest.fixture(scope="module")
def parity_online_store() -> dict[str, Any] | None:
    """The repo's ``online_store`` block; ``None`` is the embedded default.

    Another module re-runs this suite on another store by overriding this fixture.
    """
    return None


@pytest.fixture(scope="module")
def parity_log_root() -> str | None:
    """Where the action logs live; ``None``: the repo's ``data/`` folder (another module overrides it)."""
    return None


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, parity_online_store: dict[str, Any] | None,
           parity_log_root: str | None) -> Replay:
    store = make_repo(tmp_path_factory.mktemp("parity") / "repo", SCENARIO, parity_online_store, parity_log_root)
    rng = random.Random(11)
    raw = actions(SCENARIO) + edge_actions()
    raw.sort(key=lambda a: a["timestamp"])
    instants = _sample_instants(rng)
    members = [*list(range(1, SCENARIO.members + 1)), *EDGE_MEMBERS, IDLE_MEMBER, UNKNOWN_MEMBER]
    online: list[dict[str, Any]] = []
    pending = list(raw)
    late: list[dict[str, Any]] = []
    for instant in instants:
        due = [a for a in pending if a["timestamp"] <= instant]
        pending = pending[len(due) :]
        for chunk_end in range(START, instant + HOUR, HOUR):
            chunk_end = min(chunk_end, instant)
            chunk = [a for a in due if a["timestamp"] <= chunk_end]
            due = due[len(chunk) :]
            held = [a for a in chunk if rng.random() < 0.1]  # arrive an hour late
            chunk = [a for a in chunk if a not in held] + late
            late = held
            chunk += rng.sample(chunk, k=min(3, len(chunk)))  # replays of the same action_id
            rng.shuffle(chunk)
            if chunk:
                _push_chunk(store, chunk, chunk_end)
        if late:
            _push_chunk(store, late, instant)
            late = []
        online += _read_online(store, raw, instant, [*rng.sample(members, k=8), *EDGE_MEMBERS], rng)
    return Replay(store, raw, online)


def expected_history(raw: list[dict[str, Any]], member: int, instant: int) -> list[dict[str, Any]]:
    mine = [a for a in raw if a["actor"] == member and instant - RETENTION < a["timestamp"] <= instant]
    mine.sort(key=lambda a: (-a["timestamp"], a["action_id"]))
    return mine[:CAP]


def expected(raw: list[dict[str, Any]], row: dict[str, Any], declared: Declared) -> dict[str, Any]:
    """Independent computation (tests/reference.py) straight from the raw actions of the row's history."""
    _, job_emb = job_embeddings(SCENARIO)
    history = [
        Act(a["action_id"], a["timestamp"], a["verb"], a["object"],
            np.float32(a["objectAttributes"]["embedding"]).tolist())
        for a in expected_history(raw, row["member_id"], row["instant"])
    ]
    candidate = job_emb[row["job_id"]].astype(np.float64).tolist()
    return reference(declared, history, row["request_ts"], candidate, row["job_id"])


def _context(path: str, view: str, row: dict[str, Any]) -> str:
    return f"{path} {view} member={row['member_id']} job={row['job_id']} t={row['request_ts']}"


def test_online_matches_independent_computation(replay: Replay) -> None:
    assert len(replay.online) >= 300
    assert any(r["request_ts"] != r["instant"] for r in replay.online), "some windows end before now"
    for row in replay.online:
        for view, declared in DECLARED.items():
            assert_matches(row, expected(replay.raw, row, declared), _context("online", view, row), f"{view}__")
        history = expected_history(replay.raw, row["member_id"], row["instant"])
        assert row["member_recent_actions__action_objects"] == [a["object"] for a in history]
        assert row["member_recent_actions__action_ts"] == [a["timestamp"] for a in history]


def test_offline_matches_online_row_for_row(replay: Replay) -> None:
    entity_df = pd.DataFrame(
        {
            "member_id": [r["member_id"] for r in replay.online],
            "job_id": [r["job_id"] for r in replay.online],
            "event_timestamp": pd.to_datetime([r["instant"] for r in replay.online], unit="ms", utc=True),
            "request_ts": [r["request_ts"] for r in replay.online],
        }
    )
    offline = replay.store.get_historical_features(
        entity_df=entity_df, features=_features(), full_feature_names=True
    ).to_df()
    assert not any("_actions__" in c for c in offline.columns), "lists feeding windows are not returned"
    lists = replay.store.get_historical_features(
        entity_df=entity_df.drop(columns="request_ts"), features=HISTORY_REFS, full_feature_names=True
    ).to_df()
    offline = offline.join(lists[[r.replace(":", "__") for r in HISTORY_REFS]])
    assert len(offline) == len(replay.online)
    for i, row in enumerate(replay.online):
        off = offline.iloc[i]
        assert (off["member_id"], off["job_id"]) == (row["member_id"], row["job_id"])  # order kept
        for ref in HISTORY_REFS:  # the raw history, in order
            key = ref.replace(":", "__")
            assert list(off[key]) == list(row[key]), f"offline row {i} {key}"
        for view, declared in DECLARED.items():
            want = expected(replay.raw, row, declared)
            assert_matches(off, want, _context("offline", view, row), f"{view}__")
            # and the online value itself, within the same tolerance
            online = {n: row[f"{view}__{n}"] for n in want}
            assert_matches(off, online, _context("offline vs online", view, row), f"{view}__")


def test_edges_behave_as_documented(replay: Replay) -> None:
    at_edge = [
        r for r in replay.online if r["member_id"] == BOUNDARY_MEMBER and r["request_ts"] == EDGE_T == r["instant"]
    ]
    assert at_edge, "the boundary instant was sampled"
    row = at_edge[0]
    assert row["member_job_windows__job_apply_count_1h"] == 2  # edge-1h-in and edge-now
    # 96h: every apply but the one exactly on the retention edge
    assert row["member_job_windows__job_apply_count_96h"] == 4
    heavy = next(r for r in replay.online
                 if r["member_id"] == HEAVY_MEMBER and r["request_ts"] == EDGE_T == r["instant"])
    total = sum(heavy[f"member_job_windows__{v.replace('-', '_')}_count_96h"] for v in VERBS)
    assert total == CAP
    unknown = [r for r in replay.online if r["member_id"] in (IDLE_MEMBER, UNKNOWN_MEMBER)]
    assert unknown, "members without actions were sampled"
    for r in unknown:
        assert r["member_job_windows__job_apply_count_96h"] == 0
        assert r["member_job_windows__job_apply_sim_96h"] == 0.0
        assert r["member_job_windows__job_apply_mean_emb_96h"] == [0.0] * SCENARIO.dim


def _at_edge(replay: Replay, member: int) -> dict[str, Any]:
    return next(r for r in replay.online if r["member_id"] == member and r["request_ts"] == EDGE_T == r["instant"])


def test_interest_edges_behave_as_documented(replay: Replay) -> None:
    _, job_emb = job_embeddings(SCENARIO)
    for view in ("member_job_interests", "member_job_interests_joined"):
        single = _at_edge(replay, SINGLE_MEMBER)  # k = 5 > 1 action: one medoid, four zero slots
        assert single[f"{view}__interest_clusters"] == 1
        assert single[f"{view}__interest_importance_1"] == pytest.approx(2 ** (-5 / 24), abs=1e-12)
        assert single[f"{view}__interest_medoid_emb_1"] == pytest.approx(job_emb[9].tolist(), abs=1e-7)
        assert [single[f"{view}__interest_importance_{s}"] for s in range(2, 6)] == [0.0] * 4
        assert single[f"{view}__interest_medoid_emb_5"] == [0.0] * SCENARIO.dim
        # identical embeddings are not merged by Ward's cut at k = 5; equal importances tie by history order
        twins = _at_edge(replay, TWIN_MEMBER)
        assert twins[f"{view}__interest_clusters"] == 5
        importances = [twins[f"{view}__interest_importance_{s}"] for s in range(1, 6)]
        assert importances == pytest.approx([2 ** (-h / 24) for h in (1, 1, 2, 2, 3)], abs=1e-12)
        assert twins[f"{view}__interest_medoid_emb_4"] == pytest.approx(job_emb[7].tolist(), abs=1e-7)
        assert twins[f"{view}__interest_medoid_emb_5"] == pytest.approx(job_emb[8].tolist(), abs=1e-7)


def test_seen_features_were_checked_on_acted_on_and_other_jobs(replay: Replay) -> None:
    counts = [sum(r[f"member_job_interests__{v.replace('-', '_')}_seen_count_96h"] for v in VERBS)
              for r in replay.online]
    ages = [r["member_job_interests__job_apply_seen_age_ms_96h"] for r in replay.online]
    assert sum(c > 0 for c in counts) >= 30 and sum(c == 0 for c in counts) >= 30
    assert sum(a > 0 for a in ages) >= 10 and -1 in ages


def test_the_applied_registry_declares_what_the_reference_computes(replay: Replay) -> None:
    """`feast apply` (the CLI) kept each spec; the reference's declarations are the example repo's."""
    repo = importlib.import_module("feature_repo.features")
    for view, declared in DECLARED.items():
        spec = spec_of(replay.store.get_on_demand_feature_view(view), WindowedFeaturesSpec)
        assert spec is not None and spec == spec_of(getattr(repo, view)), view
        assert (spec.verbs, spec.embedding_dim) == (declared.verbs, declared.dim)
        assert {w.label: w.length_ms for w in spec.windows} == declared.windows
        assert {d.label: d.half_life_ms for d in spec.decays} == declared.half_lives
        seen, interests = spec.seen, spec.interests
        assert (seen is None) == (not declared.seen_windows)
        assert (interests is None) == (declared.interest_verbs is None)
        if seen is not None:
            assert {w.label: w.length_ms for w in seen.windows} == declared.seen_windows
            assert seen.object_prefix == declared.object_prefix and seen.candidate_key == "job_id"
        if interests is not None:
            assert (interests.verbs, interests.k, interests.half_life_ms, interests.distance_threshold) == (
                declared.interest_verbs, declared.k, declared.interest_half_life_ms, declared.distance_threshold)
