"""The local cluster's exception tree."""

from __future__ import annotations

__all__ = ["FetchError", "LocalClusterError", "StartError"]


class LocalClusterError(Exception):
    """Base of every error the local Pinot + Kafka raises."""


class FetchError(LocalClusterError):
    """Maven could not bring the artifacts (the message holds Maven's own error lines)."""


class StartError(LocalClusterError):
    """A process did not become ready in time or exited (the message holds its log's tail)."""
