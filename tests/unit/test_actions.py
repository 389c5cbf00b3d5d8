"""The standard action schema: every rejection names what is wrong."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from feast_pinot.actions import (
    Action,
    actions_to_frame,
    actions_to_table,
    datetime_to_ms,
    derive_action_id,
    ms_to_datetime,
    validate_action,
    validate_actions,
)
from feast_pinot.specs import ActionLogSpec

NOW = 1_767_571_200_000
SPEC = ActionLogSpec(
    name="member_actions", actor_join_key="member_id", actor_is_int=True,
    verbs=("job-apply", "job-view"), retention_ms=96 * 3_600_000, max_actions=200,
    embedding_dim=2, future_tolerance_ms=300_000, path="data/member_actions",
)


def good(**changes: Any) -> dict[str, Any]:
    raw = {"action_id": "a1", "actor": 7, "verb": "job-apply", "object": "job:1", "timestamp": NOW - 1000,
           "verbAttributes": {"surface": "home"}, "objectAttributes": {"embedding": [0.5, 1.5], "geo": "eu"}}
    raw.update(changes)
    return raw


def test_valid_action_is_normalised() -> None:
    result = validate_action(good(), SPEC, NOW)
    assert result == Action(
        action_id="a1", actor=7, verb="job-apply", object="job:1", ts_ms=NOW - 1000,
        embedding=(0.5, 1.5),
        attributes='{"objectAttributes":{"geo":"eu"},"verbAttributes":{"surface":"home"}}',
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"actor": None}, "missing required field 'actor'"),
        ({"actor": "7"}, "'actor' must be an integer member_id, got '7'"),
        ({"actor": True}, "'actor' must be an integer member_id, got True"),
        ({"verb": "job-like"}, "unknown verb 'job-like'; log 'member_actions' declares ['job-apply', 'job-view']"),
        ({"object": ""}, "'object' must be a non-empty string, got ''"),
        ({"timestamp": "2026-01-01"}, "'timestamp' must be epoch milliseconds (int), got '2026-01-01'"),
        (
            {"timestamp": NOW - 96 * 3_600_000},
            f"timestamp {NOW - 96 * 3_600_000} (2026-01-01 00:00:00.000 UTC) is outside the 96 h retention "
            "(now 2026-01-05 00:00:00.000 UTC)",
        ),
        (
            {"timestamp": NOW + 300_001},
            f"timestamp {NOW + 300_001} (2026-01-05 00:05:00.001 UTC) is more than 5 min in the future "
            "(now 2026-01-05 00:00:00.000 UTC)",
        ),
        (
            {"timestamp": NOW // 1000},
            "'timestamp' must be epoch milliseconds from 1980-01-01 to 2100-01-01, got 1767571200 (as milliseconds "
            "it is 1970-01-21T10:59:31.200Z; seconds? as seconds it is 2026-01-05T00:00:00.000Z)",
        ),
        ({"objectAttributes": {"embedding": [1.0]}}, "embedding must have 2 floats, got 1"),
        ({"objectAttributes": {"embedding": [1.0, "x"]}}, "embedding must contain only numbers, got str"),
        ({"objectAttributes": {"embedding": [1.0, float("nan")]}}, "embedding contains NaN or infinity"),
        ({"objectAttributes": {}}, "missing objectAttributes.embedding"),
        ({"verbAttributes": "mobile"}, "'verbAttributes' must be an object, got str"),
        ({"action_id": 5}, "'action_id' must be a string, got 5"),
    ],
)
def test_rejections_name_the_problem(changes: dict[str, Any], reason: str) -> None:
    assert validate_action(good(**changes), SPEC, NOW) == reason


def test_non_object_is_rejected() -> None:
    assert validate_action([1, 2], SPEC, NOW) == "an action must be an object, got list"


def test_boundaries_of_the_accepted_time_range() -> None:
    oldest_ok = NOW - 96 * 3_600_000 + 1
    assert isinstance(validate_action(good(timestamp=oldest_ok), SPEC, NOW), Action)
    assert isinstance(validate_action(good(timestamp=NOW + 300_000), SPEC, NOW), Action)


def test_missing_action_id_is_derived_deterministically() -> None:
    first = validate_action(good(action_id=None), SPEC, NOW)
    again = validate_action(good(action_id=None), SPEC, NOW)
    other = validate_action(good(action_id=None, object="job:2"), SPEC, NOW)
    assert isinstance(first, Action) and isinstance(again, Action) and isinstance(other, Action)
    assert first.action_id == again.action_id == derive_action_id(good())
    assert other.action_id != first.action_id


def test_validate_actions_splits_good_and_bad() -> None:
    good_ones, bad = validate_actions([good(), good(verb="x"), good(action_id="a2")], SPEC, NOW)
    assert [a.action_id for a in good_ones] == ["a1", "a2"]
    assert bad == [(1, "unknown verb 'x'; log 'member_actions' declares ['job-apply', 'job-view']")]


def test_log_without_embeddings_rejects_one() -> None:
    light = SPEC.model_copy(update={"embedding_dim": 0})
    assert validate_action(good(), light, NOW) == "log 'member_actions' stores no embeddings (embedding_dim=0)"
    assert isinstance(validate_action(good(objectAttributes={"geo": "eu"}), light, NOW), Action)


def test_push_frame_has_exactly_the_source_columns() -> None:
    actions, _ = validate_actions([good(), good(action_id="a2", timestamp=NOW - 1)], SPEC, NOW)
    frame = actions_to_frame(actions, SPEC)
    assert list(frame.columns) == [
        "member_id",
        "action_id",
        "verb",
        "object",
        "attributes",
        "event_timestamp",
        "embedding",
    ]
    assert frame["member_id"].dtype == "int64"
    assert frame["event_timestamp"].tolist() == [
        pd.Timestamp(NOW - 1000, unit="ms", tz="UTC"),
        pd.Timestamp(NOW - 1, unit="ms", tz="UTC"),
    ]
    assert json.loads(frame["attributes"][0]) == {
        "objectAttributes": {"geo": "eu"},
        "verbAttributes": {"surface": "home"},
    }


def test_offline_table_holds_what_the_push_frame_holds() -> None:
    actions, _ = validate_actions([good(), good(action_id="a2", timestamp=NOW - 1, actor=9)], SPEC, NOW)
    via_pandas = pa.Table.from_pandas(actions_to_frame(actions, SPEC), preserve_index=False)
    table = actions_to_table(actions, SPEC)
    assert table.column_names == via_pandas.column_names
    assert table.to_pylist() == via_pandas.cast(table.schema).to_pylist()


@pytest.mark.parametrize("ms", [0, 1, 999, NOW, NOW + 1, 253_402_300_799_999])
def test_millisecond_conversions_are_exact(ms: int) -> None:
    assert datetime_to_ms(ms_to_datetime(ms)) == ms
    assert datetime_to_ms(pd.Timestamp(ms, unit="ms", tz="UTC")) == ms


def test_naive_datetimes_are_utc() -> None:
    assert datetime_to_ms(datetime(1970, 1, 1, 0, 0, 1)) == 1000
    assert datetime_to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)) == 1000


F32_RANGE = "embedding values must be within float32's range (|x| <= 3.402823e+38)"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"object": "job:\ud800"}, "'object' is not valid text (UTF-8 cannot encode it): 'job:\\ud800'"),
        ({"action_id": "a\udfff"}, "'action_id' is not valid text (UTF-8 cannot encode it): 'a\\udfff'"),
        ({"verbAttributes": {"surface": "x\ud800"}}, "attributes contain text UTF-8 cannot encode (a lone surrogate)"),
        ({"actor": 2**63}, "'actor' 9223372036854775808 is outside int64"),
        ({"actor": -(2**63) - 1}, "'actor' -9223372036854775809 is outside int64"),
        ({"objectAttributes": {"embedding": [1e39, 0.0]}}, F32_RANGE),
        ({"objectAttributes": {"embedding": [0.0, -3.5e38]}}, F32_RANGE),
        ({"objectAttributes": {"embedding": [10**400, 0.0]}}, F32_RANGE),
        ({"objectAttributes": {"embedding": [1e400, 0.0]}}, "embedding contains NaN or infinity"),
        ({"objectAttributes": {"embedding": [float("-inf"), 0.0]}}, "embedding contains NaN or infinity"),
        ({"objectAttributes": {"embedding": [True, 0.0]}}, "embedding must contain only numbers, got bool"),
        ({"objectAttributes": {"embedding": ["1.5", 0.0]}}, "embedding must contain only numbers, got str"),
        ({"objectAttributes": {"embedding": [[1.0], 0.0]}}, "embedding must contain only numbers, got list"),
        ({"objectAttributes": {"embedding": np.array([True, False])}}, "embedding must have 2 floats, got ndarray"),
        ({"objectAttributes": {"embedding": np.zeros((1, 2))}}, "embedding must have 2 floats, got ndarray"),
        ({"objectAttributes": {"embedding": np.array([np.nan, 0.0])}}, "embedding contains NaN or infinity"),
        ({"actor": np.bool_(True)}, "'actor' must be an integer member_id, got np.True_"),
        ({"timestamp": np.float64(NOW)}, f"'timestamp' must be epoch milliseconds (int), got {np.float64(NOW)!r}"),
    ],
)
def test_values_the_stores_cannot_hold_are_refused(changes: dict[str, Any], reason: str) -> None:
    assert validate_action(good(**changes), SPEC, NOW) == reason


def test_string_actor_must_be_utf8() -> None:
    by_name = SPEC.model_copy(update={"actor_is_int": False})
    assert validate_action(good(actor="m\ud800"), by_name, NOW) == (
        "'actor' is not valid text (UTF-8 cannot encode it): 'm\\ud800'"
    )
    assert validate_action(good(actor="mé"), by_name, NOW).actor == "mé"


def test_edges_of_int64_and_float32_are_accepted() -> None:
    f32_max = float(np.finfo(np.float32).max)
    for actor in (2**63 - 1, -(2**63)):
        assert validate_action(good(actor=actor), SPEC, NOW).actor == actor
    result = validate_action(good(objectAttributes={"embedding": [f32_max, -f32_max]}), SPEC, NOW)
    assert result.embedding == (f32_max, -f32_max)
    non_bmp = validate_action(good(verbAttributes={"note": "😀 ok"}), SPEC, NOW)
    assert json.loads(non_bmp.attributes)["verbAttributes"] == {"note": "😀 ok"}


def test_numpy_values_are_accepted_as_plain_ones() -> None:
    plain = validate_action(good(action_id=None), SPEC, NOW)
    numpy = validate_action(
        good(
            action_id=None,
            actor=np.int64(7),
            timestamp=np.int64(NOW - 1000),
            objectAttributes={"embedding": np.array([0.5, 1.5], np.float32), "geo": "eu"},
        ),
        SPEC,
        NOW,
    )
    listed = validate_action(
        good(action_id=None, objectAttributes={"embedding": [np.float32(0.5), np.int32(1.5)], "geo": "eu"}), SPEC, NOW
    )
    assert numpy == plain
    assert type(numpy.actor) is int and type(numpy.ts_ms) is int
    assert listed.embedding == (0.5, 1.0)
