"""The freshness replay: how much worse does a model get when its features are d old?

``python -m feast_pinot.replay movielens|synthetic|files ...`` (docs/freshness.md).
For each delay ``d`` of a grid, every labelled interaction at time ``t`` gets
its point-in-time features from the project's own ``get_historical_features``
as of ``t - d - 1 ms``; a model trained on an early time split is evaluated on
a later one (AUC, log loss, NDCG@k within candidate groups), with bootstrap
intervals over actors, and an ablation adds the feature families one at a time.

Needs the optional extra: ``pip install 'feast-pinot[replay]'`` (scikit-learn,
matplotlib); MovieLens 100k also ``pip install --no-deps recbole==1.2.1``.
"""

from feast_pinot.replay.data import ReplayData
from feast_pinot.replay.features import FeatureSettings
from feast_pinot.replay.run import ReplayConfig, ReplayReport, run_replay

__all__ = ["FeatureSettings", "ReplayConfig", "ReplayData", "ReplayReport", "run_replay"]
