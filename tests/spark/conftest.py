"""The parity replay of tests/integration/test_parity.py, for the Spark engine's three-way check."""

from tests.integration.test_parity import parity_log_root, parity_online_store, replay  # noqa: F401
