"""The public surface of feast_pinot is explicit."""

import feast_pinot


def test_exported_names() -> None:
    assert sorted(feast_pinot.__all__) == sorted([
        "Interests", "ObjectAttribute", "action_log", "action_history", "windowed_action_features",
        "push_actions", "with_request_ts", "FeastPinotError", "DeclarationError",
        "ActionValidationError", "OnlineStoreError", "OfflineStoreError",
    ])
    for name in feast_pinot.__all__:
        assert getattr(feast_pinot, name) is not None


def test_error_tree() -> None:
    for name in ("DeclarationError", "ActionValidationError", "OnlineStoreError", "OfflineStoreError"):
        assert issubclass(getattr(feast_pinot, name), feast_pinot.FeastPinotError)
