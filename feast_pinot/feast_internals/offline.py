"""Feast's DuckDB store's private data-source I/O, as the offline store uses it.

The offline store reads and writes data sources as Feast's DuckDB store does
(see :mod:`feast_pinot.feast_internals`).
"""

from __future__ import annotations

from typing import Any

from feast.data_source import DataSource
from feast.infra.offline_stores import duckdb as feast_duckdb

from feast_pinot.feast_internals.table import Internal

__all__ = ["INTERNALS", "read_data_source", "write_data_source"]

INTERNALS: tuple[Internal, ...] = (
    Internal(feast_duckdb, "_read_data_source", ("data_source", "repo_path")),
    Internal(feast_duckdb, "_write_data_source", ("table", "data_source", "repo_path", "mode", "allow_overwrite")),
)


def read_data_source(data_source: DataSource, repo_path: str) -> Any:
    """An ibis table over a data source, as Feast's DuckDB store reads it."""
    return feast_duckdb._read_data_source(data_source=data_source, repo_path=repo_path)


def write_data_source(table: Any, data_source: DataSource, repo_path: str, mode: str = "append",
                      allow_overwrite: bool = False) -> None:
    feast_duckdb._write_data_source(table=table, data_source=data_source, repo_path=repo_path, mode=mode,
                                    allow_overwrite=allow_overwrite)
