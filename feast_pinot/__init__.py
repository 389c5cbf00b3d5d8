"""feast-pinot: near-real-time action-history features for Feast."""

from feast_pinot.client import push_actions, with_request_ts
from feast_pinot.declarations import Interests, ObjectAttribute, action_history, action_log, windowed_action_features
from feast_pinot.errors import (
    ActionValidationError,
    DeclarationError,
    FeastPinotError,
    OfflineStoreError,
    OnlineStoreError,
)

__all__ = [
    "ActionValidationError",
    "DeclarationError",
    "FeastPinotError",
    "Interests",
    "ObjectAttribute",
    "OfflineStoreError",
    "OnlineStoreError",
    "action_history",
    "action_log",
    "push_actions",
    "windowed_action_features",
    "with_request_ts",
]
