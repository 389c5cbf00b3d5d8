"""The replay: training data per delay, a model per feature set, metrics with intervals.

For each delay the features of every labelled row come from
``get_historical_features`` as of ``t - delay - 1 ms`` (:mod:`.features`).
The labelled rows are split by time: rows before the ``1 - test_fraction``
quantile of their times train a gradient-boosted classifier, later rows test
it. Each feature set adds one family to the previous one (windows; + decay;
+ interests; + seen), always with the candidate object's embedding; "object
only" (the embedding alone) is the floor no history can explain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feast_pinot.errors import ReplayError
from feast_pinot.replay import metrics
from feast_pinot.replay.data import ReplayData
from feast_pinot.replay.features import FAMILIES, FeatureSettings, ReplayRepo, build_repo
from feast_pinot.replay.metrics import Bootstrap, Estimate

__all__ = ["DEFAULT_DELAYS_MS", "FEATURE_SETS", "Evaluation", "Outcome", "ReplayConfig", "ReplayReport",
           "evaluation_of", "feature_columns", "run_replay", "split"]

_MINUTE, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
DEFAULT_DELAYS_MS = (0, _MINUTE, 10 * _MINUTE, _HOUR, _DAY, 7 * _DAY)
OBJECT_ONLY = "object only"
# Each set adds one family to the one before.
FEATURE_SETS: Mapping[str, tuple[str, ...]] = {
    "windows": FAMILIES[:1], "+ decay": FAMILIES[:2], "+ interests": FAMILIES[:3], "+ seen": FAMILIES}
FULL = "+ seen"


@dataclass(frozen=True)
class ReplayConfig:
    delays_ms: tuple[int, ...] = DEFAULT_DELAYS_MS
    test_fraction: float = 0.2
    bootstrap: int = 500
    seed: int = 0
    ndcg_k: int = 10
    features: FeatureSettings = field(default_factory=FeatureSettings)
    ablation: bool = True  # False: only the full set (and the object-only floor), a fifth of the fits

    @property
    def feature_sets(self) -> Mapping[str, tuple[str, ...]]:
        return FEATURE_SETS if self.ablation else {FULL: FEATURE_SETS[FULL]}

    def __post_init__(self) -> None:
        if not self.delays_ms or any(d < 0 for d in self.delays_ms) or len(set(self.delays_ms)) != len(self.delays_ms):
            raise ReplayError(f"delays must be distinct and >= 0 ms, got {list(self.delays_ms)}")
        if not 0 < self.test_fraction < 1:
            raise ReplayError(f"test_fraction must be between 0 and 1, got {self.test_fraction}")
        if self.bootstrap < 10:
            raise ReplayError(f"bootstrap needs at least 10 replicates, got {self.bootstrap}")


@dataclass(frozen=True)
class Outcome:
    """One feature set at one delay; ``*_change`` is the paired difference to the same set at the first delay."""

    feature_set: str
    delay_ms: int
    auc: Estimate
    log_loss: Estimate
    auc_change: Estimate
    log_loss_change: Estimate
    ndcg: Estimate | None


@dataclass(frozen=True)
class ReplayReport:
    name: str
    train_rows: int
    test_rows: int
    test_actors: int
    ndcg_groups: int
    split_ms: int
    positive_share: float
    outcomes: tuple[Outcome, ...]
    seconds: float
    config: ReplayConfig

    def outcome(self, feature_set: str, delay_ms: int) -> Outcome:
        return next(o for o in self.outcomes if o.feature_set == feature_set and o.delay_ms == delay_ms)


def split(times: np.ndarray, test_fraction: float) -> int:
    """The instant the test period starts: rows at or after it are tested, earlier ones train."""
    cut = int(np.quantile(times, 1 - test_fraction, method="lower"))
    if cut <= times.min():
        raise ReplayError("too few distinct times to split: every row would be tested")
    return cut


def _fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the replay's extra
        raise ReplayError("the replay needs scikit-learn: pip install 'feast-pinot[replay]'") from None
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                           min_samples_leaf=40, l2_regularization=1.0,
                                           early_stopping=False, random_state=seed)
    # One OpenMP thread: on a busy machine more threads spin against each other (10x slower
    # measured on 2 shared cores), and one thread gives the same numbers on any machine.
    with threadpool_limits(1):
        return model.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def feature_columns(frame: pd.DataFrame, repo: ReplayRepo, families: tuple[str, ...]) -> list[str]:
    return [c for c in frame.columns if c.startswith("object_emb_")] + [
        c for family in families for c in repo.features[family]]


@dataclass(frozen=True)
class Evaluation:
    labels: np.ndarray
    train: np.ndarray  # boolean masks over the labelled rows
    test: np.ndarray
    boot: Bootstrap
    groups: np.ndarray | None
    config: ReplayConfig

    def scores(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        x = frame[columns].to_numpy(dtype=np.float64)
        return _fit_predict(x[self.train], self.labels[self.train], x[self.test], self.config.seed)

    def measure(self, p: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Every metric of the test predictions ``p``: its bootstrap replicates and its plain value."""
        y = self.labels[self.test]
        ones = np.ones((1, len(y)))
        replicates = {"auc": metrics.replicated(self.boot, "auc", p, y),
                      "log_loss": metrics.replicated(self.boot, "log_loss", p, y)}
        points = {"auc": float(metrics.auc(p, y, ones)[0]), "log_loss": float(metrics.log_loss(p, y, ones)[0])}
        if self.groups is not None:
            per_group, first = metrics.group_ndcg(p, y, self.groups, self.config.ndcg_k)
            replicates["ndcg"] = metrics.replicated_ndcg(self.boot, per_group, first)
            points["ndcg"] = float(per_group.mean())
        return replicates, points

    def mixed_groups(self) -> int:
        """Candidate groups of the test rows holding both classes (the ones NDCG is computed on)."""
        if self.groups is None:
            return 0
        frame = pd.DataFrame({"group": self.groups, "label": self.labels[self.test]})
        return int((frame.groupby("group")["label"].nunique() == 2).sum())


def _outcome(ev: Evaluation, name: str, delay: int, measured: tuple[dict[str, np.ndarray], dict[str, float]],
             first: tuple[dict[str, np.ndarray], dict[str, float]]) -> Outcome:
    (reps, points), (base, base_points) = measured, first
    ndcg = ev.boot.estimate(reps["ndcg"], points["ndcg"]) if "ndcg" in reps else None
    return Outcome(
        feature_set=name, delay_ms=delay,
        auc=ev.boot.estimate(reps["auc"], points["auc"]),
        log_loss=ev.boot.estimate(reps["log_loss"], points["log_loss"]),
        auc_change=ev.boot.estimate(reps["auc"] - base["auc"], points["auc"] - base_points["auc"]),
        log_loss_change=ev.boot.estimate(reps["log_loss"] - base["log_loss"],
                                         points["log_loss"] - base_points["log_loss"]),
        ndcg=ndcg,
    )


def evaluation_of(data: ReplayData, config: ReplayConfig) -> tuple[Evaluation, int]:
    labelled = data.labelled
    times = labelled["ts_ms"].to_numpy()
    cut = split(times, config.test_fraction)
    labels = labelled["label"].to_numpy(dtype=np.float64)
    train, test = times < cut, times >= cut
    for part, mask in (("training", train), ("test", test)):
        if len(set(labels[mask])) < 2:
            raise ReplayError(f"the {part} period needs labelled rows of both classes")
    actors = labelled["actor"].to_numpy()[test]
    groups = labelled["group"].astype(str).to_numpy()[test] if data.has_groups else None
    boot = Bootstrap.over(actors, config.bootstrap, config.seed)
    return Evaluation(labels, train, test, boot, groups, config), cut


def run_replay(data: ReplayData, config: ReplayConfig, workdir: Path,
               progress: Any = None) -> ReplayReport:
    """Build the repo in ``workdir``, evaluate every feature set at every delay."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    evaluation, cut = evaluation_of(data, config)
    repo = build_repo(workdir, data, config.features)
    outcomes: list[Outcome] = []
    first: dict[str, tuple[dict[str, np.ndarray], dict[str, float]]] = {}  # per set: its first delay's
    for delay in config.delays_ms:
        built = time.perf_counter()
        frame = repo.frame_at(delay)
        say(f"delay {delay} ms: {len(frame)} rows of training data in {time.perf_counter() - built:.1f} s")
        sets = {**config.feature_sets, OBJECT_ONLY: ()} if delay == config.delays_ms[0] else config.feature_sets
        for name, families in sets.items():
            measured = evaluation.measure(evaluation.scores(frame, feature_columns(frame, repo, families)))
            first.setdefault(name, measured)
            outcomes.append(_outcome(evaluation, name, delay, measured, first[name]))
    return ReplayReport(
        name=data.name, train_rows=int(evaluation.train.sum()), test_rows=int(evaluation.test.sum()),
        test_actors=int(evaluation.boot.counts.shape[1]), ndcg_groups=evaluation.mixed_groups(), split_ms=cut,
        positive_share=float(evaluation.labels.mean()), outcomes=tuple(outcomes),
        seconds=time.perf_counter() - started, config=config,
    )
