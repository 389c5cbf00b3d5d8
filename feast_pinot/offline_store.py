"""Where ``feature_store.yaml`` files written for earlier releases find the offline store.

``type: feast_pinot.offline_store.ActionLogOfflineStore`` keeps working; the
store lives in :mod:`feast_pinot.offline.store`
(``type: feast_pinot.offline.ActionLogOfflineStore``).
"""

from feast_pinot.offline.store import ActionLogOfflineStore, ActionLogOfflineStoreConfig

__all__ = ["ActionLogOfflineStore", "ActionLogOfflineStoreConfig"]
