"""Feast's universal test harness pointed at one online store (``FULL_REPO_CONFIGS_MODULE=repo_configs``).

``UNIVERSAL_STORE`` picks the store: ``sqlite`` (Feast's own, the baseline),
``embedded`` (EmbeddedOnlineStore) or ``pinot`` (PinotOnlineStore on
``PINOT_CONTROLLER_URL`` / ``PINOT_BROKER_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``).
``UNIVERSAL_ALIAS`` registers it under a store name Feast's ``only=[...]``
marks accept (``sqlite``, ``redis``, ``mongodb``), so tests Feast limits to
those stores run against it too. The offline side is Feast's file store.
"""

import os

from tests.universal.feature_repos.integration_test_repo_config import IntegrationTestRepoConfig
from tests.universal.feature_repos.universal.data_sources.file import FileDataSourceCreator

STORE = os.environ.get("UNIVERSAL_STORE", "embedded")


def _online_store() -> dict:
    if STORE == "sqlite":
        return {"type": "sqlite"}
    if STORE == "embedded":
        return {"type": "feast_pinot.online.embedded.EmbeddedOnlineStore", "path": "data/online_store.db"}
    if STORE == "pinot":
        return {"type": "feast_pinot.online.pinot.PinotOnlineStore",
                "controller_url": os.environ["PINOT_CONTROLLER_URL"], "broker_url": os.environ["PINOT_BROKER_URL"],
                "kafka_bootstrap_servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                "wait_for_ingestion": True}  # Feast's tests read right after writing
    raise ValueError(f"UNIVERSAL_STORE must be sqlite, embedded or pinot, not {STORE!r}")


ONLINE_STORE = _online_store()
if os.environ.get("UNIVERSAL_ALIAS"):
    AVAILABLE_ONLINE_STORES = {os.environ["UNIVERSAL_ALIAS"]: (ONLINE_STORE, None)}
    AVAILABLE_OFFLINE_STORES = [("local", FileDataSourceCreator)]
else:
    FULL_REPO_CONFIGS = [IntegrationTestRepoConfig(provider="local", offline_store_creator=FileDataSourceCreator,
                                                   online_store=ONLINE_STORE)]
