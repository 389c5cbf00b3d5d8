"""Test support: the offline log; the raw-event builders and the example's
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

__all__ = [
    "EXAMPLE_CONFIG",
    "application",
    "example_config_dict",
    "ingest_config",
    "interaction",
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
