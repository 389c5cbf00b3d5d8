"""feast-pinot: near-real-time action-history features for Feast."""

from feast_pinot.client import push_actions, with_request_ts
from feast_pinot.declarations import ObjectAttribute, action_history, action_log, windowed_action_features
from feast_pinot.errors import (
    ActionValidationError,
    DeclarationError,
    FeastPinotError,
    OfflineStoreError,
    OnlineStoreError,
)

__all__ = [
    "ObjectAttribute",
    "action_log",
    "action_history",
    "windowed_action_features",
    "push_actions",
    "with_request_ts",
    "FeastPinotError",
    "DeclarationError",
    "ActionValidationError",
    "OnlineStoreError",
    "OfflineStoreError",
]
