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
from feast_pinot.specs import ActionLogSpec
from stream_ingest.marks import FileMarkStore, Marks
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


def read_offline_log(root: Path) -> pa.Table:
    """Every row of every Parquet part under ``root`` (duplicates kept: tests count them)."""
    parts = sorted(root.rglob("*.parquet"))
    if not parts:
        return pa.table({"action_id": pa.array([], pa.string())})
    return pa.concat_tables([pq.read_table(p) for p in parts])


def offline_sink(root: Path, spec: ActionLogSpec, group: str = "g", max_rows: int = 10_000) -> OfflineSink:
    """The offline sink of ``group`` over the log at ``root``, its marks in the log's folder (as the runner has it)."""
    return OfflineSink(root, spec, Marks(FileMarkStore.beside(root, group)), max_rows)
