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
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from feast.infra.passthrough_provider import PassthroughProvider

from feast_pinot import clock
from feast_pinot.actions import embeddings_not_numbers
from feast_pinot.client import validate_frame
from feast_pinot.errors import ActionValidationError
from feast_pinot.specs import ActionLogSpec, spec_of

__all__ = ["ActionLogProvider"]


class ActionLogProvider(PassthroughProvider):
    """Feast's ``PassthroughProvider``; an action log's push frame is checked before Feast converts it."""

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
