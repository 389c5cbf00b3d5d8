"""Declaration helpers: what they build, and the errors for what cannot work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
import pytest
from feast import Entity, FeatureView, Field, FileSource, OnDemandFeatureView, ValueType
from feast.types import Array, Float32, Int64, String

from feast_pinot import (
    DeclarationError,
    Interests,
    ObjectAttribute,
    action_history,
    action_log,
    windowed_action_features,
)
from feast_pinot.specs import ActionLogSpec, HistorySpec, HistoryWindow, WindowedFeaturesSpec, spec_of

member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64)
job = Entity(name="job", join_keys=["job_id"], value_type=ValueType.INT64)
jobs = FeatureView(
    name="jobs", entities=[job], ttl=timedelta(days=1),
    schema=[Field(name="job_id", dtype=Int64), Field(name="embedding", dtype=Array(Float32)),
            Field(name="geo", dtype=String)],
    source=FileSource(name="jobs_src", path="data/jobs.parquet", timestamp_field="event_timestamp"),
)
VERBS = ("apply", "dismiss")


def test_action_log_is_a_push_view_with_its_spec() -> None:
    log = action_log("acts", member, VERBS, "data/acts", embedding_dim=4, max_actions=50)
    spec = spec_of(log)
    assert isinstance(spec, ActionLogSpec)
    assert (spec.verbs, spec.embedding_dim, spec.max_actions, spec.retention_ms) == (VERBS, 4, 50, 96 * 3_600_000)
    assert log.stream_source is not None and log.stream_source.name == "acts_push"
    assert log.batch_source.path == "data/acts"
    assert [f.name for f in log.features] == ["action_id", "verb", "object", "attributes", "embedding"]
    assert isinstance(spec_of(log.batch_source), ActionLogSpec)


def test_history_features_and_cap() -> None:
    log = action_log("acts", member, VERBS, "data/acts", embedding_dim=4)
    history = action_history("recent", log, max_actions=20)
    spec = spec_of(history)
    assert isinstance(spec, HistorySpec) and spec.max_actions == 20 and spec.embedding_dim == 4
    assert [f.name for f in history.features] == ["action_ts", "action_verbs", "action_objects", "action_embeddings"]
    assert history.online is False


def test_history_with_read_time_join() -> None:
    log = action_log("acts", member, VERBS, "data/acts")
    history = action_history("recent", log, attribute=ObjectAttribute(jobs, "embedding", dim=8, object_prefix="job:"))
    spec = spec_of(history)
    assert isinstance(spec, HistorySpec) and spec.attribute is not None
    assert (spec.attribute.join_key, spec.attribute.key_is_int, spec.embedding_dim) == ("job_id", True, 8)
    assert spec.attribute.object_key("job:17") == 17
    assert spec.attribute.object_key("job:x") is None
    assert spec.attribute.object_key("post:17") is None


def test_history_without_embeddings_has_no_embedding_feature() -> None:
    history = action_history("recent", action_log("acts", member, VERBS, "data/acts"))
    assert [f.name for f in history.features] == ["action_ts", "action_verbs", "action_objects"]


def test_windowed_features_schema() -> None:
    history = action_history("recent", action_log("acts", member, VERBS, "data/acts", embedding_dim=4))
    odfv = windowed_action_features("win", history, [timedelta(hours=1), timedelta(minutes=90)],
                                    verbs=["apply"], candidate=jobs[["embedding"]])
    spec = spec_of(odfv)
    assert isinstance(spec, WindowedFeaturesSpec)
    assert [w.label for w in spec.windows] == ["1h", "90m"]
    assert spec.candidate == "jobs__embedding"
    assert {f.name: str(f.dtype) for f in odfv.features} == {
        "apply_count_1h": "Int64", "apply_mean_emb_1h": "Array(Float32)", "apply_sim_1h": "Float64",
        "apply_count_90m": "Int64", "apply_mean_emb_90m": "Array(Float32)", "apply_sim_90m": "Float64",
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: action_log("a", Entity(name="e", join_keys=["k"]), VERBS, "p"),
            "entity 'e' needs value_type INT64 or STRING",
        ),
        (lambda: action_log("a", member, VERBS, "p", max_actions=0), "max_actions must be positive, got 0"),
        (lambda: action_log("a", member, VERBS, "p", retention=timedelta(0)), "retention must be positive"),
        (lambda: action_history("h", jobs), "'jobs' is not an action log"),
        (
            lambda: action_history("h", action_log("a", member, VERBS, "p"), max_actions=500),
            "max_actions=500 exceeds the log's cap 200",
        ),
        (
            lambda: action_history(
                "h",
                action_log("a", member, VERBS, "p", embedding_dim=2),
                attribute=ObjectAttribute(jobs, "embedding", dim=2),
            ),
            "already stores embeddings",
        ),
        (
            lambda: action_history(
                "h", action_log("a", member, VERBS, "p"), attribute=ObjectAttribute(jobs, "missing", dim=2)
            ),
            "'jobs' has no feature 'missing'",
        ),
        (
            lambda: windowed_action_features(
                "w",
                action_history("h", action_log("a", member, VERBS, "p")),
                {"1h": timedelta(hours=1)},
                verbs=["like"],
            ),
            r"verbs \['like'\] are not declared by log 'a'",
        ),
        (
            lambda: windowed_action_features(
                "w",
                action_history("h", action_log("a", member, VERBS, "p", embedding_dim=2)),
                {"1h": timedelta(hours=1)},
                candidate=jobs[["embedding", "geo"]],
            ),
            "candidate must project one embedding feature",
        ),
        (lambda: windowed_action_features("w", jobs, {"1h": timedelta(hours=1)}), "'jobs' is not a history"),
    ],
)
def test_bad_declarations_fail_with_a_clear_message(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((DeclarationError, ValueError), match=message):
        build()


def _log(**kwargs):  # type: ignore[no-untyped-def]
    return action_log("a", member, VERBS, "p", **kwargs)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: action_log("a", member, [], "p"), "action_log 'a': verbs must not be empty, got []"),
        (
            lambda: action_history("h", _log(), max_actions=500),
            "action_history 'h': max_actions=500 exceeds the log's cap 200: the log never keeps that many",
        ),
        (
            lambda: windowed_action_features("w", action_history("h", _log()), {}),
            "windowed_action_features 'w' (or declare half_lives, interests or seen_windows): "
            "windows must not be empty, got {}",
        ),
        (
            lambda: windowed_action_features("w", action_history("h", _log()), []),
            "windowed_action_features 'w' (or declare half_lives, interests or seen_windows): "
            "windows must not be empty, got []",
        ),
        (
            lambda: windowed_action_features("w", action_history("h", _log()), {"1h": timedelta(hours=1)}, verbs=[]),
            "windowed_action_features 'w' (None: every verb of the log): verbs must not be empty, got []",
        ),
        (lambda: action_log("a", member, VERBS, 7), "action_log 'a': path: Input should be a valid string (got 7)"),
        (
            lambda: action_history("h", _log(), attribute=ObjectAttribute(jobs, "embedding", dim=2, object_prefix=7)),
            "action_history 'h': attribute.object_prefix: Input should be a valid string (got 7)",
        ),
        (
            lambda: action_history("h", _log(), attribute=ObjectAttribute(jobs, "embedding", dim=-1)),
            "action_history 'h': attribute.dim: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            lambda: windowed_action_features(
                "w", action_history("h", _log(retention=timedelta(hours=48))), {"7d": timedelta(days=7)}),
            "windowed_action_features 'w': windows 7d (168h) is longer than the retention 48h of log 'a': "
            "a history holds no older action",
        ),
        (
            lambda: windowed_action_features(
                "w", action_history("h", _log(retention=timedelta(hours=48))), [timedelta(hours=48, seconds=1)]),
            "windowed_action_features 'w': windows 172801s is longer than the retention 48h of log 'a': "
            "a history holds no older action",
        ),
        (
            lambda: windowed_action_features(
                "w", action_history("h", _log(embedding_dim=2, retention=timedelta(hours=48))),
                {"48h": timedelta(hours=48)}, candidate=jobs[["embedding"]], object_prefix="job:",
                seen_windows={"3d": timedelta(days=3)}),
            "windowed_action_features 'w': seen_windows 3d (72h) is longer than the retention 48h of log 'a': "
            "a history holds no older action",
        ),
    ],
)
def test_declaration_mistakes_raise_declaration_error_naming_the_argument(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeclarationError) as err:
        build()
    assert str(err.value) == message
    assert not isinstance(err.value, pydantic.ValidationError)


def test_windows_as_long_as_the_retention_and_longer_half_lives_are_allowed() -> None:
    history = action_history("h", _log(embedding_dim=2, retention=timedelta(hours=48)))
    view = windowed_action_features(
        "w", history, {"48h": timedelta(hours=48)}, candidate=jobs[["embedding"]], object_prefix="job:",
        seen_windows={"48h": timedelta(hours=48)}, half_lives={"7d": timedelta(days=7)},
        interests=Interests(k=2, half_life=timedelta(days=30)))
    spec = spec_of(view, WindowedFeaturesSpec)
    assert spec is not None and spec.seen is not None and spec.interests is not None
    assert (spec.windows[0].length_ms, spec.seen.windows[0].length_ms) == (48 * 3_600_000,) * 2
    assert (spec.decays[0].half_life_ms, spec.interests.half_life_ms) == (168 * 3_600_000, 720 * 3_600_000)


def test_spec_of_with_a_kind_gives_only_that_kind() -> None:
    log = action_log("acts", member, VERBS, "data/acts")
    history = action_history("recent", log, max_actions=20)
    assert spec_of(log, ActionLogSpec) == spec_of(log)
    assert spec_of(log, HistorySpec) is None and spec_of(history, ActionLogSpec) is None
    assert spec_of(history, HistorySpec) == spec_of(history)
    assert spec_of(jobs, HistorySpec) is None and spec_of(jobs) is None


def test_the_window_of_a_read_at_now_is_retention_and_cap() -> None:
    log = action_log("acts", member, VERBS, "data/acts", retention=timedelta(hours=2), max_actions=50)
    log_spec, history_spec = spec_of(log, ActionLogSpec), spec_of(action_history("h", log, max_actions=20), HistorySpec)
    assert log_spec is not None and history_spec is not None
    now = 10 * 3_600_000
    assert log_spec.window(now) == HistoryWindow(now - 2 * 3_600_000, now, 50)
    assert log_spec.window(now, 7) == HistoryWindow(8 * 3_600_000, now, 7)
    assert history_spec.window(now) == HistoryWindow(8 * 3_600_000, now, 20)


HOUR = timedelta(hours=1)
_with_emb = action_history("h", action_log("a", member, VERBS, "p", embedding_dim=2))
_without_emb = action_history("h", action_log("a", member, VERBS, "p"))
_W = "windowed_action_features 'w'"


def _beyond(history: FeatureView = _with_emb, **kwargs: Any) -> OnDemandFeatureView:
    return windowed_action_features("w", history, **kwargs)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: _beyond(seen_windows={"1h": HOUR}, object_prefix="job:"),
         f"{_W}: seen_windows needs candidate (the view keyed by the acted-on object)"),
        (lambda: _beyond(seen_windows={"1h": HOUR}, candidate=jobs[["embedding"]]),
         f"{_W}: seen_windows needs object_prefix, the part of an action's object before the candidate's key "
         "(e.g. 'job:' for 'job:222')"),
        (lambda: _beyond(seen_windows={"1h": HOUR}, candidate=jobs[["embedding"]], object_prefix=7),
         f"{_W}: object_prefix: Input should be a valid string (got 7)"),
        (lambda: _beyond(seen_windows=[timedelta(0)], candidate=jobs[["embedding"]], object_prefix="job:"),
         f"{_W}: seen_windows 0h must be positive, got 0:00:00"),
        (lambda: _beyond(_without_emb, interests=Interests()), f"{_W}: interests need embeddings, and 'h' has none"),
        (lambda: _beyond(interests=Interests(verbs=["like", "apply"])),
         f"{_W}: interests.verbs ['like'] are not declared by log 'a'"),
        (lambda: _beyond(interests=Interests(verbs=[])),
         f"{_W} (None: the view's verbs): interests.verbs must not be empty, got []"),
        (lambda: _beyond(interests=Interests(k=0)), f"{_W}: interests.k: Input should be greater than 0 (got 0)"),
        (lambda: _beyond(interests=Interests(k=-2)), f"{_W}: interests.k: Input should be greater than 0 (got -2)"),
        (lambda: _beyond(interests=Interests(half_life=timedelta(0))),
         f"{_W}: interests.half_life must be positive, got 0:00:00"),
        (lambda: _beyond(interests=Interests(distance_threshold=0.0)),
         f"{_W}: interests.distance_threshold: Input should be greater than 0 (got 0.0)"),
        (lambda: _beyond(interests=Interests(distance_threshold=-1.5)),
         f"{_W}: interests.distance_threshold: Input should be greater than 0 (got -1.5)"),
        (lambda: _beyond(half_lives={"fast": timedelta(0)}), f"{_W}: half_lives fast must be positive, got 0:00:00"),
        (lambda: _beyond(half_lives=[-HOUR]), f"{_W}: half_lives -1h must be positive, got -1:00:00"),
        (lambda: _beyond(),
         f"{_W} (or declare half_lives, interests or seen_windows): windows must not be empty, got ()"),
        (lambda: _beyond(verbs=["like"], half_lives=[HOUR]), f"{_W}: verbs ['like'] are not declared by log 'a'"),
    ],
)
def test_beyond_the_mean_mistakes_name_the_argument(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeclarationError) as err:
        build()
    assert str(err.value) == message


def _full_beyond() -> OnDemandFeatureView:
    return windowed_action_features(
        "w", _with_emb, verbs=["apply"], candidate=jobs[["embedding"]],
        half_lives={"1h": HOUR, "1d": timedelta(days=1)},
        interests=Interests(k=2, half_life=timedelta(hours=6), verbs=["apply", "dismiss"], distance_threshold=0.7),
        seen_windows=[timedelta(hours=24)], object_prefix="job:",
    )


def test_beyond_the_mean_spec_and_schema() -> None:
    spec = spec_of(_full_beyond(), WindowedFeaturesSpec)
    assert spec is not None and spec.interests is not None and spec.seen is not None
    assert [(d.label, d.half_life_ms) for d in spec.decays] == [("1h", 3_600_000), ("1d", 86_400_000)]
    assert (spec.interests.k, spec.interests.half_life_ms, spec.interests.verbs, spec.interests.distance_threshold) \
        == (2, 6 * 3_600_000, ("apply", "dismiss"), 0.7)
    assert (spec.seen.candidate_key, spec.seen.object_prefix, spec.seen.key_is_int) == ("job_id", "job:", True)
    assert [w.label for w in spec.seen.windows] == ["24h"]
    assert {f.name: str(f.dtype) for f in _full_beyond().features} == {
        "apply_decayed_count_1h": "Float64", "apply_decayed_mean_emb_1h": "Array(Float32)",
        "apply_decayed_sim_1h": "Float64", "apply_decayed_count_1d": "Float64",
        "apply_decayed_mean_emb_1d": "Array(Float32)", "apply_decayed_sim_1d": "Float64",
        "apply_seen_count_24h": "Int64", "apply_seen_age_ms_24h": "Int64",
        "interest_medoid_emb_1": "Array(Float32)", "interest_medoid_emb_2": "Array(Float32)",
        "interest_importance_1": "Float64", "interest_importance_2": "Float64",
        "interest_clusters": "Int64", "interest_max_sim": "Float64", "interest_weighted_sim": "Float64",
    }


def test_seen_takes_the_object_prefix_of_the_read_time_join() -> None:
    history = action_history("h", _log(), attribute=ObjectAttribute(jobs, "embedding", dim=2, object_prefix="j/"))
    spec = spec_of(windowed_action_features("w", history, seen_windows=[HOUR], candidate=jobs[["embedding"]]),
                   WindowedFeaturesSpec)
    assert spec is not None and spec.seen is not None and spec.seen.object_prefix == "j/"


def test_beyond_the_mean_survives_the_registry_round_trip() -> None:
    view = _full_beyond()
    back = OnDemandFeatureView.from_proto(view.to_proto())
    assert spec_of(back) == spec_of(view)
    assert [(f.name, f.dtype) for f in back.features] == [(f.name, f.dtype) for f in view.features]
    inputs = {"request_ts": [7_200_000], "h__action_ts": [[3_600_000]], "h__action_verbs": [["apply"]],
              "h__action_objects": [["job:4"]], "h__action_embeddings": [[0.6, 0.8]],
              "jobs__embedding": [[1.0, 0.0]], "job_id": [4]}
    got = back.feature_transformation.udf(inputs)
    assert got == view.feature_transformation.udf(inputs)
    seen = (got["apply_seen_count_24h"], got["apply_seen_age_ms_24h"], got["interest_clusters"])
    assert seen == ([1], [3_600_000], [1])
    assert got["apply_decayed_count_1h"] == [0.5] and got["interest_max_sim"] == pytest.approx([0.6])
