"""Test support: the offline log and its sink; the raw-event builders and the example's
config (``demo.synthetic``, ``demo.stream``) under the names the tests import.

The jobs example's ``feature_repo/ingest.yaml`` is the base config; tests
point it at their own topics, group, broker and repo copy.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from demo.stream import EXAMPLE_CONFIG, example_config_dict, ingest_config, write_config
from demo.synthetic import application, interaction, raw_of
from feast_pinot.offline.parts import log_parts
from feast_pinot.specs import ActionLogSpec
from stream_ingest.marks import Marks, mark_store_beside
from stream_ingest.sinks import OfflineSink

__all__ = [
    "EXAMPLE_CONFIG",
    "application",
    "example_config_dict",
    "ingest_config",
    "interaction",
    "offline_sink",
    "raw_of",
    "read_offline_log",
    "write_config",
]


def read_offline_log(root: str | Path) -> pa.Table:
    """Every row of every Parquet part under ``root``, a folder or a URI (duplicates kept: tests count them)."""
    parts = log_parts(str(root))
    if not parts:
        return pa.table({"action_id": pa.array([], pa.string())})
    return pa.concat_tables([pq.read_table(p, filesystem=parts.store.fs) for p in parts.paths])


def offline_sink(root: str | Path, spec: ActionLogSpec, group: str = "g", max_rows: int = 10_000) -> OfflineSink:
    """The offline sink of ``group`` over the log at ``root``, its marks next to the log (as the runner has it)."""
    return OfflineSink(root, spec, Marks(mark_store_beside(str(root), group)), max_rows)
