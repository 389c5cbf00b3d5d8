"""Feast's provider, checking action-log push frames before Feast converts them.

``feature_store.yaml``::

    provider: feast_pinot.provider.ActionLogProvider    # in place of "local"

Feast hands a frame given to ``store.push`` (or ``feast serve``'s ``/push``)
to the provider as it was given, and converts it to Arrow there, before any
store sees it. Arrow turns a boolean among an embedding's floats into 1.0, so
the stores' own validation cannot see it; this provider checks the frame first
and refuses it with :class:`~feast_pinot.errors.ActionValidationError`, naming
every invalid row, before anything is written. Everything else is Feast's
``PassthroughProvider``, which ``local`` (also ``gcp``, ``aws``, ``azure``)
selects.

``PushMode.ONLINE`` and ``ONLINE_AND_OFFLINE`` (the online write comes first)
are covered. ``PushMode.OFFLINE`` alone is converted by ``FeatureStore``
itself before the provider is called: use ``push_actions`` for it.

``feast apply`` also refuses here a history whose ``ObjectAttribute(dim=...)``
differs from the vectors already in the attribute view's Parquet source
(:mod:`feast_pinot.attribute_dims`): Feast shows the online store only the
views served online, and a history is not one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from feast import Entity
from feast.base_feature_view import BaseFeatureView
from feast.infra.passthrough_provider import PassthroughProvider

from feast_pinot import clock
from feast_pinot.actions import embeddings_not_numbers
from feast_pinot.attribute_dims import check_attribute_dims
from feast_pinot.client import validate_frame
from feast_pinot.errors import ActionValidationError
from feast_pinot.specs import ActionLogSpec, spec_of

__all__ = ["ActionLogProvider"]


class ActionLogProvider(PassthroughProvider):
    """Feast's ``PassthroughProvider``; an action log's push frame is checked before Feast converts it."""

    def update_infra(
        self,
        project: str,
        tables_to_delete: Sequence[BaseFeatureView],
        tables_to_keep: Sequence[BaseFeatureView],
        entities_to_delete: Sequence[Entity],
        entities_to_keep: Sequence[Entity],
        partial: bool,
    ) -> None:
        # Every view applied, histories too (the online store is shown only those online): a wrong
        # ObjectAttribute dim is refused before the registry records it.
        check_attribute_dims(self.repo_config, tables_to_keep)
        super().update_infra(project, tables_to_delete, tables_to_keep, entities_to_delete, entities_to_keep, partial)

    def ingest_df(self, feature_view: Any, df: pd.DataFrame, field_mapping: dict[str, str] | None = None) -> None:
        _check_push_frame(feature_view, df)
        super().ingest_df(feature_view, df, field_mapping)

    async def ingest_df_async(
        self, feature_view: Any, df: pd.DataFrame, field_mapping: dict[str, str] | None = None
    ) -> None:
        _check_push_frame(feature_view, df)
        await super().ingest_df_async(feature_view, df, field_mapping)


def _check_push_frame(feature_view: Any, df: pd.DataFrame) -> None:
    """Refuse a frame whose embeddings hold what Arrow would silently turn into numbers."""
    spec = spec_of(feature_view, ActionLogSpec)
    if spec is None or not spec.embedding_dim or "embedding" not in df.columns:
        return
    if embeddings_not_numbers(df["embedding"]):  # the frame is invalid: report every problem, as push_actions does
        _, problems = validate_frame(df, spec, clock.now_ms())
        raise ActionValidationError(problems)
