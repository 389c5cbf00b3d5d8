"""The DuckDB engine of the action-log views (``engine: duckdb``, the default).

* Histories asked for by name: one DuckDB range join each
  (:func:`feast_pinot.offline.history.build_histories`).
* Windowed views over a history with stored embeddings (or none): the engine
  of :mod:`feast_pinot.offline.engine` on the sorted, deduplicated log
  (:mod:`feast_pinot.offline.log`), read once per history for all its views.
* Windowed views over a read-time-joined history: the view's own body on each
  row's rebuilt history (the attribute as of the row's time).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from feast_pinot.features import windowed_features
from feast_pinot.offline.engine import EntityRows, windowed_columns
from feast_pinot.offline.engines import ActionRequest, WindowedAsk
from feast_pinot.offline.history import build_histories
from feast_pinot.offline.log import LogCache
from feast_pinot.offline.plan import ROW_ID
from feast_pinot.specs import HISTORY_FEATURES

__all__ = ["DuckDBEngine"]


class DuckDBEngine:
    """Computes action-log views on this machine: DuckDB reads the logs, numpy computes."""

    def columns(self, request: ActionRequest) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ask in request.histories:
            built = build_histories(request.config, ask.view, list(ask.columns), request.plan, ask.columns)
            out.update({column: built[column].to_numpy() for column in ask.columns.values()})
        logs = LogCache(request.config, {w.spec.history for w in request.windowed if w.spec.seen is not None})
        for windowed in request.windowed:
            computed = _windowed(request, logs, windowed)
            out.update({windowed.columns[name]: values for name, values in computed.items()})
        return out


def _windowed(request: ActionRequest, logs: LogCache, ask: WindowedAsk) -> dict[str, Any]:
    plan, spec, hspec = request.plan, ask.spec, ask.history_spec
    needed_by = f"'{ask.view.name}'"
    request_ts = plan.request_ts(spec.request_field, needed_by)
    keys = None if spec.seen is None else plan.keys(spec.seen.candidate_key, f"the seen features of {needed_by}")
    wanted = list(ask.columns)
    if hspec.attribute is not None:  # attributes as of each row's time: run the view on the row's full history
        return _from_histories(request, ask, request_ts, keys, wanted)
    entities = plan.entities(ask.history, hspec.log)
    candidates = None
    if ask.candidates is not None:
        candidates = pa.array(ask.candidates, type=pa.list_(pa.float32()), from_pandas=True)
    rows = EntityRows(entities["actor"].to_numpy(), plan.t, request_ts, candidates, keys)
    return windowed_columns(logs.of(hspec, entities[["actor"]]), hspec, spec, rows, wanted)


def _from_histories(request: ActionRequest, ask: WindowedAsk, request_ts: Any, keys: list[Any] | None,
                    wanted: list[str]) -> dict[str, Any]:
    spec = ask.spec
    lists = build_histories(request.config, ask.history, list(HISTORY_FEATURES), request.plan,
                            {f: f"{spec.history}__{f}" for f in HISTORY_FEATURES})
    inputs = {key: lists[key].tolist() for key in lists.columns if key != ROW_ID}
    inputs[spec.request_field] = list(request_ts)
    if spec.candidate:
        inputs[spec.candidate] = [] if ask.candidates is None else ask.candidates.tolist()
    if spec.seen is not None:
        inputs[spec.seen.candidate_key] = keys or []
    computed = windowed_features(inputs, spec.model_dump_json())
    return {name: computed[name] for name in wanted}
