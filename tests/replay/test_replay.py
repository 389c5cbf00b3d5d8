"""The freshness replay: cut-off exactness, no leakage, the planted effect, same numbers on a rerun.

Every test builds training data through the real plug-ins: a feature repo
applied with Feast, the interactions written as the action log's Parquet
parts, ``get_historical_features`` per delay.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feast_pinot import Interests
from feast_pinot.errors import ReplayError
from feast_pinot.replay import FeatureSettings, ReplayConfig, ReplayData, run_replay
from feast_pinot.replay.features import build_repo
from feast_pinot.replay.report import table, to_json
from feast_pinot.replay.run import FULL, evaluation_of, feature_columns, split
from feast_pinot.replay.synthetic import POSITIVE, synthetic_data

HOUR, DAY = 3_600_000, 86_400_000
START = 1_767_571_200_000
SETTINGS = FeatureSettings(
    windows={"1h": timedelta(hours=1), "1d": timedelta(days=1)}, half_lives={"1d": timedelta(days=1)},
    interests=Interests(k=2, half_life=timedelta(days=1)), seen_windows={"1d": timedelta(days=1)},
    retention=timedelta(days=30))


def _random_data(seed: int, actors: int = 20, per_actor: int = 40, peek: bool = False) -> ReplayData:
    """Actions of verbs a/b on 30 objects over 3 days; labels are coin flips on every other row.

    Every fifth action shares its instant with the one before (same-instant actions must
    not see each other). ``peek`` plants a future-only signal: 1 s after each row labelled 1,
    the actor "peeks" at the same object.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for actor in range(actors):
        times = np.sort(rng.integers(START, START + 3 * DAY, size=per_actor))
        times[5::5] = times[4::5][: len(times[5::5])]
        for i, ts in enumerate(times):
            label = float(rng.random() < 0.5) if i % 2 == 0 else np.nan
            obj = f"m{rng.integers(30)}"
            rows.append({"actor": f"u{actor}", "object": obj, "ts_ms": int(ts), "verb": "ab"[rng.integers(2)],
                         "label": label})
            if peek and label == 1.0:
                rows.append({"actor": f"u{actor}", "object": obj, "ts_ms": int(ts) + 1000, "verb": "peek",
                             "label": np.nan})
    frame = pd.DataFrame(rows).astype({"ts_ms": "int64"})
    embeddings = {f"m{j}": np.random.default_rng([seed, j]).normal(size=4) for j in range(30)}
    return ReplayData.of("random", frame, embeddings)


def _expected_count(data: ReplayData, verb: str, window_ms: int, delay_ms: int) -> list[int]:
    """Per labelled row: the actor's actions of ``verb`` in (t - d - 1 - w, t - d - 1], by numpy."""
    frame = data.interactions
    out = []
    for _, row in data.labelled.iterrows():
        request = row["ts_ms"] - delay_ms - 1
        mine = frame[(frame["actor"] == row["actor"]) & (frame["verb"] == verb)]["ts_ms"].to_numpy()
        out.append(int(((mine > request - window_ms) & (mine <= request)).sum()))
    return out


@pytest.mark.parametrize("delay_ms", [0, HOUR])
def test_counts_end_one_millisecond_before_t_minus_the_delay(tmp_path: Path, delay_ms: int) -> None:
    data = _random_data(seed=5)
    same_instant = data.labelled["ts_ms"].isin(data.interactions["ts_ms"][data.interactions["label"].isna()])
    assert same_instant.sum() > 0  # some labelled rows share their instant with another action
    repo = build_repo(tmp_path, data, SETTINGS)
    frame = repo.frame_at(delay_ms)
    assert len(frame) == len(data.labelled)
    for verb in ("a", "b"):
        for label, window_ms in (("1h", HOUR), ("1d", DAY)):
            got = frame[f"replay_windows__{verb}_count_{label}"].astype(int).tolist()
            assert got == _expected_count(data, verb, window_ms, delay_ms), (verb, label)
    embedding_columns = [c for c in frame.columns if c.startswith("object_emb_")]
    objects = data.labelled["object"].map({o: i for i, o in enumerate(data.objects)}).to_numpy()
    assert np.allclose(frame[embedding_columns].to_numpy(), data.embeddings[objects], atol=1e-7)


def test_the_time_split_trains_only_on_rows_before_every_test_row() -> None:
    times = np.array([5, 1, 3, 3, 9, 7, 7, 2, 8, 10])
    cut = split(times, 0.3)
    assert cut == 7  # the 0.7 quantile (lower): sorted 1 2 3 3 5 7 7 8 9 10, index 6
    assert times[times < cut].max() < times[times >= cut].min()
    assert (times >= cut).sum() == 5  # both 7s are tested: a tie never straddles the split
    with pytest.raises(ReplayError, match="too few distinct times"):
        split(np.array([4, 4, 4, 4]), 0.5)


def _full_set_auc(data: ReplayData, root: Path, delay_ms: int) -> float:
    config = ReplayConfig(delays_ms=(0,), bootstrap=20, features=SETTINGS)
    evaluation, _ = evaluation_of(data, config)
    repo = build_repo(root, data, SETTINGS)
    frame = repo.frame_at(delay_ms)
    scores = evaluation.scores(frame, feature_columns(frame, repo, ("windows", "decay", "interests", "seen")))
    return evaluation.measure(scores)[1]["auc"]


def test_a_future_only_signal_gives_no_lift_and_would_if_the_cut_off_leaked(tmp_path: Path) -> None:
    clean = _random_data(seed=9, actors=40, per_actor=60)
    planted = _random_data(seed=9, actors=40, per_actor=60, peek=True)
    assert len(planted.interactions) > len(clean.interactions)
    assert planted.labelled["label"].tolist() == clean.labelled["label"].tolist()
    auc_clean = _full_set_auc(clean, tmp_path / "clean", 0)
    auc_planted = _full_set_auc(planted, tmp_path / "planted", 0)
    # 1 minute into the future: the peeks 1 s after each positive row become visible.
    auc_leaky = _full_set_auc(planted, tmp_path / "leaky", -60_000)
    assert abs(auc_clean - 0.5) < 0.08  # coin-flip labels: the past says nothing
    assert abs(auc_planted - auc_clean) < 0.04, (auc_planted, auc_clean)
    assert auc_leaky > 0.95, auc_leaky


@pytest.fixture(scope="module")
def drifting(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReplayData, ReplayConfig]:
    data = synthetic_data(members=80, hours=240)
    settings = FeatureSettings(
        windows={"1h": timedelta(hours=1), "1d": timedelta(days=1)}, half_lives={"1d": timedelta(days=1)},
        interests=Interests(k=3, half_life=timedelta(days=1), verbs=POSITIVE),
        seen_windows={"1d": timedelta(days=1)}, retention=timedelta(days=10))
    return data, ReplayConfig(delays_ms=(0, 2 * DAY), bootstrap=200, seed=0, features=settings, ablation=False)


def test_the_replay_sees_the_planted_drift(drifting: tuple[ReplayData, ReplayConfig], tmp_path: Path) -> None:
    data, config = drifting
    report = run_replay(data, config, tmp_path)
    fresh, stale = report.outcome(FULL, 0), report.outcome(FULL, 2 * DAY)
    assert fresh.auc.value > 0.9
    assert stale.auc_change.high < 0, stale.auc_change  # worse at 2 days, the interval excludes no change
    assert stale.log_loss_change.low > 0, stale.log_loss_change
    assert fresh.auc_change.value == 0.0
    floor = report.outcome("object only", 0)
    assert abs(floor.auc.value - 0.5) < 0.1  # a job alone says nothing: interests differ per member
    assert report.train_rows + report.test_rows == len(data.labelled)
    assert "| 2d |" in table(report) and "Ablation" not in table(report)
    assert {o.feature_set for o in report.outcomes} == {FULL, "object only"}


def test_a_rerun_gives_the_same_numbers(tmp_path: Path) -> None:
    data = synthetic_data(members=12, hours=96, seed=3)
    config = ReplayConfig(delays_ms=(0, HOUR), bootstrap=30, seed=4, features=dataclasses.replace(
        SETTINGS, interests=Interests(k=2, half_life=timedelta(days=1), verbs=POSITIVE)))
    first = to_json(run_replay(data, config, tmp_path / "one"))
    second = to_json(run_replay(data, config, tmp_path / "two"))
    first.pop("seconds")
    second.pop("seconds")
    assert first == second


def test_bad_input_is_named() -> None:
    frame = pd.DataFrame({"actor": ["u"], "object": ["m"], "ts_ms": [1], "verb": ["a"], "label": [1]})
    with pytest.raises(ReplayError, match=r"missing \['verb'\]"):
        ReplayData.of("x", frame.drop(columns="verb"), {"m": [1.0]})
    with pytest.raises(ReplayError, match="both classes"):
        ReplayData.of("x", frame, {"m": [1.0]})
    two = pd.concat([frame, frame.assign(label=0, object="n")])
    with pytest.raises(ReplayError, match=r"1 object\(s\) of the interactions have no embedding, e.g. \['n'\]"):
        ReplayData.of("x", two, {"m": [1.0]})
    with pytest.raises(ReplayError, match="'label' must be 0, 1 or missing; row 1 has 2"):
        ReplayData.of("x", two.assign(label=[1, 2]), {"m": [1.0], "n": [2.0]})
    with pytest.raises(ReplayError, match="delays must be distinct and >= 0"):
        ReplayConfig(delays_ms=(0, -5))


def test_the_command_on_your_own_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from feast_pinot.replay.__main__ import main

    data = _random_data(seed=2, actors=15, per_actor=30)
    data.interactions.to_parquet(tmp_path / "clicks.parquet")
    objects = pd.DataFrame({"object": list(data.objects), "embedding": [list(map(float, e)) for e in data.embeddings]})
    objects.to_parquet(tmp_path / "objects.parquet")
    out = tmp_path / "out"
    args = ["files", "--interactions", str(tmp_path / "clicks.parquet"), "--embeddings",
            str(tmp_path / "objects.parquet"), "--delays", "0,1h", "--bootstrap", "10", "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["name"] == "clicks"
    assert report["train_rows"] + report["test_rows"] == len(data.labelled)
    assert report["ndcg_groups"] == 0  # no group column: no ranking metric
    assert main([*args[:-6], "--delays", "0,5x", "--out", str(out)]) == 2
    assert "delay '5x': expected a whole number with a unit" in capsys.readouterr().err
    objects.drop(columns="embedding").to_parquet(tmp_path / "objects.parquet")
    assert main(args) == 2
    assert "needs the columns 'object' and 'embedding'" in capsys.readouterr().err
