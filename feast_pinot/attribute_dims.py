"""An ``ObjectAttribute``'s declared ``dim`` against the vectors its view holds.

A history joins an attribute only where the vector has exactly ``dim``
values; any other length is treated as missing, online and offline alike. A
``dim`` that matches none of the view's vectors thus gives every action no
embedding, and every similarity 0.0, without an error anywhere. It is
detected first when ``feast apply`` runs (the online stores call
:func:`check_attribute_dims` from ``update``) if the attribute view's Parquet
source is already there, and on every read that finds such vectors
(:func:`warn_wrong_dims`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence

import pyarrow.dataset as ds
from feast.base_feature_view import BaseFeatureView
from feast.repo_config import RepoConfig

from feast_pinot.errors import DeclarationError, FeastPinotWarning
from feast_pinot.offline.parts import resolve_path
from feast_pinot.specs import HistorySpec, spec_of

__all__ = ["check_attribute_dims", "first_vector_length", "warn_wrong_dims"]

_SCANNED = 10_000  # rows read at most to find one vector: apply must stay quick


def _fix(spec: HistorySpec, found: int) -> str:
    assert spec.attribute is not None
    return (f"action_history '{spec.name}' declares ObjectAttribute(dim={spec.embedding_dim}) but "
            f"'{spec.attribute.feature_view}.{spec.attribute.feature}' holds {found}-dim vectors, so no action "
            f"would get an embedding and every similarity would be 0.0: declare dim={found}")


def check_attribute_dims(config: RepoConfig, views: Sequence[BaseFeatureView]) -> None:
    """Raise :class:`DeclarationError` for a history whose attribute's local Parquet source has other-length vectors."""
    for view in views:
        spec = spec_of(view, HistorySpec)
        if spec is None or spec.attribute is None:
            continue
        path = resolve_path(config.repo_path, spec.attribute.path)
        if "://" in path or not os.path.exists(path):
            continue  # not written yet, or remote: the reads warn instead
        found = first_vector_length(path, spec.attribute.feature)
        if found is not None and found != spec.embedding_dim:
            raise DeclarationError(_fix(spec, found))


def first_vector_length(path: str, column: str) -> int | None:
    """The length of the first non-null vector in a Parquet file or folder's ``column`` (None: none seen)."""
    dataset = ds.dataset(path, format="parquet")
    if column not in dataset.schema.names:
        return None
    scanned = 0
    for batch in dataset.to_batches(columns=[column], batch_size=1024):
        for value in batch.column(0).drop_null().to_pylist():
            return len(value)
        scanned += batch.num_rows
        if scanned >= _SCANNED:
            break
    return None


def warn_wrong_dims(spec: HistorySpec, lengths: Iterable[int]) -> None:
    """Warn that a read found attribute vectors of ``lengths`` other than the declared ``dim``."""
    wrong = sorted(set(lengths) - {spec.embedding_dim})
    if wrong:
        warnings.warn(_fix(spec, wrong[0]), FeastPinotWarning, stacklevel=2)
