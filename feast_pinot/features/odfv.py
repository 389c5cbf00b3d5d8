"""The windowed on-demand feature view's body: column lists in, output columns out.

Feast runs it on the rows it hands an ODFV (its own online path, and the
offline store for histories with a read-time attribute join); each row is its
own group, over its own history, at its own ``request_ts``. The online store's
ranking read and the offline engines feed the same families with many rows
per group instead.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from feast_pinot.features.base import Output, Rows
from feast_pinot.features.histories import HistoryValues, history_actions, history_groups
from feast_pinot.features.inputs import candidate_matrix, request_ms
from feast_pinot.features.table import compute, output_names
from feast_pinot.specs import WindowedFeaturesSpec

__all__ = ["python_values", "windowed_features"]


@functools.lru_cache(maxsize=64)
def _spec(spec_json: str) -> WindowedFeaturesSpec:
    return WindowedFeaturesSpec.model_validate_json(spec_json)


def _column(inputs: dict[str, Any], spec: WindowedFeaturesSpec, feature: str) -> list[Any] | None:
    full = f"{spec.history}__{feature}"
    return inputs[full] if full in inputs else inputs.get(feature)


def _at(column: list[Any] | None, row: int) -> Any:
    return None if column is None else column[row]


def windowed_features(inputs: dict[str, list[Any]], spec_json: str) -> dict[str, list[Any]]:
    """The ODFV body: python-mode ``inputs`` (column lists) to output columns."""
    spec = _spec(spec_json)
    now_col = inputs[spec.request_field]
    now = np.array([request_ms(v, spec.request_field, i) for i, v in enumerate(now_col)], np.int64)
    n = len(now)
    columns = {f: _column(inputs, spec, f) for f in ("action_ts", "action_verbs", "action_embeddings",
                                                     "action_objects")}
    histories = [HistoryValues(_at(columns["action_ts"], i), _at(columns["action_verbs"], i),
                               _at(columns["action_embeddings"], i) if spec.embedding_dim else None,
                               _at(columns["action_objects"], i) if spec.seen else None) for i in range(n)]
    actions, keys = history_actions(spec, histories)
    groups = history_groups(actions, np.arange(n, dtype=np.int64), now)
    candidates = None
    if spec.candidate and spec.embedding_dim:
        candidates = candidate_matrix(inputs.get(spec.candidate) or [None] * n, spec.embedding_dim)
    row_keys = None
    if spec.seen is not None and keys is not None:
        row_keys = keys.candidates(spec.seen, inputs.get(spec.seen.candidate_key) or [None] * n)
    names = output_names(spec)
    computed = compute(spec, actions, groups, Rows(np.arange(n, dtype=np.int64), candidates, row_keys), names)
    out = {name: python_values(output, computed.column(name, output)) for name, output in names.items()}
    # Feast's online path looks python-mode outputs up by their full name
    # ("view__feature") when full_feature_names=True, and by the short name
    # otherwise, so both are given. (The offline store names training columns
    # itself.)
    out.update({f"{spec.view}__{name}": column for name, column in list(out.items())})
    return out


def python_values(output: Output, values: np.ndarray) -> list[Any]:
    """Computed values as the feature's Python values: ints, floats or float32-rounded lists."""
    if output.value == "vector":
        return values.astype(np.float32).tolist()
    return values.astype(np.int64 if output.value == "int" else np.float64).tolist()
