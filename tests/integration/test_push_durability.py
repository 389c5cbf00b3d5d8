"""A push whose offline write (or online write) fails leaves nothing a retry of the same push cannot heal.

The failures are real: a file where the log's date folder must go (root, as
in CI, ignores read-only folders), and an exclusive lock on the embedded
store's SQLite file. After each, the same push is sent again and both stores
must hold every action exactly once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from feast import FeatureStore
from feast.data_source import PushMode

from feast_pinot import push_actions
from feast_pinot.actions import actions_to_frame, validate_actions
from feast_pinot.clock import frozen
from feast_pinot.errors import OfflineWriteError, PushError
from feast_pinot.specs import ActionLogSpec, spec_of
from tests.integration.mini_repo import HOUR, jobs_frame, make_mini_repo

DAY = 24 * HOUR
NOW = 1_767_657_600_000 + 6 * HOUR  # 2026-01-06T06:00Z: a push spans 2026-01-05 and 2026-01-06
JOBS = {1: [1.0, 0.0], 2: [0.0, 1.0]}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    root = tmp_path_factory.mktemp("durability") / "repo"
    with frozen(NOW):
        make_mini_repo(root, jobs_frame(JOBS, NOW - 50 * HOUR))
    config = yaml.safe_load((root / "feature_store.yaml").read_text())
    config["online_store"]["busy_timeout_ms"] = 200  # a locked file fails the write quickly
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    return FeatureStore(repo_path=str(root))


def _actions(member: int, back: int = 0) -> list[dict[str, Any]]:
    """Four actions on two dates (today and yesterday, ``back`` hours earlier): the earlier day's part comes first."""
    times = [NOW - (back + h) * HOUR for h in (10, 8, 2, 1)]
    return [{"action_id": f"{member}-{i}", "actor": member, "verb": "a", "object": "job:1", "timestamp": ts,
             "objectAttributes": {"embedding": [1.0, float(i)]}} for i, ts in enumerate(times)]


def _online(store: FeatureStore, member: int) -> list[int]:
    with frozen(NOW):
        got = store.get_online_features(features=["acts_hist:action_ts"], entity_rows=[{"member_id": member}])
    return list(got.to_dict()["action_ts"][0] or [])


def _offline(store: FeatureStore, member: int) -> list[int]:
    entity_df = pd.DataFrame({"member_id": [member], "event_timestamp": [pd.Timestamp(NOW, unit="ms", tz="UTC")]})
    found = store.get_historical_features(entity_df=entity_df, features=["acts_hist:action_ts"]).to_df()
    return list(found.loc[0, "action_ts"])


@contextlib.contextmanager
def _blocked_date(store: FeatureStore, date: str) -> Iterator[Path]:
    """A file where the log's folder for ``date`` must be made: writing that day's part fails."""
    blocker = Path(store.repo_path) / "data" / "acts" / f"date={date}"
    assert not blocker.exists(), "the blocked date has no part yet"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("in the way")
    try:
        yield blocker
    finally:
        blocker.unlink()


@contextlib.contextmanager
def _locked_online_store(store: FeatureStore) -> Iterator[None]:
    conn = sqlite3.connect(Path(store.repo_path) / "data" / "online.db", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_push_actions_writes_the_log_first_and_a_failed_log_write_writes_nothing_online(store: FeatureStore) -> None:
    member, acts = 21, _actions(21)
    with frozen(NOW), _blocked_date(store, "2026-01-06"), pytest.raises(OfflineWriteError) as caught:
        push_actions(store, "acts", acts)
    message = str(caught.value)
    assert message.startswith("writing 4 action(s) of 'acts' to ") and "failed at part 2 of 2" in message
    assert message.endswith("; nothing was written to the online store")
    assert len(caught.value.written) == 1 and "date=2026-01-05" in caught.value.written[0]
    assert caught.value.written[0] in message and isinstance(caught.value, OSError)
    assert _online(store, member) == []
    # yesterday's part was written: the offline log has those two actions, training sees them
    assert _offline(store, member) == [acts[1]["timestamp"], acts[0]["timestamp"]]
    with frozen(NOW):
        assert push_actions(store, "acts", acts) == 4  # the retry: the same actions, the same ids
    newest_first = [a["timestamp"] for a in reversed(acts)]
    assert _online(store, member) == newest_first
    assert _offline(store, member) == newest_first  # yesterday's two are in the log twice, counted once


def test_a_failed_online_write_after_the_log_names_where_the_actions_are(store: FeatureStore) -> None:
    member, acts = 22, _actions(22)
    with frozen(NOW), _locked_online_store(store), pytest.raises(PushError) as caught:
        push_actions(store, "acts", acts)
    log = Path(store.repo_path) / "data" / "acts"
    assert str(caught.value).startswith(f"4 action(s) of 'acts' are in its offline log ({log}) but the online "
                                        f"store did not take them: ")
    assert "locked" in str(caught.value) and str(caught.value).endswith(
        "Push the same actions again: their ids make the retry keep each action once on both sides")
    newest_first = [a["timestamp"] for a in reversed(acts)]
    assert _offline(store, member) == newest_first
    assert _online(store, member) == []
    with frozen(NOW):
        push_actions(store, "acts", acts)
    assert _online(store, member) == newest_first
    assert _offline(store, member) == newest_first


def test_feast_push_online_and_offline_names_the_online_write_and_a_retry_heals(store: FeatureStore) -> None:
    member, acts = 23, _actions(23, back=48)  # 2026-01-03 and 2026-01-04: dates no other test writes
    spec = spec_of(store.get_feature_view("acts"), ActionLogSpec)
    assert spec is not None
    good, bad = validate_actions(acts, spec, NOW)
    assert not bad
    frame = actions_to_frame(good, spec)
    with frozen(NOW), _blocked_date(store, "2026-01-03"), pytest.raises(OfflineWriteError) as caught:
        store.push("acts_push", frame, to=PushMode.ONLINE_AND_OFFLINE)
    message = str(caught.value)
    assert "failed at part 1 of 2 (parts written before: none)" in message
    assert "has written these actions to the online store already (Feast writes online first)" in message
    assert caught.value.written == ()
    newest_first = [a["timestamp"] for a in reversed(acts)]
    assert _online(store, member) == newest_first  # Feast's order: online first
    assert _offline(store, member) == []
    with frozen(NOW):
        store.push("acts_push", frame, to=PushMode.ONLINE_AND_OFFLINE)  # the same frame again
    assert _online(store, member) == newest_first  # each action once
    assert _offline(store, member) == newest_first
