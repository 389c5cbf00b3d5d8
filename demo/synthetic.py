"""Deterministic synthetic data for the jobs example.

Jobs belong to topics; a job's embedding is its topic centre plus noise. Each
member's interest drifts from one topic to another over the scenario, so the
windowed means move as time passes: the 1 h mean follows the new topic while
the 96 h mean still remembers the old one.

The same actions also come as the raw events of the two services that
``feature_repo/ingest.yaml`` maps to actions: ``job_application`` (apply
service) and ``job_interaction`` (jobs front end).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Scenario",
    "TwoInterests",
    "actions",
    "application",
    "interaction",
    "job_embeddings",
    "jobs_frame",
    "profiles_frame",
    "raw_by_kind",
    "raw_of",
    "two_interest_actions",
    "two_interests",
    "write_batch_sources",
]

_VERB_WEIGHTS = {"job-view": 0.5, "job-apply": 0.15, "job-save": 0.15, "job-dismiss": 0.2}
_INDUSTRIES = ("software", "finance", "health", "retail", "energy")
# The front end's interaction types (ingest.yaml maps them back to these verbs).
_TYPE_OF_VERB = {"job-view": "view", "job-save": "save", "job-dismiss": "dismiss"}


@dataclass(frozen=True)
class Scenario:
    start_ms: int
    hours: float = 96.0
    members: int = 50
    jobs: int = 500
    topics: int = 8
    dim: int = 64
    actions_per_member_hour: float = 1.0
    seed: int = 7

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.hours * 3_600_000)


def _rng(s: Scenario, salt: int) -> np.random.Generator:
    return np.random.default_rng([s.seed, salt])


def job_embeddings(s: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(topic of each job, unit embedding of each job as float32)."""
    rng = _rng(s, 1)
    centres = rng.normal(size=(s.topics, s.dim))
    topic = rng.integers(0, s.topics, size=s.jobs)
    emb = centres[topic] + 0.5 * rng.normal(size=(s.jobs, s.dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return topic, emb.astype(np.float32)


def jobs_frame(s: Scenario) -> pd.DataFrame:
    _, emb = job_embeddings(s)
    rng = _rng(s, 2)
    return pd.DataFrame({
        "job_id": np.arange(s.jobs, dtype=np.int64),
        "embedding": [row.tolist() for row in emb],
        "geo": rng.choice(["us-west", "us-east", "eu", "apac"], size=s.jobs),
        "event_timestamp": pd.Timestamp(s.start_ms - 86_400_000, unit="ms", tz="UTC"),
    })


def profiles_frame(s: Scenario) -> pd.DataFrame:
    rng = _rng(s, 3)
    return pd.DataFrame({
        "member_id": np.arange(1, s.members + 1, dtype=np.int64),
        "industry": rng.choice(_INDUSTRIES, size=s.members),
        "seniority": rng.integers(1, 6, size=s.members).astype(np.int64),
        "years_experience": rng.uniform(0, 30, size=s.members).astype(np.float32),
        "event_timestamp": pd.Timestamp(s.start_ms - 86_400_000, unit="ms", tz="UTC"),
    })


def actions(s: Scenario, with_embeddings: bool = True) -> list[dict[str, Any]]:
    """Standard-schema actions of every member, ordered by event time."""
    topic, emb = job_embeddings(s)
    by_topic = [np.flatnonzero(topic == t) for t in range(s.topics)]
    rng = _rng(s, 4)
    verbs, weights = zip(*_VERB_WEIGHTS.items())
    out: list[dict[str, Any]] = []
    span = s.end_ms - s.start_ms
    for member in range(1, s.members + 1):
        first, last = rng.choice(s.topics, size=2, replace=False)
        n = rng.poisson(s.actions_per_member_hour * s.hours)
        times = np.sort(rng.integers(s.start_ms, s.end_ms, size=n))
        for i, ts in enumerate(times):
            verb = verbs[rng.choice(len(verbs), p=weights)]
            drifted = rng.random() < (ts - s.start_ms) / span
            liked = last if drifted else first
            pool_topic = rng.choice([t for t in range(s.topics) if t != liked]) if verb == "job-dismiss" else liked
            job = int(rng.choice(by_topic[pool_topic])) if len(by_topic[pool_topic]) else int(rng.integers(s.jobs))
            action: dict[str, Any] = {
                "action_id": f"m{member}-{i}",
                "actor": member,
                "verb": verb,
                "object": f"job:{job}",
                "timestamp": int(ts),
                "verbAttributes": {"surface": "jobs-home"},
            }
            if with_embeddings:
                action["objectAttributes"] = {"embedding": emb[job].tolist()}
            out.append(action)
    out.sort(key=lambda a: (a["timestamp"], a["action_id"]))
    return out


@dataclass(frozen=True)
class TwoInterests:
    """A member with two distinct interests: jobs of two far-apart topics."""

    topics: tuple[int, int]
    applied: tuple[int, ...]  # alternately one of each topic, oldest first
    candidates: tuple[int, int]  # one job of each topic the member did not apply to


def two_interests(s: Scenario, per_interest: int = 6) -> TwoInterests:
    """Topic 0 and the topic whose mean embedding is farthest from it (lowest cosine)."""
    topic, emb = job_embeddings(s)
    means = np.stack([emb[topic == t].mean(axis=0) for t in range(s.topics)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    far = int(np.argmin(means @ means[0]))
    jobs = [np.flatnonzero(topic == t)[:per_interest + 1] for t in (0, far)]
    applied = tuple(int(job) for pair in zip(jobs[0][:-1], jobs[1][:-1]) for job in pair)
    return TwoInterests((0, far), applied, (int(jobs[0][-1]), int(jobs[1][-1])))


def two_interest_actions(s: Scenario, chosen: TwoInterests, member: int, end_ms: int) -> list[dict[str, Any]]:
    """``member``'s applications to ``chosen.applied``, evenly spread over the 48 h before ``end_ms``."""
    _, emb = job_embeddings(s)
    step = 48 * 3_600_000 // len(chosen.applied)
    return [{
        "action_id": f"two-interests-{i}", "actor": member, "verb": "job-apply", "object": f"job:{job}",
        "timestamp": end_ms - (len(chosen.applied) - i) * step, "objectAttributes": {"embedding": emb[job].tolist()},
    } for i, job in enumerate(chosen.applied)]


def write_batch_sources(repo: Path, s: Scenario) -> None:
    """The Parquet sources of the batch views, under ``repo/data``."""
    data = repo / "data"
    data.mkdir(parents=True, exist_ok=True)
    jobs_frame(s).to_parquet(data / "job_attributes.parquet", index=False)
    profiles_frame(s).to_parquet(data / "member_profile.parquet", index=False)


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def application(application_id: str, member: int, job: int, ts_ms: int, device: str = "ios") -> bytes:
    """A raw ``job_application`` event of the apply service."""
    return json.dumps({
        "event": "job_application", "application_id": application_id, "member_id": member,
        "job_id": job, "applied_at": ts_ms, "client": {"device": device},
    }).encode()


def interaction(member: int, job: int, kind: str, ts_ms: int, surface: str = "jobs-home") -> bytes:
    """A raw ``job_interaction`` event of the jobs front end."""
    return json.dumps({
        "event": "job_interaction", "member": {"id": member}, "job": {"id": job},
        "type": kind, "occurred_at": _iso(ts_ms), "surface": surface,
    }).encode()


def raw_of(action: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """A standard action of :func:`actions` as the raw event its service would emit:
    ``("applications" | "interactions", key, value)``."""
    member, job = action["actor"], int(action["object"].removeprefix("job:"))
    key = str(member).encode()
    if action["verb"] == "job-apply":
        return "applications", key, application(action["action_id"], member, job, action["timestamp"])
    return "interactions", key, interaction(member, job, _TYPE_OF_VERB[action["verb"]], action["timestamp"])


def raw_by_kind(items: Iterable[dict[str, Any]]) -> dict[str, list[tuple[bytes, bytes]]]:
    """The raw ``(key, value)`` events of ``items``, under "applications" and "interactions"."""
    out: dict[str, list[tuple[bytes, bytes]]] = {"applications": [], "interactions": []}
    for kind, key, value in map(raw_of, items):
        out[kind].append((key, value))
    return out
