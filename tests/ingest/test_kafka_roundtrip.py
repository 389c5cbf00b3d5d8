"""Through a real Kafka-protocol broker: raw events in, actions online and offline out."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from demo.synthetic import Scenario, actions, job_embeddings, jobs_frame
from feast_pinot.actions import datetime_to_ms
from feast_pinot.clock import now_ms
from local_cluster.topics import produce
from stream_ingest.sinks import decode_dead_letter
from tests.fixtures.kafka import read_topic
from tests.ingest.conftest import HOUR, Topics, eventually, running, scenario, store_of
from tests.ingest.support import application, interaction, raw_of, read_offline_log

WINDOWS = {"1h": HOUR, "24h": 24 * HOUR, "96h": 96 * HOUR}


def produce_actions(bootstrap: str, topics: Topics, items: list[dict[str, Any]]) -> None:
    by_kind: dict[str, list[tuple[bytes, bytes]]] = {"applications": [], "interactions": []}
    for kind, key, value in map(raw_of, items):
        by_kind[kind].append((key, value))
    produce(bootstrap, topics.applications, by_kind["applications"])
    produce(bootstrap, topics.interactions, by_kind["interactions"])


def online_rows(repo: Path, members: list[int], request_ts: int) -> dict[str, list[Any]]:
    features = [f"member_recent_actions:{f}" for f in ("action_ts", "action_verbs", "action_objects")]
    features += [f"member_job_windows:job_apply_{kind}_{w}" for w in WINDOWS for kind in ("count", "mean_emb")]
    rows = [{"member_id": m, "job_id": 0, "request_ts": request_ts} for m in members]
    return store_of(repo).get_online_features(features=features, entity_rows=rows).to_dict()


def expected_windows(items: list[dict[str, Any]], s: Scenario, member: int, request_ts: int) -> dict[str, Any]:
    _, emb = job_embeddings(s)
    out: dict[str, Any] = {}
    for label, length in WINDOWS.items():
        jobs = [int(a["object"][4:]) for a in items if a["actor"] == member and a["verb"] == "job-apply"
                and request_ts - length < a["timestamp"] <= request_ts]
        out[f"job_apply_count_{label}"] = len(jobs)
        # the windowed view's mean of no actions is the zero vector
        out[f"job_apply_mean_emb_{label}"] = emb[jobs].mean(axis=0) if jobs else np.zeros(s.dim)
    return out


def test_round_trip_two_shapes_to_online_windows_and_offline_log(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    s = scenario(members=15)
    items = actions(s)
    impressions = [(str(m).encode(), interaction(m, 1, "impression", now_ms() - 1000)) for m in (1, 2, 3)]
    produce_actions(kafka_bootstrap, topics, items)
    produce(kafka_bootstrap, topics.interactions, impressions)

    with running(make_config()) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == len(items) + 3, 120, "all events handled")
    snap = runner.stats.snapshot()
    assert (snap.stored, snap.dead_lettered, snap.skipped) == (len(items), 0, 3)

    check_online(repo, items, s)
    check_offline(repo, items, s)


def check_online(repo: Path, items: list[dict[str, Any]], s: Scenario) -> None:
    """Each member's history and windowed features, exactly."""
    request_ts = now_ms()
    members = sorted({a["actor"] for a in items})
    got = online_rows(repo, members, request_ts)
    for i, member in enumerate(members):
        mine = sorted((a for a in items if a["actor"] == member), key=lambda a: -a["timestamp"])
        assert got["action_ts"][i] == [a["timestamp"] for a in mine]
        assert Counter(zip(got["action_ts"][i], got["action_verbs"][i], got["action_objects"][i])) == Counter(
            (a["timestamp"], a["verb"], a["object"]) for a in mine)
        for name, value in expected_windows(items, s, member, request_ts).items():
            np.testing.assert_allclose(got[name][i], value, atol=1e-6, err_msg=f"member {member} {name}")


def check_offline(repo: Path, items: list[dict[str, Any]], s: Scenario) -> None:
    """Every action once, with its embedding and the stored attributes."""
    offline = read_offline_log(repo / "data" / "member_actions").to_pandas()
    assert len(offline) == len(items) == offline["action_id"].nunique()
    _, emb = job_embeddings(s)
    geo = jobs_frame(s).set_index("job_id")["geo"]
    applies = offline[offline["verb"] == "job-apply"]
    assert set(applies["action_id"]) == {a["action_id"] for a in items if a["verb"] == "job-apply"}
    assert sorted(offline["event_timestamp"].map(datetime_to_ms)) == sorted(a["timestamp"] for a in items)
    for row in offline.itertuples():
        job = int(row.object[4:])
        assert np.array_equal(np.asarray(row.embedding, dtype=np.float32), emb[job])
        attributes = json.loads(row.attributes)
        assert attributes["objectAttributes"] == {"geo": geo[job]}
        assert attributes["verbAttributes"] == (
            {"device": "ios"} if row.verb == "job-apply" else {"surface": "jobs-home"}
        )


def bad_events(now: int) -> tuple[dict[bytes, tuple[str, str]], dict[bytes, tuple[str, str]]]:
    """Bad raw applications and interactions -> (failing step, part of the reason)."""
    applications = {
        b'{"event": "job_application", "member_id": 1,': ("parse", "not valid JSON"),
        b'["job_application"]': ("parse", "expected a JSON object, got list"),
        b'{"event": "page_view", "member_id": 1}': ("parse", "matches no event shape"),
        json.dumps({"event": "job_application", "application_id": "m1", "job_id": 4, "applied_at": now}).encode(): (
            "standardize",
            "missing field 'member_id' (actor)",
        ),
        application("stale", 1, 4, now - 97 * HOUR): ("standardize", "outside the 96 h retention"),
        application("future", 1, 4, now + HOUR): ("standardize", "in the future"),
        application("dim", 1, 9999, now): ("standardize", "embedding must have 64 floats, got 3"),
        application("nojob", 1, 123456, now): ("enrich", "job_attributes:embedding has no value for key 123456"),
    }
    interactions = {
        interaction(2, 4, "share", now): ("keep", "unknown verb: type='share'"),
        json.dumps(
            {
                "event": "job_interaction",
                "member": {"id": 2},
                "type": "view",
                "occurred_at": "2026-01-01T00:00:00+00:00",
            }
        ).encode(): ("enrich", "missing field 'job.id' (object)"),
    }
    return applications, interactions


def test_bad_events_land_in_the_dead_letter_topic_with_reasons(
    repo: Path, kafka_bootstrap: str, topics: Topics, make_config: Any
) -> None:
    store = store_of(repo)
    # A job whose embedding has the wrong dimension (e.g. a bad upstream model run).
    store.write_to_online_store(
        "job_attributes",
        pd.DataFrame(
            {
                "job_id": [9999],
                "embedding": [[0.1, 0.2, 0.3]],
                "geo": ["eu"],
                "event_timestamp": [pd.Timestamp.now(tz="UTC")],
            }
        ),
    )
    now = now_ms()
    good = [(b"1", application(f"ok-{i}", 1 + i % 4, i, now - 60_000 + i)) for i in range(40)]
    bad_applications, bad_interactions = bad_events(now)
    produce(kafka_bootstrap, topics.applications, good + [(b"x", v) for v in bad_applications])
    produce(kafka_bootstrap, topics.interactions, [(b"y", v) for v in bad_interactions])
    total = len(good) + len(bad_applications) + len(bad_interactions)

    with running(make_config()) as runner:
        eventually(lambda: runner.stats.snapshot().events_in == total, 120, "all events handled")
    snap = runner.stats.snapshot()
    assert snap.events_in == snap.stored + snap.dead_lettered == total
    assert (snap.stored, snap.dead_lettered, snap.skipped) == (
        len(good),
        len(bad_applications) + len(bad_interactions),
        0,
    )

    letters = [
        decode_dead_letter(m.value() or b"")
        for m in read_topic(kafka_bootstrap, topics.dead_letters, snap.dead_lettered)
    ]
    assert len(letters) == snap.dead_lettered
    expected = {**bad_applications, **bad_interactions}
    assert {letter.event.value for letter in letters} == set(expected)  # the original bytes, each once
    for letter in letters:
        step, reason = expected[letter.event.value or b""]
        assert letter.step == step and reason in letter.reason, letter
        assert letter.event.topic in (topics.applications, topics.interactions)
        assert letter.event.key in (b"x", b"y")

    offline = read_offline_log(repo / "data" / "member_actions")
    assert sorted(offline.column("action_id").to_pylist()) == sorted(f"ok-{i}" for i in range(40))
    counts = store.get_online_features(
        features=["member_recent_actions:action_ts"],
        entity_rows=[{"member_id": m} for m in (1, 2, 3, 4)],
    ).to_dict()["action_ts"]
    assert [len(ts) for ts in counts] == [10, 10, 10, 10]
